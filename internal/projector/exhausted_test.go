package projector_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/natstest"
	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/projector"
	"github.com/parley-news/parley/internal/stream"
	"github.com/parley-news/parley/internal/synth"
)

func TestExhausted(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"disk full", &fs.PathError{Op: "write", Path: "readmodel.db", Err: syscall.ENOSPC}, true},
		{"disk full, wrapped", fmt.Errorf("apply batch 1-2: %w", &fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}), true},
		{"quota", &fs.PathError{Op: "write", Path: "x", Err: syscall.EDQUOT}, true},
		{"read-only file system", &fs.PathError{Op: "write", Path: "x", Err: syscall.EROFS}, true},
		{"permission", &fs.PathError{Op: "open", Path: "x", Err: syscall.EACCES}, true},
		{"bbolt's grow, errno lost", errors.New("file resize error: truncate readmodel.db: no space left on device"), true},
		{"I/O error", &fs.PathError{Op: "write", Path: "x", Err: syscall.EIO}, false},
		{"a bug", errors.New("apply seq 3: bucket claims: bucket not found"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := projector.Exhausted(tc.err); got != tc.want {
				t.Errorf("Exhausted(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// fullDisk is a real read model on a disk that refuses the next commits
// it is told to: each runs against the file and is rolled back with the
// error a full disk gives, as bbolt rolls back a commit whose write fails.
type fullDisk struct {
	*bolt.Store
	pass    atomic.Int32 // commits to let through before refusing
	refuse  atomic.Int32 // commits still to refuse
	refused atomic.Int32
	err     error
}

func (d *fullDisk) Update(ctx context.Context, fn func(projections.Tx) error) error {
	return d.Store.Update(ctx, func(tx projections.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if d.pass.Load() > 0 {
			d.pass.Add(-1)
			return nil
		}
		if d.refuse.Load() > 0 {
			d.refuse.Add(-1)
			d.refused.Add(1)
			return d.err
		}
		return nil
	})
}

func appendAll(t *testing.T, conn *stream.Conn, evs []events.Event) {
	t.Helper()
	for _, r := range conn.Append(context.Background(), evs, "") {
		if r.Status != stream.Appended {
			t.Fatalf("append %s: %s %v", r.ID, r.Status, r.Err)
		}
	}
}

// A full disk under the read model used to end Run with the commit's
// error, and with it the process: on the embedded default the stream and
// the API went down too. Applying waits instead, not ready, and resumes
// by itself when the disk takes the commit, with a read model equal to a
// rebuild.
func TestFullDiskPausesApplyingAndResumes(t *testing.T) {
	conn := natstest.Conn(t, natstest.Server(t))
	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 5, Amends: 8}
	evs := g.Events(1000)
	appendAll(t, conn, evs[:500])

	dir := t.TempDir()
	path := filepath.Join(dir, "live.db")
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	disk := &fullDisk{Store: st, err: &fs.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := projector.New(conn, disk, projector.Config{BatchMax: 97, Logger: discard(), RetryMax: 100 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	if err := p.WaitFor(ctx, 500); err != nil {
		t.Fatal(err)
	}

	const refusals = 4
	disk.refuse.Store(refusals)
	appendAll(t, conn, evs[500:])
	for !p.Stalled() {
		select {
		case err := <-done:
			t.Fatalf("Run ended on a full disk: %v", err)
		case <-ctx.Done():
			t.Fatal("never stalled")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if p.Ready() {
		t.Error("ready while stalled")
	}
	if err := p.WaitFor(ctx, 1000); err != nil {
		t.Fatalf("did not resume: %v (refused %d commits)", err, disk.refused.Load())
	}
	if p.Stalled() || !p.Ready() {
		t.Errorf("after resuming: stalled %v, ready %v", p.Stalled(), p.Ready())
	}
	if n := disk.refused.Load(); n != refusals {
		t.Errorf("refused %d commits, want %d", n, refusals)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	rebuilt := filepath.Join(dir, "rebuilt.db")
	if _, err := projector.Rebuild(context.Background(), conn, rebuilt, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if string(dump(t, path)) != string(dump(t, rebuilt)) {
		t.Error("the read model that waited out a full disk differs from a rebuild")
	}
}

// Other failures of a commit are not waited on: they may mean damage,
// and Run ends with them, as before.
func TestOtherCommitErrorsEndRun(t *testing.T) {
	conn := natstest.Conn(t, natstest.Server(t))
	fill(t, conn, 50)
	path := filepath.Join(t.TempDir(), "live.db")
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	disk := &fullDisk{Store: st, err: &fs.PathError{Op: "write", Path: path, Err: syscall.EIO}}
	disk.pass.Store(1) // Run's own, at its start
	disk.refuse.Store(1 << 30)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = projector.New(conn, disk, projector.Config{Logger: discard()}).Run(ctx)
	if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "apply batch") {
		t.Fatalf("Run = %v, want the I/O error", err)
	}
}
