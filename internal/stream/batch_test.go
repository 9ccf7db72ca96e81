package stream_test

import (
	"context"
	"fmt"
	"testing"
	"time"

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
