package projector_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/natstest"
	"github.com/parley-news/parley/internal/projector"
	"github.com/parley-news/parley/internal/synth"
)

// TestLostFileEndsRun takes the read model's file away from a running
// projector, while idle (found by the periodic look) and with events
// arriving (found before the next commit): Run ends with ErrFileLost, not
// ready, nothing is sealed, and the next open of the folder catches up
// with the stream into the same read model as a rebuild: nothing lost.
func TestLostFileEndsRun(t *testing.T) {
	cases := []struct {
		name  string
		other bool // a bbolt file is put in its place, rather than none
		busy  bool // events arrive after the loss
	}{
		{"removed while idle", false, false},
		{"removed while applying", false, true},
		{"replaced while idle", true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn := natstest.Conn(t, natstest.Server(t))
			g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 9, Amends: 8}
			evs := g.Events(400)
			appendAll(t, conn, evs[:200])
			dir := t.TempDir()
			path := filepath.Join(dir, projector.ModelFile)
			st, err := bolt.Open(path, bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			p := projector.New(conn, st, projector.Config{BatchMax: 50, Logger: discard(), CheckFile: st.CheckFile})
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx) }()
			if err := p.WaitFor(ctx, 200); err != nil {
				t.Fatal(err)
			}

			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if tc.other {
				o, err := bolt.Open(path, bolt.Options{})
				if err != nil {
					t.Fatal(err)
				}
				o.Close()
			}
			if tc.busy {
				appendAll(t, conn, evs[200:])
			}
			select {
			case err := <-done:
				if !errors.Is(err, bolt.ErrFileLost) {
					t.Fatalf("Run = %v, want ErrFileLost", err)
				}
			case <-ctx.Done():
				t.Fatal("Run went on with its file gone")
			}
			if p.Ready() {
				t.Error("ready with its file gone")
			}
			if err := st.SealAndClose(ctx); !errors.Is(err, bolt.ErrFileLost) {
				t.Errorf("SealAndClose = %v, want ErrFileLost", err)
			}
			if !tc.busy {
				appendAll(t, conn, evs[200:])
			}

			// The next start: whatever is at the path, checked, caught up.
			st, err = projector.OpenModel(ctx, conn, dir, nil, nil, discard())
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			project(t, conn, path)
			rebuilt := filepath.Join(t.TempDir(), "rebuilt.db")
			if _, err := projector.Rebuild(ctx, conn, rebuilt, nil, nil, nil); err != nil {
				t.Fatal(err)
			}
			if string(dump(t, path)) != string(dump(t, rebuilt)) {
				t.Error("the read model made anew differs from a rebuild")
			}
		})
	}
}
