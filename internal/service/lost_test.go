package service_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/projector"
)

// TestReadModelRemovedWhileServing: the process notices its read model
// file gone, stops with an error naming it (exit 1 for the command), and
// the next start on the folder serves the same state, caught up from the
// stream.
func TestReadModelRemovedWhileServing(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, true)
	waitReady(t, r)
	var before state
	getJSON(t, r.HTTPURL+"/v1/state", &before)
	if err := os.Remove(filepath.Join(dir, projector.ModelFile)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := r.Wait(ctx)
	if ctx.Err() != nil {
		t.Fatal("still serving 30 s after its read model file was removed")
	}
	if !errors.Is(err, bolt.ErrFileLost) {
		t.Fatalf("Wait = %v, want ErrFileLost", err)
	}

	r2 := start(t, dir, false)
	waitReady(t, r2)
	var after state
	getJSON(t, r2.HTTPURL+"/v1/state", &after)
	if a, b, same := sameJSON(before, after); !same {
		t.Errorf("state differs after the file was lost and the service started again:\n%s\n%s", a, b)
	}
}
