package bolt

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/procstat"
	"github.com/parley-news/parley/internal/projections"
)

// fill writes n entries of 1 KiB into the timeline bucket.
func fill(t *testing.T, st *Store, from, n int) {
	t.Helper()
	val := make([]byte, 1024)
	err := st.Update(context.Background(), func(tx projections.Tx) error {
		b := tx.Bucket(projections.BucketTimeline)
		for i := from; i < from+n; i++ {
			if err := b.Put(binary.BigEndian.AppendUint64(nil, uint64(i)), val); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func size(t *testing.T, st *Store) int64 {
	t.Helper()
	var n int64
	st.View(context.Background(), func(tx projections.Tx) error {
		n = tx.(*boltTx).tx.Size()
		return nil
	})
	return n
}

// TestMapPages reads a file's pages when it is first seen, when it has
// been mapped anew, and when it has grown by a quarter, and not otherwise.
func TestMapPages(t *testing.T) {
	ctx := context.Background()
	st, err := Open(filepath.Join(t.TempDir(), "readmodel.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fill(t, st, 0, 1000)
	var m mapped
	steps := []struct {
		name         string
		before       func()
		noted, walks bool
	}{
		{"first", func() {}, true, true},
		{"unchanged", func() {}, false, false},
		{"grown a little", func() { fill(t, st, 1000, 10) }, false, false},
		// 1 MiB to 8 MiB maps the file anew: bbolt doubles its map.
		{"grown by a quarter, mapped anew", func() { fill(t, st, 2000, 8000) }, true, true},
		{"mapped anew, not grown", func() { m.mapping = 1 }, true, true},
		// Past half the memory left for the page cache (a container's
		// limit), the file is not read: only noted, not to be tried
		// again at every interval.
		{"too large for the memory left", func() {
			memoryRoom = func() (int64, bool) { return size(t, st), true }
			m.mapping = 1
		}, true, false},
		{"too large, unchanged", func() {}, false, false},
	}
	t.Cleanup(func() { memoryRoom = procstat.MemoryRoom })
	for _, s := range steps {
		s.before()
		was := m
		if err := st.mapPages(ctx, &m); err != nil {
			t.Fatal(err)
		}
		if walked := m.walks > was.walks; walked != s.walks {
			t.Errorf("%s: walked %v, want %v", s.name, walked, s.walks)
		}
		if noted := m != was; noted != s.noted {
			t.Errorf("%s: noted %v, want %v", s.name, noted, s.noted)
		}
		if s.noted && m.size != size(t, st) {
			t.Errorf("%s: noted %d bytes of %d", s.name, m.size, size(t, st))
		}
	}
}

// TestKeepMappedBesideAWriter keeps a file mapped while a writer grows it
// through several new maps (run with -race), and stops when its context
// ends and when the store is closed.
func TestKeepMappedBesideAWriter(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "readmodel.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { st.KeepMapped(ctx, time.Millisecond); close(done) }()
	for i := range 200 {
		fill(t, st, i*100, 100) // 20 MiB in all
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("KeepMapped went on after its context ended")
	}

	done = make(chan struct{})
	go func() { st.KeepMapped(context.Background(), time.Millisecond); close(done) }()
	fill(t, st, 20000, 100)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("KeepMapped went on after the store was closed")
	}
}
