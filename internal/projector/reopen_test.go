package projector

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-news/parley/internal/bolt"
)

// TestReopenTellsAReplacedFile: a rebuild's file removed while it runs
// (by another rebuild, or a projector starting, that took it for a killed
// rebuild's) and made anew is an error at the next reopen, not a file the
// rebuild would go on filling and swap in.
func TestReopenTellsAReplacedFile(t *testing.T) {
	tmp := filepath.Join(t.TempDir(), "readmodel.db.rebuild")
	st, err := bolt.Open(tmp, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	first, err := os.Stat(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if st, err = reopen(st, tmp, nil, first); err != nil {
		t.Fatalf("reopen of the file as it was: %v", err)
	}
	// Removed and made anew by another process, here before the reopen
	// rather than within it: the same to the check.
	if err := os.Remove(tmp); err != nil {
		t.Fatal(err)
	}
	other, err := bolt.Open(tmp, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	st, err = reopen(st, tmp, nil, first)
	if st != nil {
		defer st.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "was removed while the rebuild wrote it") {
		t.Fatalf("reopen of a file made anew: %v, want an error", err)
	}
}
