package stream_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/natstest"
	"github.com/parley-news/parley/internal/stream"
)

// TestAtomicBatchFallsBackPerRecord appends a batch in which one id is
// already stored: the atomic batch is refused whole, and each record gets
// its own fate: the old one a duplicate, the rest appended, in order.
func TestAtomicBatchFallsBackPerRecord(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := natstest.Conn(t, natstest.Server(t))
	var evs []events.Event
	for i := range 1200 {
		evs = append(evs, event(fmt.Sprintf("b%04d", i), "t"))
	}
	first := conn.Append(ctx, evs[:600], "")
	for i, r := range first {
		if r.Status != stream.Appended || r.Seq != uint64(i+1) {
			t.Fatalf("first append %d: %+v", i, r)
		}
	}
	// 550..1199: 50 stored already, in the first atomic batch of this call.
	second := conn.Append(ctx, evs[550:], "")
	for i, r := range second {
		want := stream.Appended
		if i < 50 {
			want = stream.Duplicate
		}
		if r.Status != want || r.ID != evs[550+i].ID {
			t.Fatalf("second append %d (%s): %s %v, want %s", i, r.ID, r.Status, r.Err, want)
		}
	}
	if last, _ := conn.LastSeq(ctx); last != 1200 {
		t.Errorf("stream holds %d, want 1200", last)
	}
}

// TestAppendCancelledKeepsOneResultPerEvent appends several atomic
// batches with a context that has ended: every event still has its
// result, in order, and the batches never sent failed and are not stored.
// (The first batch may have gone out before its acknowledgement was given
// up on: a failure then means the outcome is unknown, and sending the
// event again is safe.)
func TestAppendCancelledKeepsOneResultPerEvent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := natstest.Conn(t, natstest.Server(t))
	var evs []events.Event
	for i := range 3 * stream.AtomicBatch {
		evs = append(evs, event(fmt.Sprintf("c%04d", i), "t"))
	}
	ended, end := context.WithCancel(ctx)
	end()
	rs := conn.Append(ended, evs, "")
	if len(rs) != len(evs) {
		t.Fatalf("%d results for %d events", len(rs), len(evs))
	}
	for i, r := range rs {
		if r.ID != evs[i].ID {
			t.Fatalf("result %d is for %s, want %s", i, r.ID, evs[i].ID)
		}
		if i < stream.AtomicBatch {
			continue
		}
		if r.Status != stream.Failed || !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("%s: %s %v, want failed: context canceled", r.ID, r.Status, r.Err)
		}
		if _, ok, err := conn.Stored(ctx, r.ID); err != nil || ok {
			t.Fatalf("%s reported failed but stored (%v)", r.ID, err)
		}
	}
}

// TestAppendThroughARestart: the server goes away in the middle of an
// append and comes back on the same store: every event is appended
// exactly once, those whose answers were lost sent again together.
func TestAppendThroughARestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	srv, err := stream.StartServer(ctx, stream.ServerConfig{Dir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	url := srv.ClientURL()
	conn := natstest.Conn(t, url)
	var evs []events.Event
	for i := range 3000 {
		evs = append(evs, event(fmt.Sprintf("r%04d", i), "t"))
	}
	done := make(chan []stream.Result, 1)
	go func() { done <- conn.Append(ctx, evs, "") }()
	time.Sleep(20 * time.Millisecond)
	srv.Shutdown()
	time.Sleep(time.Second)
	srv, err = stream.StartServer(ctx, stream.ServerConfig{Dir: dir, Listen: strings.TrimPrefix(url, "nats://")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	seqs := map[uint64]bool{}
	for i, r := range <-done {
		if r.Status != stream.Appended || r.ID != evs[i].ID || seqs[r.Seq] {
			t.Fatalf("event %d: %+v", i, r)
		}
		seqs[r.Seq] = true
	}
	if last, err := conn.LastSeq(ctx); err != nil || last != 3000 {
		t.Errorf("the stream's last sequence is %d (%v), want 3000", last, err)
	}
}

// TestAppendLargerThanMaxPayload appends, to a server whose max_payload
// (a stock server's is 1 MiB; this one's is 4 KiB) one event exceeds, a
// batch holding that event and one stored already: the large one fails
// at once for what it is, not retried until ctx ends (it never can go
// in), and the others keep their true fates, the stored one a duplicate.
func TestAppendLargerThanMaxPayload(t *testing.T) {
	srv := natstest.WithOptions(t, &server.Options{Host: "127.0.0.1", JetStream: true, MaxPayload: 4 << 10})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := natstest.Conn(t, srv.ClientURL())
	if r := conn.Append(ctx, []events.Event{event("old", "Old")}, ""); r[0].Status != stream.Appended {
		t.Fatalf("first append: %+v", r[0])
	}
	big := event("big", "Big")
	big.Summary = strings.Repeat("x", 4000)
	rs := conn.Append(ctx, []events.Event{event("old", "Old"), event("new", "New"), big, event("after", "After")}, "")
	want := []stream.Status{stream.Duplicate, stream.Appended, stream.Failed, stream.Appended}
	for i, r := range rs {
		if r.Status != want[i] {
			t.Errorf("append %d (%s) = %s %v, want %s", i, r.ID, r.Status, r.Err, want[i])
		}
	}
	if err := rs[2].Err; !errors.Is(err, nats.ErrMaxPayload) || !errors.Is(err, stream.ErrTooLarge) || ctx.Err() != nil {
		t.Errorf("large event's error %v (ctx: %v), want the server's payload limit, at once", err, ctx.Err())
	}
}
