package projections

import (
	"bytes"
	"context"
	"slices"
	"sort"
	"sync"
)

// Mem is a Store in memory: the simple model that the bbolt store is
// tested against, and the store of tests that need no file.
type Mem struct {
	mu      sync.RWMutex
	buckets map[string]*memBucket
}

var _ Store = (*Mem)(nil)

// NewMem returns an empty in-memory store with every bucket in Buckets.
func NewMem() *Mem {
	m := &Mem{buckets: map[string]*memBucket{}}
	for _, b := range Buckets {
		m.buckets[b] = &memBucket{}
	}
	return m
}

// View runs fn with the store locked for reading.
func (m *Mem) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return fn(memTx{m: m, buckets: m.buckets, readOnly: true})
}

// Update runs fn on a copy of the store and keeps the copy only if fn
// succeeds, as a rolled-back transaction leaves nothing behind.
func (m *Mem) Update(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	work := make(map[string]*memBucket, len(m.buckets))
	for name, b := range m.buckets {
		work[name] = &memBucket{keys: slices.Clone(b.keys), vals: slices.Clone(b.vals)}
	}
	if err := fn(memTx{m: m, buckets: work}); err != nil {
		return err
	}
	m.buckets = work
	return nil
}

type memTx struct {
	m        *Mem
	buckets  map[string]*memBucket
	readOnly bool
}

func (t memTx) Bucket(name string) Bucket {
	b, ok := t.buckets[name]
	if !ok {
		if t.readOnly {
			return &memBucket{readOnly: true}
		}
		b = &memBucket{}
		t.buckets[name] = b
	}
	if t.readOnly {
		return &memBucket{keys: b.keys, vals: b.vals, readOnly: true}
	}
	return b
}

type memBucket struct {
	keys     [][]byte
	vals     [][]byte
	readOnly bool
}

func (b *memBucket) find(k []byte) (int, bool) {
	i := sort.Search(len(b.keys), func(i int) bool { return bytes.Compare(b.keys[i], k) >= 0 })
	return i, i < len(b.keys) && bytes.Equal(b.keys[i], k)
}

func (b *memBucket) Get(k []byte) []byte {
	if i, ok := b.find(k); ok {
		return b.vals[i]
	}
	return nil
}

func (b *memBucket) Put(k, v []byte) error {
	if b.readOnly {
		return errReadOnly
	}
	k, v = bytes.Clone(k), bytes.Clone(v)
	if v == nil {
		v = []byte{}
	}
	i, ok := b.find(k)
	if ok {
		b.vals[i] = v
		return nil
	}
	b.keys = slices.Insert(b.keys, i, k)
	b.vals = slices.Insert(b.vals, i, v)
	return nil
}

func (b *memBucket) Delete(k []byte) error {
	if b.readOnly {
		return errReadOnly
	}
	if i, ok := b.find(k); ok {
		b.keys = slices.Delete(b.keys, i, i+1)
		b.vals = slices.Delete(b.vals, i, i+1)
	}
	return nil
}

func (b *memBucket) Cursor() Cursor { return &memCursor{b: b, i: -1} }

type memCursor struct {
	b *memBucket
	i int
}

func (c *memCursor) at() ([]byte, []byte) {
	if c.i < 0 || c.i >= len(c.b.keys) {
		c.i = max(-1, min(c.i, len(c.b.keys)))
		return nil, nil
	}
	return c.b.keys[c.i], c.b.vals[c.i]
}

func (c *memCursor) First() ([]byte, []byte) { c.i = 0; return c.at() }
func (c *memCursor) Last() ([]byte, []byte)  { c.i = len(c.b.keys) - 1; return c.at() }
func (c *memCursor) Next() ([]byte, []byte)  { c.i++; return c.at() }
func (c *memCursor) Prev() ([]byte, []byte)  { c.i--; return c.at() }
func (c *memCursor) Seek(k []byte) ([]byte, []byte) {
	c.i, _ = c.b.find(k)
	return c.at()
}
