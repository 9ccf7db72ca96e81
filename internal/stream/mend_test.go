package stream_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/stream"
	"github.com/parley-news/parley/internal/synth"
)

// mountTmpfs mounts a tmpfs of size on dir for the test: a file system of
// its own fills up without filling the machine's. It needs root; the
// test skips elsewhere.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
}

// fillDisk writes a file in dir that leaves about room bytes free.
func fillDisk(t *testing.T, dir string, room int64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	var st syscall.Statfs_t
	for {
		if err := syscall.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		if int64(st.Bavail)*int64(st.Bsize) <= room {
			return path
		}
		if _, err := f.Write(chunk); err != nil {
			return path
		}
	}
}

// The ways a store stops taking appends under a running server, each
// with how to bring it about in dir (before the server starts, and
// after), how to mend it, and whether it is a write error (StoreError)
// or the storage limit JetStream set itself at start.
var storeFailures = []struct {
	name       string
	writeError bool
	setUp      func(t *testing.T, dir string) (fail, mend func())
}{
	{"disk full", true, func(t *testing.T, dir string) (func(), func()) {
		mountTmpfs(t, dir, "64m")
		var filler string
		return func() { filler = fillDisk(t, dir, 1<<20) }, func() {
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
		}
	}},
	{"storage limit set at start", false, func(t *testing.T, dir string) (func(), func()) {
		mountTmpfs(t, dir, "12m")
		return func() {}, func() {
			if out, err := exec.Command("mount", "-o", "remount,size=200m", dir).CombinedOutput(); err != nil {
				t.Fatalf("remount: %v: %s", err, out)
			}
		}
	}},
	{"folder made read only", true, func(t *testing.T, dir string) (func(), func()) {
		if os.Geteuid() == 0 {
			t.Skip("root writes to a read-only folder")
		}
		msgs := filepath.Join(dir, "jetstream", "jetstream", "$G", "streams", stream.DefaultStreamName, "msgs")
		t.Cleanup(func() { os.Chmod(msgs, 0o700) }) // for TempDir's removal
		return func() {
				if err := os.Chmod(msgs, 0o500); err != nil {
					t.Fatal(err)
				}
			}, func() {
				if err := os.Chmod(msgs, 0o700); err != nil {
					t.Fatal(err)
				}
			}
	}},
}

// A store that met a write error refused every append from then on, even
// once its disk took writes again, and one that reached the limit
// JetStream set itself at start refused them after room was made, until
// the process was restarted: Mend restarts the embedded server once the
// disk takes writes, and appends go on, nothing lost and nothing twice.
func TestMendRestartsAServerWhoseStoreFailed(t *testing.T) {
	for _, tc := range storeFailures {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fail, mend := tc.setUp(t, dir)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			srv, err := stream.StartServer(ctx, stream.ServerConfig{Dir: dir, Listen: "127.0.0.1:0", Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Shutdown()
			conn, err := stream.Connect(ctx, stream.Config{URL: srv.ClientURL(), Name: t.Name(), Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fail()

			// Append about 1 KiB events until the store refuses them.
			g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 7}
			var refused []events.Event
			appended := 0
			for len(refused) == 0 && appended < 40_000 {
				batch := g.Events(500)
				actx, acancel := context.WithTimeout(ctx, 3*time.Second)
				for i, r := range conn.Append(actx, batch, "") {
					switch r.Status {
					case stream.Appended:
						appended++
					default:
						refused = append(refused, batch[i])
					}
				}
				acancel()
			}
			if len(refused) == 0 {
				t.Fatalf("the store took %d events and refused none", appended)
			}
			if err := srv.StoreError(); tc.writeError && err == nil {
				t.Fatal("StoreError = nil after the store refused appends")
			}
			// A refused event is failed, "not known to be appended": some
			// may be in (a batch cut short), never one told appended out.
			// (JetStream shut down, on a permission refused, answers nothing.)
			lctx, lcancel := context.WithTimeout(ctx, time.Second)
			if last, err := conn.LastSeq(lctx); err == nil && last < uint64(appended) {
				t.Fatalf("stream holds %d messages, %d were told appended", last, appended)
			}
			lcancel()

			mend()
			mctx, mcancel := context.WithCancel(ctx)
			defer mcancel()
			go srv.Mend(mctx, stream.MendConfig{Every: 50 * time.Millisecond, Logger: log})
			// A store at its limit answers at once, insufficient
			// resources, until Mend has restarted the server.
			for r := conn.Append(ctx, refused[len(refused)-1:], ""); r[0].Status == stream.Failed; r = conn.Append(ctx, refused[len(refused)-1:], "") {
				select {
				case <-ctx.Done():
					t.Fatalf("not mended: %v", r[0].Err)
				case <-time.After(100 * time.Millisecond):
				}
			}
			for _, r := range conn.Append(ctx, refused, "") {
				if r.Status != stream.Appended && r.Status != stream.Duplicate {
					t.Fatalf("after mending, append %s: %s %v", r.ID, r.Status, r.Err)
				}
			}
			if err := srv.StoreError(); err != nil {
				t.Errorf("StoreError after mending: %v", err)
			}
			if last, _ := conn.LastSeq(ctx); last != uint64(appended+len(refused)) {
				t.Errorf("stream holds %d messages, want %d", last, appended+len(refused))
			}
		})
	}
}
