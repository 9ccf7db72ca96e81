package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-news/parley/internal/events"
)

// TestUntilAnswered: a call that gets no answer is asked again until it
// does; a stop says it was a stop (context.Canceled), which the commands
// tell from giving up; an answer that is an error ends the wait.
func TestUntilAnswered(t *testing.T) {
	ctx := context.Background()
	tries := 0
	err := UntilAnswered(ctx, slog.Default(), "twice unanswered", func(ctx context.Context) error {
		if tries++; tries < 3 {
			return context.DeadlineExceeded
		}
		return nil
	})
	if err != nil || tries != 3 {
		t.Errorf("unanswered twice: %v after %d tries, want nil after 3", err, tries)
	}

	stop, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	err = UntilAnswered(stop, slog.Default(), "stopped", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("a stopped wait: %v, want context.Canceled", err)
	}

	for _, answer := range []error{
		&jetstream.APIError{Code: 400, ErrorCode: 10058, Description: "stream name already in use with a different configuration"},
		fmt.Errorf("create: %w", nats.ErrPermissionViolation),
		jetstream.ErrJetStreamNotEnabled,
	} {
		tries = 0
		err = UntilAnswered(ctx, slog.Default(), "refused", func(ctx context.Context) error { tries++; return answer })
		if !errors.Is(err, answer) || tries != 1 {
			t.Errorf("an answer (%v): %v after %d tries, want it at once", answer, err, tries)
		}
	}
}

// TestRetriedAppendTellsWhoStoredIt: an append sent again after its
// answer was lost (retried) finds its event stored. It was appended when
// the stored message is its own first attempt, and is a duplicate when
// the event was stored before, by another append: a batch refused for
// that, whose refusal was lost, must not report the old event appended.
func TestRetriedAppendTellsWhoStoredIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := StartServer(ctx, ServerConfig{Dir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	c, err := Connect(ctx, Config{URL: srv.ClientURL(), Name: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ev := func(id string) events.Event {
		return events.Event{ID: id, Type: "statement", OccurredAt: events.MustTime("2025-11-21"), Title: "T",
			Sources: []events.Source{{Outlet: "AP"}}}
	}
	if r := c.Append(ctx, []events.Event{ev("before")}, ""); r[0].Status != Appended {
		t.Fatalf("first append: %+v", r[0])
	}
	msgs := c.messages([]events.Event{ev("before"), ev("lost")}, "")
	// The first attempt of "lost" stored it; its answer never came.
	if _, err := c.js.PublishMsg(ctx, msgs[1]); err != nil {
		t.Fatal(err)
	}
	rs := c.appendEach(ctx, msgs, true)
	for i, want := range []Status{Duplicate, Appended} {
		if rs[i].Status != want {
			t.Errorf("retried append of %s: %s %v, want %s", rs[i].ID, rs[i].Status, rs[i].Err, want)
		}
	}
}
