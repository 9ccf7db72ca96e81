package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
)

// ErrShort is returned for a file that ends before the pages its own meta
// page counts: truncated, or a copy stopped midway. bbolt maps the file
// and reads past its end as memory, which faults and kills the process
// (no recover reaches it), at every start.
var ErrShort = errors.New("read model file is shorter than its pages")

// bbolt's meta page, as it lays it out on disk (go.etcd.io/bbolt's
// internal/common): a 16-byte page header, then magic, version, page
// size, flags (4 bytes each), the root bucket (16), the freelist page,
// the high water mark and the transaction id (8 each), and a checksum of
// what precedes it.
const (
	metaAt       = 16
	metaMagic    = 0xED0CDAED
	metaVersion  = 2
	metaSumBytes = 56 // the meta's fields before its checksum
)

type metaPage struct {
	pageSize  uint32
	highWater uint64
	txid      uint64
}

// readMeta reads the meta page at off, or reports that it is not a
// valid one.
func readMeta(f *os.File, off int64) (metaPage, bool) {
	buf := make([]byte, metaAt+metaSumBytes+8)
	if _, err := f.ReadAt(buf, off); err != nil {
		return metaPage{}, false
	}
	m := buf[metaAt:]
	le := binary.NativeEndian // as bbolt writes it
	h := fnv.New64a()
	h.Write(m[:metaSumBytes])
	if le.Uint32(m[0:]) != metaMagic || le.Uint32(m[4:]) != metaVersion || le.Uint64(m[metaSumBytes:]) != h.Sum64() {
		return metaPage{}, false
	}
	return metaPage{pageSize: le.Uint32(m[8:]), highWater: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, true
}

// checkLength returns ErrShort when the file at path ends before the high
// water mark of the meta page bbolt would use (the valid one of the
// higher transaction). A file with no valid meta page is left to bbolt,
// which refuses it without reading further; so is a missing one.
func checkLength(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	m0, ok0 := readMeta(f, 0)
	size := int64(os.Getpagesize())
	if ok0 {
		size = int64(m0.pageSize)
	}
	m1, ok1 := readMeta(f, size)
	use, ok := m0, ok0
	if ok1 && (!ok0 || m1.txid > m0.txid) {
		use, ok = m1, true
	}
	if !ok {
		return nil
	}
	if need := int64(use.highWater) * int64(use.pageSize); fi.Size() < need {
		return fmt.Errorf("%s: %w: %d bytes, its pages reach %d", path, ErrShort, fi.Size(), need)
	}
	return nil
}
