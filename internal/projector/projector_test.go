package projector_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/natstest"
	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/projector"
	"github.com/parley-news/parley/internal/stream"
	"github.com/parley-news/parley/internal/synth"
)

func fill(t *testing.T, conn *stream.Conn, n int) {
	t.Helper()
	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 3, Amends: 8}
	for _, r := range conn.Append(context.Background(), g.Events(n), "") {
		if r.Status != stream.Appended {
			t.Fatalf("append %s: %s %v", r.ID, r.Status, r.Err)
		}
	}
}

func dump(t *testing.T, path string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := bolt.DumpFile(path, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// project runs the live projector over the stream until it has applied
// everything, then stops it.
// openedAsRebuilt opens the model in dir on conn, which must rebuild it
// as not built from this stream, announced with that reason, into what
// projecting conn afresh gives.
func openedAsRebuilt(t *testing.T, ctx context.Context, conn *stream.Conn, dir, path string) {
	t.Helper()
	var out bytes.Buffer
	st, err := projector.OpenModel(ctx, conn, dir, nil, &out, discard())
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if !strings.Contains(out.String(), "not built from this stream") {
		t.Errorf("the rebuild was not announced with its reason: %q", out.String())
	}
	want := filepath.Join(t.TempDir(), "want.db")
	project(t, conn, want)
	if !bytes.Equal(dump(t, path), dump(t, want)) {
		t.Error("the model opened is not the stream's")
	}
}

func project(t *testing.T, conn *stream.Conn, path string) {
	t.Helper()
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := projector.New(conn, st, projector.Config{BatchMax: 97, Logger: discard()})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	last, _ := conn.LastSeq(ctx)
	if err := p.WaitFor(ctx, last); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRebuildEqualsIncremental(t *testing.T) {
	conn := natstest.Conn(t, natstest.Server(t))
	fill(t, conn, 3000)
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	project(t, conn, live)

	rebuilt := filepath.Join(dir, "rebuilt.db")
	var progress progressSeen
	stats, err := projector.Rebuild(context.Background(), conn, rebuilt, &progress, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// As /readyz of a starting service tells it: running while it wrote
	// its progress, and done after.
	if !progress.running || progress.total != 3000 {
		t.Errorf("RebuildProgress while rebuilding: running %v, total %d, want running of 3000", progress.running, progress.total)
	}
	if applied, total, running := projector.RebuildProgress(); running || applied != 3000 || total != 3000 {
		t.Errorf("RebuildProgress after: %d of %d, running %v, want 3000 of 3000, done", applied, total, running)
	}
	if stats.Events != 3000 {
		t.Errorf("rebuild replayed %d events, want 3000", stats.Events)
	}
	if !bytes.Contains(progress.Bytes(), []byte("rebuild: 3000/3000 events")) {
		t.Errorf("no final progress line in %q", progress.String())
	}
	if a, b := dump(t, live), dump(t, rebuilt); !bytes.Equal(a, b) {
		t.Fatalf("rebuilt read model differs from the incremental one (%d vs %d bytes of dump)", len(a), len(b))
	}
	if _, err := os.Stat(rebuilt + ".rebuild"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

// progressSeen keeps a rebuild's progress lines and what RebuildProgress
// said as they were written.
type progressSeen struct {
	bytes.Buffer
	running bool
	total   uint64
}

func (p *progressSeen) Write(b []byte) (int, error) {
	if _, total, running := projector.RebuildProgress(); running {
		p.running, p.total = true, total
	}
	return p.Buffer.Write(b)
}

func TestInterruptedRebuildKeepsOldModel(t *testing.T) {
	conn, _, path := projected(t, 20000)
	before := dump(t, path)

	ctx, cancel := context.WithCancel(context.Background())
	w := &cancelAfter{n: 3, cancel: cancel}
	_, err := projector.Rebuild(ctx, conn, path, w, nil, nil)
	if err == nil {
		t.Skip("the rebuild finished before it could be interrupted")
	}
	if !bytes.Equal(dump(t, path), before) {
		t.Fatal("an interrupted rebuild changed the read model")
	}
}

// cancelAfter cancels a context after n progress writes: an interruption
// in the middle of a rebuild.
type cancelAfter struct {
	n      int
	cancel func()
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return len(p), nil
}

func TestOpenModelRebuildsOtherVersionAndDamage(t *testing.T) {
	conn, dir, path := projected(t, 500)
	want := dump(t, path)

	// A read model of another projection version.
	st, _ := bolt.Open(path, bolt.Options{})
	st.Update(context.Background(), func(tx projections.Tx) error {
		return tx.Bucket(projections.BucketMeta).Put([]byte("version"), []byte{0, 0, 0, 0, 0, 0, 0, 99})
	})
	st.Close()
	var out bytes.Buffer
	st, err := projector.OpenModel(context.Background(), conn, dir, nil, &out, discard())
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if !bytes.Contains(out.Bytes(), []byte("another projection version")) {
		t.Errorf("the rebuild was not announced: %q", out.String())
	}
	if !bytes.Equal(dump(t, path), want) {
		t.Error("rebuilt model differs")
	}

	// A file that is not a bbolt file at all.
	os.WriteFile(path, bytes.Repeat([]byte("x"), 8192), 0o600)
	st, err = projector.OpenModel(context.Background(), conn, dir, nil, io.Discard, discard())
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if !bytes.Equal(dump(t, path), want) {
		t.Error("model rebuilt from damage differs")
	}
	aside, _ := filepath.Glob(path + ".damaged-*")
	if len(aside) != 1 {
		t.Errorf("damaged file not kept aside: %v", aside)
	}

	// A file cut short (truncated under a running projector, a copy
	// stopped midway): bbolt would fault on it, at every start.
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	st, err = projector.OpenModel(context.Background(), conn, dir, nil, io.Discard, discard())
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if !bytes.Equal(dump(t, path), want) {
		t.Error("model rebuilt from a file cut short differs")
	}
}

// sealedModel is a folder holding the read model of 50 events, changed by
// change (nil for none) and closed sealed, as a clean stop leaves it, with
// a connection to its stream and a closed one, on which a rebuild fails.
func sealedModel(t *testing.T, change func(projections.Tx) error) (conn, gone *stream.Conn, dir, path string) {
	t.Helper()
	srv := natstest.Server(t)
	conn = natstest.Conn(t, srv)
	fill(t, conn, 50)
	dir = t.TempDir()
	path = filepath.Join(dir, projector.ModelFile)
	project(t, conn, path)
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		if err := st.Update(context.Background(), change); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SealAndClose(context.Background()); err != nil {
		t.Fatal(err)
	}
	gone = natstest.Conn(t, srv)
	gone.Close()
	return conn, gone, dir, path
}

// TestSealedOtherVersionSurvivesAFailedRebuild: a sealed read model of
// another projection version whose rebuild fails (here the stream is
// gone) is still that read model on the next start, with its
// subscriptions to carry over, not a file taken for damaged because
// opening it to check it changed its bytes under the seal.
func TestSealedOtherVersionSurvivesAFailedRebuild(t *testing.T) {
	conn, gone, dir, path := sealedModel(t, func(tx projections.Tx) error {
		return tx.Bucket(projections.BucketMeta).Put([]byte("version"), []byte{0, 0, 0, 0, 0, 0, 0, 99})
	})
	if _, err := projector.OpenModel(context.Background(), gone, dir, nil, io.Discard, discard()); err == nil {
		t.Fatal("rebuilt without a stream")
	}
	if _, err := bolt.VerifyFile(context.Background(), path); err != nil {
		t.Fatalf("after the failed rebuild: %v", err)
	}
	st, err := projector.OpenModel(context.Background(), conn, dir, nil, io.Discard, discard())
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if aside, _ := filepath.Glob(path + ".damaged-*"); len(aside) > 0 {
		t.Errorf("the old model was taken for damaged: %v", aside)
	}
}

// TestDamagedModelTakesItsSealAside: a sealed file found damaged is kept
// aside with its seal gone, so that when the rebuild after it dies, the
// file the next start makes is not judged by the old seal and taken for
// damaged in turn.
func TestDamagedModelTakesItsSealAside(t *testing.T) {
	conn, gone, dir, path := sealedModel(t, nil)
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0xff
	os.WriteFile(path, b, 0o600)
	if _, err := projector.OpenModel(context.Background(), gone, dir, nil, io.Discard, discard()); err == nil {
		t.Fatal("rebuilt without a stream")
	}
	if sealed, _ := bolt.VerifyFile(context.Background(), path); sealed {
		t.Fatal("the damaged file's seal stayed behind")
	}
	for range 2 { // the second start finds the first's file, unsealed as after a crash
		st, err := projector.OpenModel(context.Background(), conn, dir, nil, io.Discard, discard())
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	if aside, _ := filepath.Glob(path + ".damaged-*"); len(aside) != 1 {
		t.Errorf("damaged files kept aside: %v, want the one", aside)
	}
}

// TestStaleRebuildFile: the file a killed rebuild leaves is removed when
// the model is next opened; while another rebuild holds it, a second
// rebuild refuses rather than clobber it.
func TestStaleRebuildFile(t *testing.T) {
	conn, dir, path := projected(t, 50)
	tmp := projector.RebuildFile(path)

	held, err := bolt.Open(tmp, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := projector.Rebuild(context.Background(), conn, path, nil, nil, nil); !errors.Is(err, bolt.ErrLocked) {
		t.Errorf("rebuild beside another: %v, want ErrLocked", err)
	}
	held.Close() // the other rebuild is killed

	st, err := projector.OpenModel(context.Background(), conn, dir, nil, nil, discard())
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed rebuild's file is still there: %v", err)
	}
}

// projected is a stream of n synthetic events on a server of its own and
// its read model, projected into dir's ModelFile at path.
func projected(t *testing.T, n int) (conn *stream.Conn, dir, path string) {
	t.Helper()
	conn = natstest.Conn(t, natstest.Server(t))
	fill(t, conn, n)
	dir = t.TempDir()
	path = filepath.Join(dir, projector.ModelFile)
	project(t, conn, path)
	return conn, dir, path
}

// TestModelAheadOfTheStream: a read model that holds more of the stream
// than the stream has (the stream restored from an older backup) would
// skip every new event up to its checkpoint. The projector refuses to
// run on it; opening it keeps it aside and rebuilds from the stream.
func TestModelAheadOfTheStream(t *testing.T) {
	_, dir, path := projected(t, 60)
	older := natstest.Conn(t, natstest.Server(t))
	fill(t, older, 20)

	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = projector.New(older, st, projector.Config{Logger: discard()}).Run(context.Background())
	st.Close()
	if !errors.Is(err, projector.ErrAheadOfStream) {
		t.Fatalf("run on a model ahead of the stream: %v, want ErrAheadOfStream", err)
	}

	openedAsRebuilt(t, context.Background(), older, dir, path)
	if aside, _ := filepath.Glob(path + ".other-stream-*"); len(aside) != 1 {
		t.Errorf("the model of the other stream was not kept aside: %v", aside)
	}
}

// TestStopWhileCheckingKeepsTheModel: a start stopped while it checks the
// read model (a signal, a deadline) says so; the file is not taken for
// damaged, kept aside and rebuilt.
func TestStopWhileCheckingKeepsTheModel(t *testing.T) {
	conn, _, dir, path := sealedModel(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := projector.OpenModel(ctx, conn, dir, nil, io.Discard, discard()); !errors.Is(err, context.Canceled) {
		t.Fatalf("open with the context done: %v, want context.Canceled", err)
	}
	if aside, _ := filepath.Glob(path + ".*-*"); len(aside) > 0 {
		t.Errorf("the model was kept aside: %v", aside)
	}
	if sealed, err := bolt.VerifyFile(context.Background(), path); !sealed || err != nil {
		t.Errorf("the model's seal: %v %v, want it whole", sealed, err)
	}
}
