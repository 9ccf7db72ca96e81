package stream_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/natstest"
	"github.com/parley-news/parley/internal/stream"
)

func event(id, title string) events.Event {
	return events.Event{ID: id, Type: "statement", OccurredAt: events.MustTime("2025-11-21"), Title: title,
		Sources: []events.Source{{Outlet: "Reuters"}}}
}

func TestAppendOnceAndConflict(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := natstest.Conn(t, natstest.Server(t))

	first := conn.Append(ctx, []events.Event{event("a", "A"), event("b", "B"), event("a", "A")}, "")
	want := []stream.Status{stream.Appended, stream.Appended, stream.Duplicate}
	for i, r := range first {
		if r.Status != want[i] {
			t.Errorf("append %d (%s) = %s %v, want %s", i, r.ID, r.Status, r.Err, want[i])
		}
	}
	again := conn.Append(ctx, []events.Event{event("a", "A"), event("b", "changed")}, "other-source")
	if again[0].Status != stream.Duplicate || again[0].Seq != first[0].Seq {
		t.Errorf("same event again = %+v, want duplicate of seq %d", again[0], first[0].Seq)
	}
	if again[1].Status != stream.Conflict || !errors.Is(again[1].Err, stream.ErrConflict) {
		t.Errorf("same id, other content = %+v, want conflict", again[1])
	}
	if last, _ := conn.LastSeq(ctx); last != 2 {
		t.Errorf("stream holds %d messages, want 2", last)
	}
	for id, want := range map[string]bool{"a": true, "zzz": false} {
		e, got, err := conn.Stored(ctx, id)
		if err != nil || got != want || got && e.ID != id {
			t.Errorf("Stored(%s) = %s, %v, %v; want %v", id, e.ID, got, err, want)
		}
	}
}

// TestAppendRefusesWhatIsNotAnID fails at once an event whose id would
// leave an empty token in its subject, which the server never
// acknowledges, and appends the others in their order.
func TestAppendRefusesWhatIsNotAnID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := natstest.Conn(t, natstest.Server(t))
	for _, evs := range [][]events.Event{
		{event("geneva..talks", "A")},
		{event("c", "C"), event("geneva-talks.", "B"), event("d", "D")},
	} {
		rs := conn.Append(ctx, evs, "")
		if len(rs) != len(evs) {
			t.Fatalf("%d results for %d events", len(rs), len(evs))
		}
		for i, r := range rs {
			bad := !events.ValidID(evs[i].ID)
			switch {
			case r.ID != evs[i].ID:
				t.Errorf("result %d is for %q, want %q", i, r.ID, evs[i].ID)
			case bad && (r.Status != stream.Failed || !errors.Is(r.Err, stream.ErrInvalidID)):
				t.Errorf("%s: %s %v, want failed: %v", r.ID, r.Status, r.Err, stream.ErrInvalidID)
			case !bad && r.Status != stream.Appended:
				t.Errorf("%s: %s %v, want appended", r.ID, r.Status, r.Err)
			}
		}
	}
}

// TestOneServerAStore refuses a second embedded server on a store in use,
// before it opens the store, and lets one start once the first is gone.
func TestOneServerAStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	start := func() (*stream.Server, error) {
		return stream.StartServer(ctx, stream.ServerConfig{Dir: dir, Listen: "127.0.0.1:0"})
	}
	first, err := start()
	if err != nil {
		t.Fatal(err)
	}
	if second, err := start(); !errors.Is(err, stream.ErrStoreInUse) {
		if second != nil {
			second.Shutdown()
		}
		t.Fatalf("second server on the store: %v, want %v", err, stream.ErrStoreInUse)
	}
	first.Shutdown()
	again, err := start()
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	again.Shutdown()
}

func TestConsumeInOrderFromCheckpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := natstest.Conn(t, natstest.Server(t))
	var evs []events.Event
	for i := range 2500 {
		evs = append(evs, event(fmt.Sprintf("e%04d", i), "t"))
	}
	for _, r := range conn.Append(ctx, evs, "") {
		if r.Status != stream.Appended {
			t.Fatalf("append %s: %s %v", r.ID, r.Status, r.Err)
		}
	}
	var got []uint64
	batches := 0
	err := conn.Consume(ctx, stream.ConsumeConfig{From: 101, Until: 2500, BatchMax: 700}, func(_ context.Context, b []stream.Message) error {
		batches++
		if len(b) > 700 {
			t.Errorf("batch of %d, over the maximum", len(b))
		}
		for _, m := range b {
			got = append(got, m.Seq)
			if m.Time.IsZero() {
				t.Errorf("seq %d without a time", m.Seq)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2400 {
		t.Fatalf("consumed %d messages, want 2400", len(got))
	}
	for i, s := range got {
		if s != uint64(101+i) {
			t.Fatalf("message %d has seq %d, want %d: a gap or a reorder", i, s, 101+i)
		}
	}
	if batches < 4 {
		t.Errorf("%d batches for 2400 messages with at most 700 each", batches)
	}
}

// TestPastTheDuplicateWindow appends an id again after the stream's
// duplicate window has passed: the per-subject expectation still refuses
// to store it, and it is told a duplicate (same content) or a conflict.
func TestPastTheDuplicateWindow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := stream.Connect(ctx, stream.Config{URL: natstest.Server(t), DuplicateWindow: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if r := conn.Append(ctx, []events.Event{event("once", "A")}, ""); r[0].Status != stream.Appended {
		t.Fatalf("first append: %+v", r[0])
	}
	time.Sleep(1500 * time.Millisecond) // past the window: the server has forgotten the Msg-Id
	again := conn.Append(ctx, []events.Event{event("once", "A"), event("once", "B")}, "")
	if again[0].Status != stream.Duplicate || again[1].Status != stream.Conflict {
		t.Errorf("after the window: %s and %s, want duplicate and conflict", again[0].Status, again[1].Status)
	}
	if last, _ := conn.LastSeq(ctx); last != 1 {
		t.Errorf("stream holds %d messages, want 1", last)
	}
}

// TestOnConnection: the connection's state is told as it changes, for the
// service to show (parley_nats_connected): up once connected, down when
// the server goes away.
func TestOnConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := natstest.Stoppable(t)
	states := make(chan bool, 8)
	conn, err := stream.Connect(ctx, stream.Config{URL: srv.ClientURL(), Name: t.Name(), OnConnection: func(up bool) { states <- up }})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	srv.Shutdown()
	for _, want := range []bool{true, false} {
		select {
		case got := <-states:
			if got != want {
				t.Fatalf("told %v, want %v", got, want)
			}
		case <-ctx.Done():
			t.Fatalf("not told %v", want)
		}
	}
}
