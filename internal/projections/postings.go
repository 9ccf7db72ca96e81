package projections

import (
	"bytes"
	"errors"
	"slices"
	"sort"
)

// The event-time indexes (timeline, by_issue, by_party, by_type) hold
// postings packed into blocks: an event writes one to each of them, some
// seven an event, and as entries of their own they were half of what a
// rebuild wrote to bbolt (a copy of a 1M-event model into a fresh file
// took half the time without them). A block is keyed by its prefix (the
// name and 0x00; none on the timeline) and the key suffix of its first
// posting, and holds postings in key order, each
//
//	occurred(8) seq(8) version(2) validity(16)
//
// The blocks of a prefix start at its first posting and at every posting
// whose sequence is a boundary (1 in 32, by a hash), so that how postings
// fall into blocks depends on the postings alone, not on the batches that
// wrote them: a rebuild writes the same bytes as the live projector, and
// replicas the same as each other.
//
// Readers see the postings as entries through postingCursor (the key the
// prefix and suffix, the value the validity); the apply loop writes them
// through a postingWriter, which keeps the blocks a batch touches in
// memory and writes each once, when the batch ends.

const postingLen = entryKeyLen + validityLen

// packed names the buckets that hold postings.
var packed = map[string]bool{BucketTimeline: true, BucketByIssue: true, BucketByParty: true, BucketByType: true}

// boundary says whether a posting of the sequence starts a block: about
// one in 32, spread by a multiplicative hash so that a block's length does
// not follow the order events were appended in.
func boundary(suffix []byte) bool {
	return (u64(suffix[8:])*0x9e3779b97f4a7c15)>>59 == 0
}

// cursorOf is a cursor on a bucket as entries: postingCursor on a packed
// bucket.
func cursorOf(tx Tx, bucket string) Cursor {
	if packed[bucket] {
		return &postingCursor{c: tx.Bucket(bucket).Cursor()}
	}
	return tx.Bucket(bucket).Cursor()
}

// postingCursor walks the postings of a packed bucket as if each were an
// entry. A key it returns is its own buffer, valid until its next move; a
// value is the transaction's, as any cursor's.
type postingCursor struct {
	c      Cursor
	prefix []byte // of the block under the cursor
	block  []byte // its postings
	i      int    // the posting under the cursor
	key    []byte
}

// at puts the cursor on posting i of the block at bk, bv; nil past
// either end.
func (p *postingCursor) at(bk, bv []byte, i int) ([]byte, []byte) {
	if bk == nil || len(bk) < entryKeyLen || len(bv) < postingLen || len(bv)%postingLen != 0 {
		p.block = nil
		return nil, nil
	}
	p.prefix, p.block = bk[:len(bk)-entryKeyLen], bv
	n := len(bv) / postingLen
	if i < 0 {
		i = n - 1
	}
	p.i = i
	return p.entry()
}

func (p *postingCursor) entry() ([]byte, []byte) {
	o := p.i * postingLen
	p.key = append(append(p.key[:0], p.prefix...), p.block[o:o+entryKeyLen]...)
	return p.key, p.block[o+entryKeyLen : o+postingLen]
}

func (p *postingCursor) First() ([]byte, []byte) { k, v := p.c.First(); return p.at(k, v, 0) }
func (p *postingCursor) Last() ([]byte, []byte)  { k, v := p.c.Last(); return p.at(k, v, -1) }

func (p *postingCursor) Next() ([]byte, []byte) {
	if p.block == nil {
		return nil, nil
	}
	if p.i+1 < len(p.block)/postingLen {
		p.i++
		return p.entry()
	}
	k, v := p.c.Next()
	return p.at(k, v, 0)
}

func (p *postingCursor) Prev() ([]byte, []byte) {
	if p.block == nil {
		return nil, nil
	}
	if p.i > 0 {
		p.i--
		return p.entry()
	}
	k, v := p.c.Prev()
	return p.at(k, v, -1)
}

// Seek puts the cursor on the first posting at or after seek.
func (p *postingCursor) Seek(seek []byte) ([]byte, []byte) {
	bk, bv := p.c.Seek(seek)
	if bk != nil && bytes.Equal(bk, seek) {
		return p.at(bk, bv, 0)
	}
	// The posting sought may be inside the block before.
	var pk, pv []byte
	if bk == nil {
		pk, pv = p.c.Last()
	} else {
		pk, pv = p.c.Prev()
	}
	if k, _ := p.at(pk, pv, 0); k != nil {
		if i := p.search(seek); i < len(p.block)/postingLen {
			p.i = i
			return p.entry()
		}
	}
	// Every posting of the block before is before seek: the block at or
	// after it starts the answer. The cursor stands on the block before
	// (or nowhere), so step to it again.
	if pk == nil {
		k, v := p.c.First()
		return p.at(k, v, 0)
	}
	k, v := p.c.Next()
	return p.at(k, v, 0)
}

// search is the index of the first posting of the block under the cursor
// whose key is at or after seek.
func (p *postingCursor) search(seek []byte) int {
	return searchPostings(p.block, func(suffix []byte) bool { return comparePosting(p.prefix, suffix, seek) < 0 })
}

// searchPostings is the index of the first posting of ps whose key suffix
// is not below, as below says, or the number of postings.
func searchPostings(ps []byte, below func(suffix []byte) bool) int {
	return sort.Search(len(ps)/postingLen, func(i int) bool {
		o := i * postingLen
		return !below(ps[o : o+entryKeyLen])
	})
}

// comparePosting compares the key prefix·suffix with k without making it.
func comparePosting(prefix, suffix, k []byte) int {
	n := min(len(prefix), len(k))
	if c := bytes.Compare(prefix, k[:n]); c != 0 || n < len(prefix) {
		if c == 0 {
			return 1 // k is a proper prefix of the prefix
		}
		return c
	}
	return bytes.Compare(suffix, k[n:])
}

// postingWriter is a packed bucket as the apply loop writes it in one
// batch: Put and Get take an entry's key (prefix and suffix) and value
// (the validity), on blocks read once into memory; flush writes the
// blocks changed, split where postings start new blocks.
type postingWriter struct {
	b      Bucket
	blocks map[string]*block // by the key the block had in b; "\x00new:"+prefix for a prefix without one
	last   map[string]*reach // by prefix: the block a key of that prefix last went to, and its range
	dirty  []*block
	// added holds the suffixes put in this batch that no block in b had,
	// in key order: with b, the latest key at or before a time (late).
	added [][]byte
}

type block struct {
	orig     []byte // its key in b; nil for a new block
	prefix   []byte
	postings []byte
	dirty    bool
}

// reach is the keys that go to a block: lo up to, not including, hi
// (nil: no end).
type reach struct {
	blk    *block
	lo, hi []byte
}

func newPostingWriter(b Bucket) *postingWriter {
	return &postingWriter{b: b, blocks: map[string]*block{}, last: map[string]*reach{}}
}

// Put sets the validity of the posting of the entry key k.
func (w *postingWriter) Put(k, v []byte) error {
	if len(k) < entryKeyLen || len(v) != validityLen {
		return errBadPosting
	}
	prefix, suffix := k[:len(k)-entryKeyLen], k[len(k)-entryKeyLen:]
	blk := w.locate(prefix, k)
	i, found := blk.find(suffix)
	o := i * postingLen
	if !found {
		blk.postings = slices.Insert(blk.postings, o, make([]byte, postingLen)...)
		copy(blk.postings[o:], suffix)
		if len(prefix) == 0 {
			w.add(suffix)
		}
	}
	copy(blk.postings[o+entryKeyLen:], v)
	if !blk.dirty {
		blk.dirty = true
		w.dirty = append(w.dirty, blk)
	}
	return nil
}

// Get returns the validity of the posting of the entry key k, or nil.
func (w *postingWriter) Get(k []byte) []byte {
	if len(k) < entryKeyLen {
		return nil
	}
	blk := w.locate(k[:len(k)-entryKeyLen], k)
	i, found := blk.find(k[len(k)-entryKeyLen:])
	if !found {
		return nil
	}
	o := i * postingLen
	return blk.postings[o+entryKeyLen : o+postingLen]
}

var errBadPosting = errors.New("malformed posting: an entry key of the event-time indexes and a validity")

// Delete is not for postings: they are closed, never deleted.
func (w *postingWriter) Delete([]byte) error {
	return errors.New("delete on an event-time index: postings are closed, not deleted")
}

// Cursor walks the postings as they were before the batch.
func (w *postingWriter) Cursor() Cursor { return &postingCursor{c: w.b.Cursor()} }

// locate returns the block a key of the prefix belongs to: the block of
// b whose first key is the greatest at or before it, the prefix's first
// block for a key before all of them, or a new block for a prefix that
// has none. Blocks keep the keys they had in b until flush, so that b
// tells which block a key goes to all batch long.
func (w *postingWriter) locate(prefix, k []byte) *block {
	if s := w.last[string(prefix)]; s != nil && bytes.Compare(k, s.lo) >= 0 && (s.hi == nil || bytes.Compare(k, s.hi) < 0) {
		return s.blk
	}
	of := func(bk []byte) bool {
		return bk != nil && len(bk) == len(prefix)+entryKeyLen && bytes.HasPrefix(bk, prefix)
	}
	c := w.b.Cursor()
	bk, bv := c.Seek(k)
	var s reach
	switch {
	case bk != nil && bytes.Equal(bk, k):
		s.lo = bk
		s.blk = w.load(prefix, bk, bv)
		s.hi, _ = c.Next()
	default:
		var pk, pv []byte
		if bk == nil {
			pk, pv = c.Last()
		} else {
			pk, pv = c.Prev()
		}
		switch {
		case of(pk):
			s.lo, s.hi = pk, bk
			s.blk = w.load(prefix, pk, pv)
		case of(bk):
			// Before the prefix's first block: it takes the key.
			s.lo = prefix
			s.blk = w.load(prefix, bk, bv)
			c.Seek(bk)
			s.hi, _ = c.Next()
		default:
			s.lo = prefix
			s.blk = w.fresh(prefix)
		}
	}
	if !of(s.hi) {
		s.hi = nil
	} else {
		s.hi = slices.Clone(s.hi)
	}
	s.lo = slices.Clone(s.lo)
	w.last[string(prefix)] = &s
	return s.blk
}

// load returns the block at key bk of b, read into memory once.
func (w *postingWriter) load(prefix, bk, bv []byte) *block {
	if blk := w.blocks[string(bk)]; blk != nil {
		return blk
	}
	blk := &block{orig: slices.Clone(bk), prefix: slices.Clone(prefix), postings: slices.Clone(bv)}
	w.blocks[string(bk)] = blk
	return blk
}

// fresh returns the new block of a prefix that had none in b.
func (w *postingWriter) fresh(prefix []byte) *block {
	id := "\x00new:" + string(prefix)
	if blk := w.blocks[id]; blk != nil {
		return blk
	}
	blk := &block{prefix: slices.Clone(prefix)}
	w.blocks[id] = blk
	return blk
}

// find is the index of the posting of a suffix in the block, or where it
// would go.
func (blk *block) find(suffix []byte) (int, bool) {
	i := searchPostings(blk.postings, func(s []byte) bool { return bytes.Compare(s, suffix) < 0 })
	o := i * postingLen
	return i, o < len(blk.postings) && bytes.Equal(blk.postings[o:o+entryKeyLen], suffix)
}

// add records a timeline suffix put in this batch, in key order (most
// arrive in order: appending is the common case).
func (w *postingWriter) add(suffix []byte) {
	i, _ := slices.BinarySearchFunc(w.added, suffix, bytes.Compare)
	w.added = slices.Insert(w.added, i, slices.Clone(suffix))
}

// latestBefore returns the key time of the latest posting at or before
// the key time t, in b and in this batch, and whether there is one.
func (w *postingWriter) latestBefore(t uint64) (uint64, bool) {
	var best uint64
	var ok bool
	if k, _ := lastBefore(w.Cursor(), u64Key(t+1)); len(k) >= 8 {
		best, ok = u64(k), true
	}
	i, _ := slices.BinarySearchFunc(w.added, u64Key(t+1), bytes.Compare)
	if i > 0 {
		if a := u64(w.added[i-1]); !ok || a > best {
			best, ok = a, true
		}
	}
	return best, ok
}

// flush writes the blocks the batch changed, each split where a posting
// after its first is a boundary, under the key of its first posting.
func (w *postingWriter) flush() error {
	for _, blk := range w.dirty {
		if blk.orig != nil {
			if err := w.b.Delete(blk.orig); err != nil {
				return err
			}
		}
		ps := blk.postings
		start := 0
		n := len(ps) / postingLen
		for i := 1; i <= n; i++ {
			if i < n && !boundary(ps[i*postingLen:]) {
				continue
			}
			piece := ps[start*postingLen : i*postingLen : i*postingLen]
			if err := w.b.Put(concat(blk.prefix, piece[:entryKeyLen]), piece); err != nil {
				return err
			}
			start = i
		}
	}
	w.dirty = nil
	return nil
}
