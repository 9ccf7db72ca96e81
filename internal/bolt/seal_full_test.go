//go:build linux

package bolt_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/parley-news/parley/internal/bolt"
)

// A seal that cannot be written (a stop on a full disk) leaves nothing
// behind: it used to leave an empty readmodel.db.seal.tmp for good.
func TestSealOnAFullDiskLeavesNoTemporaryFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	path := filepath.Join(dir, "readmodel.db")
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Fill what room is left.
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := f.Write(make([]byte, 4096)); err == nil; _, err = f.Write(make([]byte, 4096)) {
	}
	f.Close()
	if err := st.SealAndClose(context.Background()); err == nil {
		t.Fatal("sealed on a full disk")
	}
	left, _ := filepath.Glob(path + ".seal*")
	if len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
