package bolt

import (
	"bytes"
	"context"
	"errors"
	"os"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/parley-news/parley/internal/procstat"
)

// KeepMapped reads every page of the file through bbolt's memory map, and
// again whenever bbolt maps the file anew or the file has grown by a
// quarter since, checking every interval until ctx ends or the store is
// closed. A file larger than half the memory the page cache could take
// (the system's available memory, or a container's limit) is left to be
// read as queries need it.
//
// The process's first read of each page of a map costs a page fault, even
// when the kernel holds the page in its cache. A query reads a few pages
// at each of a couple of hundred places in the file: a state answer over
// a model of 1M events took 1.7 to 3.4 ms while its pages faulted in, and
// 0.5 to 0.7 ms once they had (BenchmarkStateAnswer, a first run against
// the runs after it). Without this, a projector would pay that on its first
// thousands of queries after a start, a rebuild, or each time its growing
// file is mapped anew (every GiB past the first). The pages are the
// kernel's page cache, shared and reclaimable, not the process's heap;
// they do show in its resident set.
func (s *Store) KeepMapped(ctx context.Context, interval time.Duration) {
	var m mapped
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		// A file cut short faults on its missing pages: not walked.
		if err := s.CheckFile(); err != nil {
			return
		}
		if err := s.mapPages(ctx, &m); err != nil {
			return // closed, or ctx ended
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// mapped is what KeepMapped last read.
type mapped struct {
	mapping uintptr // the address the file was mapped at
	size    int64   // the file's size in use then
	walks   int     // how many times its pages were read
}

// mapPages reads every page of the file if it has been mapped anew or has
// grown by a quarter since the last time.
func (s *Store) mapPages(ctx context.Context, m *mapped) error {
	var (
		at    uintptr
		size  int64
		names [][]byte
	)
	err := s.db.View(func(tx *bbolt.Tx) error {
		at, size = s.db.Info().Data, tx.Size()
		if at == m.mapping && size < m.size+m.size/4 {
			return nil
		}
		return tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			names = append(names, bytes.Clone(name)) // name is in the map
			return nil
		})
	})
	if err != nil || names == nil {
		return err
	}
	if room, ok := memoryRoom(); ok && size > room/2 {
		// The file would take the memory of the rest, or the container's
		// limit: its pages would push one another out, and the heap's.
		// Tried again when it is mapped anew or has grown.
		m.mapping, m.size = at, size
		return nil
	}
	if err := readAhead(ctx, s.path, size); err != nil {
		return err
	}
	// One bucket a transaction: while a read transaction lasts, a writer
	// that must map the grown file anew waits for it.
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := s.db.View(func(tx *bbolt.Tx) error {
			if s.db.Info().Data != at {
				return errRemapped
			}
			if b := tx.Bucket(name); b != nil {
				b.Stats() // walks every page of the bucket
			}
			return nil
		})
		if err == errRemapped {
			return nil // the next round reads the new map
		}
		if err != nil {
			return err
		}
	}
	m.mapping, m.size = at, size
	m.walks++
	return nil
}

var errRemapped = errors.New("mapped anew")

// memoryRoom is procstat.MemoryRoom, or the tests' own.
var memoryRoom = procstat.MemoryRoom

// readAhead reads the first size bytes of the file at path, in file
// order, so that the kernel holds them in its cache: a walk of a B-tree
// reads its pages in key order, which on a file the cache does not hold is
// random reads (19 s for a model of 1M events here, against 6 s read in
// order, and 0.3 s to read it again once it is cached).
func readAhead(ctx context.Context, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // the walk reads what it needs all the same
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := f.ReadAt(buf, off); err != nil {
			return nil // io.EOF: the file is shorter than bbolt says
		}
	}
	return nil
}
