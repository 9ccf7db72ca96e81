package projector_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/natstest"
	"github.com/parley-news/parley/internal/projector"
)

// TestByteFlipsAreNeverServed damages a sealed read model with random byte
// flips, trial after trial: the projector must refuse the file or rebuild
// it, and whatever it then serves must equal a rebuild from the stream.
func TestByteFlipsAreNeverServed(t *testing.T) {
	const trials = 60
	conn := natstest.Conn(t, natstest.Server(t))
	fill(t, conn, 1500)
	ctx := context.Background()
	base := filepath.Join(t.TempDir(), "sealed.db")
	project(t, conn, base)
	st, err := bolt.Open(base, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SealAndClose(ctx); err != nil {
		t.Fatal(err)
	}
	want := dump(t, base)
	clean, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	seal, err := os.ReadFile(base + ".seal")
	if err != nil {
		t.Fatalf("a clean close left no seal: %v", err)
	}

	rng := rand.New(rand.NewPCG(7, 8))
	var rebuilt, servedAsIs, refused int
	for i := 0; i < trials; i++ {
		dir := t.TempDir()
		path := filepath.Join(dir, projector.ModelFile)
		b := bytes.Clone(clean)
		for range 1 + rng.IntN(4) {
			off := rng.IntN(len(b))
			b[off] ^= byte(1 + rng.IntN(255))
		}
		os.WriteFile(path, b, 0o600)
		os.WriteFile(path+".seal", seal, 0o600)
		st, err := projector.OpenModel(ctx, conn, dir, nil, io.Discard, discard())
		if err != nil {
			refused++
			continue
		}
		// Whatever was opened catches up with the stream like a live
		// projector would, then must be the rebuild's twin.
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		p := projector.New(conn, st, projector.Config{Logger: discard()})
		done := make(chan error, 1)
		go func() { done <- p.Run(cctx) }()
		if err := p.WaitFor(cctx, 1500); err != nil {
			cancel()
			t.Fatalf("trial %d: %v (run: %v)", i, err, <-done)
		}
		cancel()
		<-done
		st.Close()
		if got := dump(t, path); !bytes.Equal(got, want) {
			gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
			for j := range min(len(gl), len(wl)) {
				if !bytes.Equal(gl[j], wl[j]) {
					k := 0
					for k < len(gl[j]) && gl[j][k] == wl[j][k] {
						k++
					}
					g, _ := hex.DecodeString(string(gl[j][max(0, k-200)&^1:]))
					w, _ := hex.DecodeString(string(wl[j][max(0, k-200)&^1:]))
					t.Logf("first difference, line %d:\n got %.200s\nwant %.200s", j, g, w)
					break
				}
			}
			t.Fatalf("trial %d: a damaged read model was served (%d vs %d bytes of dump)", i, len(got), len(want))
		}
		if aside, _ := filepath.Glob(path + ".damaged-*"); len(aside) > 0 {
			rebuilt++
		} else {
			servedAsIs++
		}
	}
	t.Logf("%d trials: %d rebuilt from the stream, %d refused, %d served as is (flips in unused pages)", trials, rebuilt, refused, servedAsIs)
}
