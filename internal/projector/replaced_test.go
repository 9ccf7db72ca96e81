package projector_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/natstest"
	"github.com/parley-news/parley/internal/projector"
	"github.com/parley-news/parley/internal/stream"
	"github.com/parley-news/parley/internal/synth"
)

// A stream deleted and created again under a running projector (a NATS
// server that lost its store, a restore from another backup) used to be
// followed on from the checkpoint: the ordered consumer carried on in
// the new stream, the events up to the checkpoint were skipped for good
// and the rest applied on top of the old stream's, ready all along, and
// a start afterwards served that mix once the new stream was longer.
// Run ends instead, not ready, and the next open rebuilds from the new
// stream.
func TestStreamReplacedUnderARunningProjector(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	url := natstest.Server(t)
	conn := natstest.Conn(t, url)
	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 9, Amends: 8}
	evs := g.Events(300)
	appendAll(t, conn, evs[:100])
	dir := t.TempDir()
	path := filepath.Join(dir, projector.ModelFile)
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := projector.New(conn, st, projector.Config{Logger: discard()})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	if err := p.WaitFor(ctx, 100); err != nil {
		t.Fatal(err)
	}

	if err := conn.JetStream().DeleteStream(ctx, stream.DefaultStreamName); err != nil {
		t.Fatal(err)
	}
	other := recreate(t, ctx, url)
	appendAll(t, other, evs[100:])
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		err = errors.New("still running")
	}
	st.Close()
	if !errors.Is(err, projector.ErrOtherStream) {
		t.Fatalf("Run on a stream replaced under it: %v (applied %d), want ErrOtherStream", err, p.Applied())
	}
	if p.Ready() {
		t.Error("ready on a stream replaced under it")
	}

	// The new stream is longer than the checkpoint now: only the stream's
	// identity tells the model is not its own.
	openedAsRebuilt(t, ctx, other, dir, path)
}

// A read model that holds nothing yet belongs to any stream: one made
// before its stream was deleted and created again (a development server
// reset) is not refused at every start.
func TestEmptyModelFollowsANewStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := natstest.Server(t)
	conn := natstest.Conn(t, url)
	dir := t.TempDir()
	project(t, conn, filepath.Join(dir, projector.ModelFile)) // nothing to apply
	if err := conn.JetStream().DeleteStream(ctx, stream.DefaultStreamName); err != nil {
		t.Fatal(err)
	}
	other := recreate(t, ctx, url)
	fill(t, other, 30)
	st, err := projector.OpenModel(ctx, other, dir, nil, io.Discard, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := projector.New(other, st, projector.Config{Logger: discard()})
	done := make(chan error, 1)
	rctx, stop := context.WithCancel(ctx)
	go func() { done <- p.Run(rctx) }()
	werr := p.WaitFor(ctx, 30)
	stop()
	if err := <-done; err != nil || werr != nil {
		t.Fatalf("run on an empty model of a stream since replaced: %v (wait: %v)", err, werr)
	}
}

// recreate connects to url, which creates the stream again, empty, once
// the server has removed the deleted one's store (it refuses to create
// it meanwhile).
func recreate(t *testing.T, ctx context.Context, url string) *stream.Conn {
	t.Helper()
	for i := 0; ; i++ {
		c, err := stream.Connect(ctx, stream.Config{URL: url, Name: t.Name(), Logger: discard()})
		if err == nil {
			t.Cleanup(c.Close)
			return c
		}
		if i == 50 {
			t.Fatalf("create the stream again: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
