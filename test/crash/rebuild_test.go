package crash_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/projector"
	"github.com/parley-news/parley/internal/stream"
	"github.com/parley-news/parley/internal/synth"
)

// TestCrashRebuildKilled kills `projector rebuild` with SIGKILL in the
// middle of its replay: the old read model must be untouched, and a
// projector started on the folder serves it.
func TestCrashRebuildKilled(t *testing.T) {
	dir := t.TempDir()
	natsAddr := freePort(t)
	ctx := ctxFor(t, 5*time.Minute)
	args := []string{"-data", dir, "-nats-listen", natsAddr, "-http", "127.0.0.1:0"}
	p := startProjector(t, args...)
	conn, err := stream.Connect(ctx, stream.Config{URL: "nats://" + natsAddr, Name: "crash-test"})
	if err != nil {
		t.Fatal(err)
	}
	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 14}
	total := counts(100_000, 30_000)
	for sent := 0; sent < total; sent += 1000 {
		for _, r := range conn.Append(ctx, g.Events(1000), "") {
			if r.Status != stream.Appended {
				t.Fatalf("append %s: %s %v", r.ID, r.Status, r.Err)
			}
		}
	}
	conn.Close()
	waitApplied(t, p.url, uint64(total), 3*time.Minute)
	p.stop(t)
	model := filepath.Join(dir, projector.ModelFile)
	before := dumpFile(t, model)

	// Kill the rebuild once it has shown progress, before it finishes.
	cmd := exec.Command(filepath.Join(bin, "projector"), "rebuild", "-data", dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	s := bufio.NewScanner(out)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, "rebuild: ") && strings.Contains(line, "%") && !strings.Contains(line, "100%") {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
			break
		}
	}
	cmd.Wait()
	if !killed {
		t.Skip("the rebuild finished before it showed progress to be killed at")
	}
	if _, err := os.Stat(model + ".rebuild"); err != nil {
		t.Logf("no partial file left (%v)", err)
	}
	if !bytes.Equal(dumpFile(t, model), before) {
		t.Fatal("a killed rebuild changed the read model")
	}
	p = startProjector(t, args...)
	waitApplied(t, p.url, uint64(total), time.Minute)
	p.stop(t)
	if !bytes.Equal(dumpFile(t, model), before) {
		t.Fatal("after a killed rebuild the projector serves another read model")
	}
	t.Logf("rebuild of %d events killed mid-way; the old read model served unchanged", total)
}
