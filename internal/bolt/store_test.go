package bolt_test

import (
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
