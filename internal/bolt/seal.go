package bolt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// bbolt checks its meta pages, not the bytes of its other pages: a flipped
// bit in a value is served as it is, and a damaged branch page can crash
// bbolt in a goroutine of its own, where no recover reaches. A clean close
// therefore seals the file: the SHA-256 of its bytes goes into a file
// beside it (PATH.seal). Before a sealed file is opened, its bytes are
// hashed again; if they differ, the file is never handed to bbolt. Serving
// removes the seal before the first write, so a file left by a crash has
// none: it is checked for structure only, and a process crash does not
// flip bits (bbolt's commits are atomic).

// ErrDamaged is returned for a file whose bytes do not match its seal.
var ErrDamaged = errors.New("read model bytes do not match their seal")

func sealPath(path string) string { return path + ".seal" }

func hashFile(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			return hex.EncodeToString(h.Sum(nil)), nil
		}
		if err != nil {
			return "", err
		}
	}
}

// SealFile writes the seal of the closed file at path.
func SealFile(ctx context.Context, path string) error {
	sum, err := hashFile(ctx, path)
	if err != nil {
		return fmt.Errorf("seal %s: %w", path, err)
	}
	tmp := sealPath(path) + ".tmp"
	err = os.WriteFile(tmp, []byte(sum+"\n"), 0o600)
	if err == nil {
		err = syncFile(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, sealPath(path))
	}
	if err != nil {
		// A stop on a full disk left an empty .seal.tmp behind, for good.
		os.Remove(tmp)
		return fmt.Errorf("seal %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// VerifyFile checks the file at path against its seal. sealed says whether
// there was one.
func VerifyFile(ctx context.Context, path string) (sealed bool, err error) {
	want, err := os.ReadFile(sealPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read seal of %s: %w", path, err)
	}
	got, err := hashFile(ctx, path)
	if err != nil {
		return true, fmt.Errorf("verify %s: %w", path, err)
	}
	if got != strings.TrimSpace(string(want)) {
		return true, fmt.Errorf("%s: %w", path, ErrDamaged)
	}
	return true, nil
}

// UnsealFile removes the seal: the file is about to change.
func UnsealFile(path string) error {
	err := os.Remove(sealPath(path))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("unseal %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// SealAndClose closes the store and seals its file: a clean stop. A file
// lost while open (CheckFile) is closed and not sealed: the seal would
// vouch for whatever is at the path now, which this store never wrote.
func (s *Store) SealAndClose(ctx context.Context) error {
	lost := s.CheckFile()
	if err := s.Close(); err != nil {
		return err
	}
	if lost != nil {
		return fmt.Errorf("not sealed: %w", lost)
	}
	return SealFile(ctx, s.path)
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
