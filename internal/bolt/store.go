// Package bolt keeps Parley's read model in a bbolt file: the adapter that
// gives package projections its ordered key-value transactions, plus the
// file's own life (open, check, swap in a rebuilt file).
package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/parley-news/parley/internal/projections"
)

// Options configures a Store. The zero value is a durable store.
type Options struct {
	// NoSync skips fsync on commit. A rebuild writes a new file that is
	// synced once and swapped in when complete, so it need not sync every
	// batch; a live read model must.
	NoSync bool
	// Timeout is how long Open waits for another process's lock on the
	// file; 0 means 1 second.
	Timeout time.Duration
	// Buckets are created besides the projection's own, for adapters that
	// keep their state in the same file (subscriptions, the outbox).
	Buckets []string
	// ReadOnly opens an existing file for reading only, beside other
	// readers, and leaves its bytes as they are: even a transaction that
	// writes nothing gives bbolt's meta page a new id, which would break
	// the file's seal.
	ReadOnly bool
}

// ErrLocked is returned when another process holds the file.
var ErrLocked = errors.New("read model file is in use by another process")

// RemoveStale removes the bbolt file at path unless another process has
// it open (ErrLocked): what a rebuild killed before its swap leaves
// behind, a partial copy nothing reads. It reports whether there was a
// file to remove.
func RemoveStale(path string) (bool, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	// A shared lock, which a writer's exclusive one refuses; a file too
	// damaged to open is stale all the same, and one cut short is never
	// a rebuild's at work (bbolt grows a file before it writes there),
	// nor opened: it would fault.
	if !errors.Is(checkLength(path), ErrShort) {
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 50 * time.Millisecond})
		if errors.Is(err, bbolt.ErrTimeout) {
			return false, fmt.Errorf("remove %s: %w", path, ErrLocked)
		}
		if err == nil {
			db.Close()
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("remove %s: %w", path, err)
	}
	return true, nil
}

// ErrFileLost is returned when the path of an open store no longer names
// the file it opened: removed, replaced by another file, or cut short.
// What is committed to the open file after that is lost at its close, and
// a cut file's pages fault when read.
var ErrFileLost = errors.New("read model file was removed, replaced or truncated while open")

// Store is a read model in a bbolt file.
type Store struct {
	db   *bbolt.DB
	path string
	file os.FileInfo  // the file opened, to tell it from one put in its place
	used atomic.Int64 // bytes in use as of the last commit: the file is never shorter
}

var _ projections.Store = (*Store)(nil)

// Open opens or creates the read model file at path and creates its
// buckets.
func Open(path string, opts Options) (*Store, error) {
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = time.Second
	}
	// Before bbolt maps it: a file cut short would fault, not fail.
	if err := checkLength(path); err != nil {
		return nil, err
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:  timeout,
		ReadOnly: opts.ReadOnly,
		NoSync:   opts.NoSync,
		// A file written without fsync has no use for one when it grows.
		NoGrowSync: opts.NoSync,
		// The freelist is written with each commit, so that opening a large
		// file does not walk all of it to find the free pages.
		FreelistType: bbolt.FreelistMapType,
	})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if opts.ReadOnly || hasBuckets(db, projections.Buckets, opts.Buckets) {
		// Nothing to create: no transaction, which would rewrite the meta
		// page of a file that may be sealed.
		return newStore(db, path)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, names := range [][]string{projections.Buckets, opts.Buckets} {
			for _, name := range names {
				if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
					return fmt.Errorf("create bucket %s: %w", name, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return newStore(db, path)
}

func newStore(db *bbolt.DB, path string) (*Store, error) {
	// Stat'ed by name right after the open: bbolt keeps its descriptor to
	// itself, and nothing swaps the file in between but by hand.
	fi, err := os.Stat(path)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{db: db, path: path, file: fi}
	_ = db.View(func(tx *bbolt.Tx) error {
		s.used.Store(tx.Size())
		return nil
	})
	return s, nil
}

// CheckFile returns an error wrapping ErrFileLost when the store's path no
// longer names the file it has open, or that file is shorter than what
// its commits wrote. It reads only the file's metadata, never its pages.
func (s *Store) CheckFile() error {
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: %w: it is gone", s.path, ErrFileLost)
	case err != nil:
		return fmt.Errorf("check %s: %w", s.path, err)
	case !os.SameFile(s.file, fi):
		return fmt.Errorf("%s: %w: another file is in its place", s.path, ErrFileLost)
	case fi.Size() < s.used.Load():
		return fmt.Errorf("%s: %w: %d bytes long, its commits wrote %d", s.path, ErrFileLost, fi.Size(), s.used.Load())
	}
	return nil
}

// hasBuckets reports whether every named bucket exists.
func hasBuckets(db *bbolt.DB, lists ...[]string) bool {
	all := true
	_ = db.View(func(tx *bbolt.Tx) error {
		for _, names := range lists {
			for _, name := range names {
				all = all && tx.Bucket([]byte(name)) != nil
			}
		}
		return nil
	})
	return all
}

// Path is the file's path.
func (s *Store) Path() string { return s.path }

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(projections.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(tx *bbolt.Tx) error { return fn(&boltTx{tx: tx}) })
}

// Update runs fn in a read-write transaction, committed (and, unless
// NoSync, fsynced) when fn returns nil.
func (s *Store) Update(ctx context.Context, fn func(projections.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		if err := fn(&boltTx{tx: tx}); err != nil {
			return err
		}
		// Before the commit's own pages: a lower bound of the file's
		// length, which is all CheckFile needs.
		s.used.Store(tx.Size())
		return nil
	})
}

// Sync flushes the file to disk: the end of a rebuild written with NoSync.
func (s *Store) Sync() error { return s.db.Sync() }

// Check runs bbolt's consistency check over the whole file.
func (s *Store) Check(ctx context.Context) error {
	return s.db.View(func(tx *bbolt.Tx) error {
		// The checker runs in a goroutine that reads the transaction: drain
		// it whole before the transaction closes.
		var first error
		for err := range tx.Check() {
			if first == nil {
				first = fmt.Errorf("check %s: %w", s.path, err)
			}
		}
		if first != nil {
			return first
		}
		return ctx.Err()
	})
}

// Size is the file's size in bytes.
func (s *Store) Size() int64 {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

type boltTx struct {
	tx      *bbolt.Tx
	records *recordsBucket // the events bucket of a write transaction, once asked for
}

func (t *boltTx) Bucket(name string) projections.Bucket {
	b := t.tx.Bucket([]byte(name))
	if b == nil {
		// Every bucket is created by Open; a missing one is a file from
		// elsewhere. An empty bucket answers reads and fails writes.
		return missingBucket(name)
	}
	switch {
	case appendOrder[name]:
		// Keys that arrive in order leave pages half empty at bbolt's
		// default fill of 50%: fill them.
		b.FillPercent = appendFill
	case name == projections.BucketEvents && t.tx.Writable():
		// Event ids arrive in order when their producer makes them so
		// (a date first, a counter): then records are appended, and
		// filled like the other appends. Ids in no order fill pages at
		// the default, which leaves room for the next insert.
		if t.records == nil {
			t.records = &recordsBucket{boltBucket: boltBucket{b}}
		}
		return t.records
	}
	return boltBucket{b}
}

// appendFill is the fill of pages whose keys mostly arrive in order.
const appendFill = 0.95

// appendOrder are the buckets whose keys mostly arrive in increasing
// order: stream sequences, recorded times, and event times of a timeline
// told mostly in order (claims are in event-time order within each
// issue and party, and each pair's newest page takes its inserts).
var appendOrder = map[string]bool{
	projections.BucketSeqs: true, projections.BucketRecorded: true, projections.BucketDevelopments: true,
	projections.BucketSkipped: true, projections.BucketTimeline: true, projections.BucketByType: true,
	projections.BucketByIssue: true, projections.BucketByParty: true,
	projections.BucketClaims: true,
}

type boltBucket struct{ b *bbolt.Bucket }

func (b boltBucket) Get(k []byte) []byte        { return b.b.Get(k) }
func (b boltBucket) Put(k, v []byte) error      { return b.b.Put(k, v) }
func (b boltBucket) Delete(k []byte) error      { return b.b.Delete(k) }
func (b boltBucket) Cursor() projections.Cursor { return b.b.Cursor() }

// recordsBucket is the events bucket in a write transaction. It fills
// pages like an append-order bucket for as long as every new key of the
// transaction sorts after the bucket's last, and at bbolt's default once
// one does not. bbolt reads the fill when it commits, and gives every
// Bucket call of a transaction the same *bbolt.Bucket, so the last
// setting is the one used.
type recordsBucket struct {
	boltBucket
	last       []byte // the largest key; nil until the first Put asks
	outOfOrder bool
}

func (b *recordsBucket) Put(k, v []byte) error {
	if !b.outOfOrder {
		if b.last == nil { // keys are never empty: nil is "not asked yet"
			last, _ := b.b.Cursor().Last()
			b.last = bytes.Clone(last)
		}
		switch c := bytes.Compare(k, b.last); {
		case c > 0:
			b.last = append(b.last[:0], k...)
			b.b.FillPercent = appendFill
		case c < 0 && b.b.Get(k) == nil:
			b.outOfOrder = true
			b.b.FillPercent = bbolt.DefaultFillPercent
		}
	}
	return b.b.Put(k, v)
}

type missingBucket string

func (m missingBucket) Get([]byte) []byte { return nil }
func (m missingBucket) Put([]byte, []byte) error {
	return fmt.Errorf("bucket %s: %w", string(m), bbolt.ErrBucketNotFound)
}
func (m missingBucket) Delete([]byte) error {
	return fmt.Errorf("bucket %s: %w", string(m), bbolt.ErrBucketNotFound)
}
func (m missingBucket) Cursor() projections.Cursor { return emptyCursor{} }

type emptyCursor struct{}

func (emptyCursor) First() ([]byte, []byte)      { return nil, nil }
func (emptyCursor) Last() ([]byte, []byte)       { return nil, nil }
func (emptyCursor) Seek([]byte) ([]byte, []byte) { return nil, nil }
func (emptyCursor) Next() ([]byte, []byte)       { return nil, nil }
func (emptyCursor) Prev() ([]byte, []byte)       { return nil, nil }

// CopyBuckets copies the named buckets from one store to another: the state
// that adapters keep beside the projection (subscriptions, deliveries),
// which a rebuild from the stream cannot recreate.
func CopyBuckets(ctx context.Context, from, to *Store, names []string) error {
	return from.db.View(func(src *bbolt.Tx) error {
		return to.db.Update(func(dst *bbolt.Tx) error {
			for _, name := range names {
				sb := src.Bucket([]byte(name))
				if sb == nil {
					continue
				}
				db, err := dst.CreateBucketIfNotExists([]byte(name))
				if err != nil {
					return err
				}
				if err := sb.ForEach(func(k, v []byte) error { return db.Put(k, v) }); err != nil {
					return fmt.Errorf("copy bucket %s: %w", name, err)
				}
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// DumpFile writes the canonical dump (projections.Dump) of the read model
// file at path, read only, which no projector may hold open: how two read
// models are compared.
func DumpFile(path string, w io.Writer) error {
	st, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer st.Close()
	return st.View(context.Background(), func(tx projections.Tx) error { return projections.Dump(tx, w) })
}
