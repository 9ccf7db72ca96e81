package service_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/service"
	"github.com/parley-news/parley/internal/stream"
)

// TestStartRefusesWhatIsInUse refuses to start on an HTTP address in use,
// before anything is appended, and a second projector on a folder in use,
// before its embedded server opens the store; the first keeps running.
func TestStartRefusesWhatIsInUse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	_, err = service.Start(ctx, service.Config{DataDir: dir, HTTPAddr: busy.Addr().String(), NATSListen: "127.0.0.1:0", Seed: true, Out: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "listen "+busy.Addr().String()) {
		t.Fatalf("start on an address in use: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stream's store was made before the address was found in use: %v", err)
	}

	first := start(t, dir, true)
	waitReady(t, first)
	_, err = service.Start(ctx, service.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Out: io.Discard})
	if !errors.Is(err, stream.ErrStoreInUse) || !strings.Contains(err.Error(), "a projector or a rebuild is running on "+dir+"; stop it first") {
		t.Fatalf("second projector on the folder: %v", err)
	}
	// Each command says what it can do: a rebuild cannot ask the running
	// projector for anything, a query can.
	_, err = service.Rebuild(ctx, service.Config{DataDir: dir, Out: io.Discard})
	if !errors.Is(err, bolt.ErrLocked) || !strings.HasSuffix(err.Error(), "is running on "+dir+"; stop it first: a rebuild needs the folder to itself") {
		t.Errorf("rebuild beside the projector: %v", err)
	}
	err = service.Replay(ctx, service.Config{DataDir: dir}, "state", service.ReplayQuery{}, io.Discard)
	if !errors.Is(err, bolt.ErrLocked) || !strings.HasSuffix(err.Error(), "running on "+dir+"; ask the projector's HTTP API, or wait until it stops") {
		t.Errorf("state beside the projector: %v", err)
	}
	var st struct{ Seq uint64 }
	if code := getJSON(t, first.HTTPURL+"/v1/state", &st); code != 200 || st.Seq == 0 {
		t.Errorf("first projector after the refusal: %d, seq %d", code, st.Seq)
	}
}

// TestStartBesideAReader: a projector that starts while a replay command
// reads the file (an analyst's projector history) says that a reader may
// hold it, not only a projector or a rebuild, which there is none of.
func TestStartBesideAReader(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	r := start(t, dir, true)
	waitReady(t, r)
	r.Close()
	reader, err := bolt.Open(filepath.Join(dir, "readmodel.db"), bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	_, err = service.Start(ctx, service.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Out: io.Discard})
	if !errors.Is(err, bolt.ErrLocked) || !strings.Contains(err.Error(), "a command reading it (state, history, diff, dump) is running on "+dir) {
		t.Fatalf("start beside a reader: %v", err)
	}
}

// TestRebuildCommand refuses a folder with no stream in it (a mistyped
// -data), and rebuilds over a file bbolt refuses, keeping that file aside.
func TestRebuildCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	typo := filepath.Join(t.TempDir(), "parly")
	if _, err := service.Rebuild(ctx, service.Config{DataDir: typo, Out: io.Discard}); err == nil || !strings.Contains(err.Error(), "no stream in "+typo) {
		t.Errorf("rebuild of a folder without a stream: %v", err)
	}
	if _, err := os.Stat(typo); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the mistyped folder was made: %v", err)
	}

	dir := t.TempDir()
	r := start(t, dir, true)
	waitReady(t, r)
	r.Close()
	path := filepath.Join(dir, "readmodel.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a bbolt file ", 4096)), 0o600); err != nil {
		t.Fatal(err)
	}
	stats, err := service.Rebuild(ctx, service.Config{DataDir: dir, Out: io.Discard})
	if err != nil || stats.Events == 0 {
		t.Fatalf("rebuild over a file bbolt refuses: %v, %d events", err, stats.Events)
	}
	if aside, _ := filepath.Glob(path + ".damaged-*"); len(aside) != 1 {
		t.Errorf("kept aside: %v, want the refused file", aside)
	}
}
