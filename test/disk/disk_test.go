//go:build linux

// Package disk runs the projector on a small filesystem of its own (a
// tmpfs mounted for the test) to see what a full disk and a read-only
// data folder do: a clear error, never an append reported as a success
// that was not kept. Mounting needs root, as CI has; elsewhere the tests
// skip.
package disk_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/service"
	"github.com/parley-news/parley/internal/stream"
	"github.com/parley-news/parley/internal/synth"
)

// mount mounts a tmpfs of size on a new folder, unmounted at the end.
func mount(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount tmpfs: %v %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here (%v %s): run as root", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

func remount(t *testing.T, dir, opts string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+opts, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s: %v %s", opts, err, out)
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startOnSmallDisk runs the service embedded on a 24 MiB file system,
// and connects to its stream; both end with the test.
func startOnSmallDisk(ctx context.Context, t *testing.T) (string, *service.Running, *stream.Conn) {
	t.Helper()
	dir := mount(t, "24m")
	r, err := service.Start(ctx, service.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Out: io.Discard, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	conn, err := stream.Connect(ctx, stream.Config{URL: r.NATSURL, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return dir, r, conn
}

// TestDiskFull appends to a projector whose data folder fills up: appends
// start failing with an error, and every event reported appended is, once
// there is room again, in the stream and in the read model.
func TestDiskFull(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, r, conn := startOnSmallDisk(ctx, t)
	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 21}
	appended := map[string]bool{}
	failed := 0
	for i := 0; i < 200 && failed == 0; i++ {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		for _, res := range conn.Append(actx, g.Events(500), "") {
			switch res.Status {
			case stream.Appended:
				appended[res.ID] = true
			default:
				failed++
				if res.Err == nil {
					t.Errorf("%s %s without an error", res.ID, res.Status)
				}
			}
		}
		acancel()
	}
	if failed == 0 {
		t.Fatal("the disk never filled up")
	}
	t.Logf("disk full after %d appended events; %d refused with an error", len(appended), failed)

	// Either the projector stopped on its error, or it still serves what
	// it applied; readiness tells which.
	resp, err := http.Get(r.HTTPURL + "/readyz")
	if err == nil {
		resp.Body.Close()
		t.Logf("readiness with the disk full: %d", resp.StatusCode)
	}
	r.Close()

	// Room again: everything acknowledged must be there.
	remount(t, dir, "size=256m")
	r2, err := service.Start(ctx, service.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Out: io.Discard, Logger: quiet()})
	if err != nil {
		t.Fatalf("restart with room again: %v", err)
	}
	defer r2.Close()
	if err := r2.CaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for id := range appended {
		resp, err := http.Get(r2.HTTPURL + "/v1/events/" + id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d events reported appended are missing after the disk filled up", missing, len(appended))
	}
}

// TestReadOnlyDataFolder starts the projector on a data folder that became
// read-only: it must refuse to start with an error that says so.
func TestReadOnlyDataFolder(t *testing.T) {
	dir := mount(t, "64m")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := service.Start(ctx, service.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Out: io.Discard, Logger: quiet(), Seed: true})
	if err != nil {
		t.Fatal(err)
	}
	r.CaughtUp(ctx)
	r.Close()
	remount(t, dir, "ro")
	_, err = service.Start(ctx, service.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Out: io.Discard, Logger: quiet()})
	if err == nil {
		t.Fatal("the projector started on a read-only data folder")
	}
	if !strings.Contains(err.Error(), "read-only") {
		t.Errorf("error does not say read-only: %v", err)
	}
	t.Logf("refused: %v", err)
}

// TestDiskFullResumesByItself fills the data folder under a running
// projector, then makes room, without a restart. The projector used to
// stop on the read model's first failed commit, taking the embedded
// stream and the API down with it, and a stream whose store had failed a
// write refused every append until the process restarted. Now reads go
// on being served while the disk is full (not ready), and once there is
// room the stream takes appends again and the projector applies
// everything, each event once.
func TestDiskFullResumesByItself(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, r, conn := startOnSmallDisk(ctx, t)
	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 23}
	var sent []events.Event
	appended := 0
	for failed := 0; failed == 0 && len(sent) < 100_000; {
		batch := g.Events(500)
		sent = append(sent, batch...)
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		for _, res := range conn.Append(actx, batch, "") {
			if res.Status == stream.Appended {
				appended++
			} else {
				failed++
			}
		}
		acancel()
	}
	if appended == len(sent) {
		t.Fatal("the disk never filled up")
	}
	// The process is up, serving what it applied.
	for _, path := range []string{"/healthz", "/v1/state"} {
		resp, err := http.Get(r.HTTPURL + path)
		if err != nil {
			t.Fatalf("GET %s with the disk full: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s with the disk full: %d", path, resp.StatusCode)
		}
	}

	remount(t, dir, "size=256m")
	// Everything sent goes in, each once: what went in before the disk
	// filled is a duplicate now, whatever it was told then.
	for _, res := range conn.Append(ctx, sent, "") {
		if res.Status != stream.Appended && res.Status != stream.Duplicate {
			t.Fatalf("with room again, %s: %s %v", res.ID, res.Status, res.Err)
		}
	}
	last, err := conn.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last != uint64(len(sent)) {
		t.Errorf("the stream holds %d messages, %d events were sent", last, len(sent))
	}
	if err := r.CaughtUp(ctx); err != nil {
		t.Fatalf("the projector did not catch up with room again: %v", err)
	}
	resp, err := http.Get(r.HTTPURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/readyz with room again: %d", resp.StatusCode)
	}
}
