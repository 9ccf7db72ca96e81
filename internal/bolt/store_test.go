package bolt_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/projections/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) projections.Store {
		s, err := bolt.Open(filepath.Join(t.TempDir(), "readmodel.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestLockedByAnother(t *testing.T) {
	path := filepath.Join(t.TempDir(), "readmodel.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := bolt.Open(path, bolt.Options{Timeout: 50e6}); err == nil {
		t.Fatal("second open of a locked file succeeded")
	}
}

// TestOpeningLeavesASealedFileAlone opens a sealed file for writing and
// for reading, and closes it, without a transaction that writes: its
// seal still holds. Adding a bucket it lacks is a write, and breaks it.
func TestOpeningLeavesASealedFileAlone(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "readmodel.db")
	s, err := bolt.Open(path, bolt.Options{Buckets: []string{"extra"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SealAndClose(ctx); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []bolt.Options{{Buckets: []string{"extra"}}, {}, {ReadOnly: true}} {
		s, err := bolt.Open(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if sealed, err := bolt.VerifyFile(ctx, path); !sealed || err != nil {
			t.Fatalf("after an open with %+v: sealed %v, %v", opts, sealed, err)
		}
	}
	s, err = bolt.Open(path, bolt.Options{Buckets: []string{"another"}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := bolt.VerifyFile(ctx, path); !errors.Is(err, bolt.ErrDamaged) {
		t.Fatalf("a bucket was added, and the seal still holds: %v", err)
	}
}

// TestRemoveStale removes what a killed rebuild leaves (a bbolt file, or
// one too short to be one) and leaves a file another store holds.
func TestRemoveStale(t *testing.T) {
	cases := []struct {
		name        string
		make        func(t *testing.T, path string) // nil: no file
		held        bool
		wantRemoved bool
		wantErr     error
	}{
		{name: "no file"},
		{name: "a closed bbolt file", make: func(t *testing.T, path string) {
			s, err := bolt.Open(path, bolt.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
		}, wantRemoved: true},
		{name: "a file cut short", make: func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("partial"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, wantRemoved: true},
		{name: "a file a rebuild holds", held: true, wantErr: bolt.ErrLocked},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "readmodel.db.rebuild")
			if c.make != nil {
				c.make(t, path)
			}
			if c.held {
				s, err := bolt.Open(path, bolt.Options{NoSync: true})
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
			}
			removed, err := bolt.RemoveStale(path)
			if removed != c.wantRemoved || !errors.Is(err, c.wantErr) {
				t.Fatalf("RemoveStale: %v, %v; want %v, %v", removed, err, c.wantRemoved, c.wantErr)
			}
			_, statErr := os.Stat(path)
			if exists := statErr == nil; exists != (c.held) {
				t.Errorf("file exists: %v, want %v", exists, c.held)
			}
		})
	}
}

// TestCheckFileTellsALostFile takes the file of an open store away in
// each way an operator or a script can, and CheckFile says so; the clean
// stop then seals nothing, since a seal would vouch for what is at the
// path now.
func TestCheckFileTellsALostFile(t *testing.T) {
	cases := []struct {
		name string
		lose func(t *testing.T, path string) // nil: the file stays
	}{
		{"kept", nil},
		{"removed", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
		{"replaced", func(t *testing.T, path string) {
			other := path + ".other"
			o, err := bolt.Open(other, bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			o.Close()
			if err := os.Rename(other, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated", func(t *testing.T, path string) {
			if err := os.Truncate(path, 4096); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "readmodel.db")
			s, err := bolt.Open(path, bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Update(ctx, func(tx projections.Tx) error {
				return tx.Bucket(projections.BucketMeta).Put([]byte("k"), make([]byte, 64<<10))
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CheckFile(); err != nil {
				t.Fatalf("before anything happened to it: %v", err)
			}
			if tc.lose == nil {
				if err := s.SealAndClose(ctx); err != nil {
					t.Fatal(err)
				}
				if sealed, err := bolt.VerifyFile(ctx, path); !sealed || err != nil {
					t.Fatalf("kept file: sealed %v, %v", sealed, err)
				}
				return
			}
			tc.lose(t, path)
			if err := s.CheckFile(); !errors.Is(err, bolt.ErrFileLost) {
				t.Fatalf("CheckFile = %v, want ErrFileLost", err)
			}
			if err := s.SealAndClose(ctx); !errors.Is(err, bolt.ErrFileLost) {
				t.Fatalf("SealAndClose = %v, want ErrFileLost", err)
			}
			if sealed, _ := bolt.VerifyFile(ctx, path); sealed {
				t.Fatal("a lost file's path was sealed")
			}
		})
	}
}

// TestShortFileIsRefusedNotMapped: bbolt maps a file cut short and faults
// on the first page read past its end, killing the process at every
// start. Open refuses it first, and a stale rebuild file cut short is
// removed without being opened.
func TestShortFileIsRefusedNotMapped(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "readmodel.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		err := s.Update(ctx, func(tx projections.Tx) error {
			return tx.Bucket(projections.BucketMeta).Put([]byte{byte(i)}, make([]byte, 256<<10))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []bolt.Options{{}, {ReadOnly: true}} {
		if s, err := bolt.Open(path, opts); !errors.Is(err, bolt.ErrShort) {
			if err == nil {
				s.Close()
			}
			t.Fatalf("Open(%+v) of a file cut in half = %v, want ErrShort", opts, err)
		}
	}
	if removed, err := bolt.RemoveStale(path); !removed || err != nil {
		t.Fatalf("RemoveStale = %v, %v, want it removed", removed, err)
	}
}
