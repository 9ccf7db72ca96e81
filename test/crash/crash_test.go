package crash_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
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

func dumpFile(t *testing.T, path string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := bolt.DumpFile(path, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type readiness struct {
	Ready   bool   `json:"ready"`
	Applied uint64 `json:"applied"`
}

// waitApplied polls /readyz until the projector has applied seq.
func waitApplied(t *testing.T, url string, seq uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			var r readiness
			json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if r.Applied >= seq {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("projector at %s did not apply sequence %d within %s", url, seq, within)
}

// TestCrashProjectorKilledDuringIngest kills the projector (against a NATS
// server of its own) with SIGKILL at random moments while events stream
// in; at the end its read model must equal a rebuild from scratch.
func TestCrashProjectorKilledDuringIngest(t *testing.T) {
	total, kills := counts(100_000, 20_000), counts(20, 8)
	url := natstest.Server(t)
	conn := natstest.Conn(t, url)
	dir := t.TempDir()
	ctx := ctxFor(t, 10*time.Minute)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 11, Amends: 5}
		for sent := 0; sent < total; sent += 1000 {
			for _, r := range conn.Append(ctx, g.Events(1000), "") {
				if r.Status != stream.Appended {
					t.Errorf("append %s: %s %v", r.ID, r.Status, r.Err)
					return
				}
			}
			time.Sleep(5 * time.Millisecond) // a stream, not one burst
		}
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < kills; i++ {
		p := startProjector(t, "-data", dir, "-nats", url, "-http", "127.0.0.1:0")
		time.Sleep(time.Duration(100+rng.IntN(700)) * time.Millisecond)
		p.kill()
	}
	wg.Wait()
	last, err := conn.LastSeq(ctx)
	if err != nil || last != uint64(total) {
		t.Fatalf("stream holds %d events (%v), want %d", last, err, total)
	}
	p := startProjector(t, "-data", dir, "-nats", url, "-http", "127.0.0.1:0")
	waitApplied(t, p.url, last, 5*time.Minute)
	p.stop(t)

	rebuilt := filepath.Join(t.TempDir(), "rebuilt.db")
	if _, err := projector.Rebuild(ctx, conn, rebuilt, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dumpFile(t, filepath.Join(dir, projector.ModelFile)), dumpFile(t, rebuilt)) {
		t.Fatal("after the kills the read model differs from a rebuild: an event was applied twice or skipped")
	}
	t.Logf("projector: %d SIGKILLs survived, %d events checked against a rebuild", kills, total)
	fmt.Printf("crash figures: projector kills=%d events=%d read model equals rebuild\n", kills, total)
}

// TestCrashIngestKilledMidFile kills the ingest command in the middle of a
// file, again and again, then runs it to the end: the stream must hold
// each event of the file exactly once.
func TestCrashIngestKilledMidFile(t *testing.T) {
	total, kills := counts(100_000, 20_000), counts(10, 5)
	url := natstest.Server(t)
	conn := natstest.Conn(t, url)
	ctx := ctxFor(t, 10*time.Minute)
	file := filepath.Join(t.TempDir(), "events.ndjson")
	var buf bytes.Buffer
	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 12}
	for _, e := range g.Events(total) {
		buf.Write(e.Canonical())
		buf.WriteByte('\n')
	}
	os.WriteFile(file, buf.Bytes(), 0o600)

	rng := rand.New(rand.NewPCG(3, 4))
	killed := 0
	for i := 0; i < kills; i++ {
		cmd := exec.Command(filepath.Join(bin, "ingest"), "-nats", url, file)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-time.After(time.Duration(50+rng.IntN(400)) * time.Millisecond):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			killed++
		case err := <-done:
			if err != nil {
				t.Fatalf("ingest run %d failed before the kill: %v", i, err)
			}
		}
	}
	out, err := exec.Command(filepath.Join(bin, "ingest"), "-nats", url, file).CombinedOutput()
	if err != nil {
		t.Fatalf("final ingest: %v\n%s", err, out)
	}
	info, err := conn.JetStream().Stream(ctx, conn.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	si, err := info.Info(ctx, jetstreamSubjects())
	if err != nil {
		t.Fatal(err)
	}
	if si.State.Msgs != uint64(total) || si.State.NumSubjects != uint64(total) {
		t.Fatalf("stream holds %d messages on %d subjects, want %d each: %s", si.State.Msgs, si.State.NumSubjects, total, out)
	}
	t.Logf("ingest: %d SIGKILLs mid-file, %d events each stored once; last run said %s", killed, total, bytes.TrimSpace(out))
	fmt.Printf("crash figures: ingest kills=%d events=%d each once\n", killed, total)
}

// TestCrashWholeProcessKilled kills the one-process default (projector
// with NATS embedded) while events are appended to it; every event that
// was reported appended must be in the stream and in the read model.
func TestCrashWholeProcessKilled(t *testing.T) {
	total, kills := counts(100_000, 10_000), counts(20, 6)
	dir := t.TempDir()
	natsAddr := freePort(t)
	ctx := ctxFor(t, 10*time.Minute)
	args := []string{"-data", dir, "-nats-listen", natsAddr, "-http", "127.0.0.1:0"}
	p := startProjector(t, args...)
	conn, err := stream.Connect(ctx, stream.Config{URL: "nats://" + natsAddr, Name: "crash-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 13}
	pending := g.Events(total)
	appended := map[string]bool{}
	var mu sync.Mutex
	stop := make(chan struct{})
	sender := make(chan struct{})
	go func() {
		defer close(sender)
		for len(pending) > 0 {
			select {
			case <-stop:
				return
			default:
			}
			n := min(500, len(pending))
			actx, cancel := context.WithTimeout(ctx, 3*time.Second)
			rs := conn.Append(actx, pending[:n], "")
			cancel()
			var retry []events.Event
			mu.Lock()
			for i, r := range rs {
				switch r.Status {
				case stream.Appended, stream.Duplicate:
					appended[r.ID] = true
				default:
					retry = append(retry, pending[i])
				}
			}
			mu.Unlock()
			pending = append(retry, pending[n:]...)
			if len(retry) > 0 {
				time.Sleep(100 * time.Millisecond) // the server is restarting
			}
		}
	}()
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < kills; i++ {
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		p.kill()
		p = startProjector(t, args...)
	}
	select {
	case <-sender:
	case <-time.After(5 * time.Minute):
		close(stop)
		<-sender
		t.Fatalf("the appends did not finish within 5 minutes (%d left)", len(pending))
	}
	last, err := conn.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitApplied(t, p.url, last, 5*time.Minute)
	p.stop(t)

	st, err := bolt.Open(filepath.Join(dir, projector.ModelFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	missing := 0
	st.View(ctx, func(tx projections.Tx) error {
		for id := range appended {
			if _, err := projections.QueryEvent(tx, id, projections.Knowledge{}); err != nil {
				missing++
			}
		}
		return nil
	})
	if missing > 0 || len(appended) != total || last != uint64(total) {
		t.Fatalf("%d of %d appended events missing from the read model; %d reported appended of %d; stream holds %d",
			missing, len(appended), len(appended), total, last)
	}
	t.Logf("embedded: %d SIGKILLs of the whole process, %d appended events all in the stream and the read model", kills, total)
	fmt.Printf("crash figures: whole-process kills=%d events=%d none lost\n", kills, total)
}
