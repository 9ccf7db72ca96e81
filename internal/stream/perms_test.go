package stream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/natstest"
	"github.com/parley-news/parley/internal/stream"
)

// TestStreamSettingsOnlyAnOperatorChanges runs the ingest's user of
// deploy/nats/accounts.conf, which may create the stream but not update
// it: it creates a missing stream, uses one an operator set otherwise as
// it is (without waiting out the whole start), and the operator's user
// sets the settings back.
func TestStreamSettingsOnlyAnOperatorChanges(t *testing.T) {
	srv := natstest.WithAccounts(t, `
  PARLEY {
    jetstream: enabled
    users: [
      { user: ingest, password: i, permissions {
          publish { allow: ["parley.events.>", "$JS.API.INFO", "$JS.API.STREAM.INFO.PARLEY", "$JS.API.STREAM.CREATE.PARLEY", "$JS.API.STREAM.MSG.GET.PARLEY", "$JS.API.DIRECT.GET.PARLEY.>"] }
          subscribe { allow: ["_INBOX.>"] } } }
      { user: admin, password: a }
    ]
  }
`)
	old := stream.UpdateWait
	stream.UpdateWait = 500 * time.Millisecond
	t.Cleanup(func() { stream.UpdateWait = old })
	url := func(user, pass string) string { return fmt.Sprintf("nats://%s:%s@%s", user, pass, srv.Addr()) }
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var logs bytes.Buffer
	connect := func(user, pass string) {
		t.Helper()
		c, err := stream.Connect(ctx, stream.Config{URL: url(user, pass), Name: t.Name(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatalf("connect as %s: %v", user, err)
		}
		c.Close()
	}
	description := func() string {
		t.Helper()
		nc, err := nats.Connect(url("admin", "a"))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		s, err := js.Stream(ctx, stream.DefaultStreamName)
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().Config.Description
	}

	connect("ingest", "i") // creates it
	want := description()

	// An operator sets it otherwise (or an older version made it so).
	nc, err := nats.Connect(url("admin", "a"))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	s, _ := js.Stream(ctx, stream.DefaultStreamName)
	cfg := s.CachedInfo().Config
	cfg.Description = "set by hand"
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	nc.Close()

	start := time.Now()
	connect("ingest", "i")
	if d := description(); d != "set by hand" {
		t.Errorf("the ingest's user changed the stream: %q", d)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("connecting took %s", waited)
	}
	// deploy/README.md quotes it.
	if !strings.Contains(logs.String(), "stream settings differ and this user may not update them (permission refused)") {
		t.Errorf("the refusal was not told as one: %s", logs.String())
	}
	connect("admin", "a")
	if d := description(); d != want {
		t.Errorf("after the operator's connect: %q, want %q", d, want)
	}
}

// TestStreamNotUpdatedSaysWhy: a user that may update the stream, whose
// update the server refuses (a change of storage it cannot make) or that
// gets no answer in time, is told which, not that it may not update it.
func TestStreamNotUpdatedSaysWhy(t *testing.T) {
	url := natstest.Server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	// Set otherwise by hand, in a way no update can change.
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: stream.DefaultStreamName, Subjects: []string{stream.EventsSubjects}, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	old := stream.UpdateWait
	t.Cleanup(func() { stream.UpdateWait = old })
	cases := []struct {
		name string
		wait time.Duration
		want string
	}{
		{"refused by the server", 5 * time.Second, "the server refused to update them"},
		// Over before any answer can come: what a busy server looks like.
		{"no answer", time.Nanosecond, "the update got no answer within 1ns"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stream.UpdateWait = tc.wait
			var logs bytes.Buffer
			c, err := stream.Connect(ctx, stream.Config{URL: url, Name: t.Name(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if !strings.Contains(logs.String(), tc.want) || strings.Contains(logs.String(), "may not update") {
				t.Errorf("logged %q, want %q", logs.String(), tc.want)
			}
		})
	}
}

// TestStreamCreateRefusedSaysSo: a user that may only read the stream
// (the projector's) and finds none is told that it may not create it,
// not that its request timed out: the server's refusal comes as a
// permissions error on the connection, never as an answer.
func TestStreamCreateRefusedSaysSo(t *testing.T) {
	srv := natstest.WithAccounts(t, `
  PARLEY {
    jetstream: enabled
    users: [
      { user: projector, password: p, permissions {
          publish { allow: ["$JS.API.INFO", "$JS.API.STREAM.INFO.PARLEY", "$JS.API.STREAM.MSG.GET.PARLEY", "$JS.API.DIRECT.GET.PARLEY.>"] }
          subscribe { allow: ["_INBOX.>"] } } }
    ]
  }
`)
	// The create waits for an answer that never comes until ctx ends.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := stream.Connect(ctx, stream.Config{URL: fmt.Sprintf("nats://projector:p@%s", srv.Addr()), Name: t.Name(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil {
		c.Close()
		t.Fatal("connected without a stream, as a user that may not create it")
	}
	if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), "create stream PARLEY: nats: permissions violation") {
		t.Errorf("err = %v, want the permissions violation (deploy/README.md quotes it)", err)
	}
}

// TestAppendRefusedByPermissions: a user that may read the stream but not
// publish events (the projector's, in deploy/nats/accounts.conf) gets each
// event failed with the permissions violation, after one unanswered
// attempt, not an append retried until its caller gives up with "context
// deadline exceeded": the server refuses such a publish on the connection
// and never answers it, and asking again cannot change that.
func TestAppendRefusedByPermissions(t *testing.T) {
	stream.ShortAppendWaits(t, 300*time.Millisecond)
	srv := natstest.WithAccounts(t, `
  PARLEY {
    jetstream: enabled
    users: [
      { user: projector, password: p, permissions {
          publish { allow: ["$JS.API.INFO", "$JS.API.STREAM.INFO.PARLEY", "$JS.API.STREAM.MSG.GET.PARLEY", "$JS.API.DIRECT.GET.PARLEY.>"] }
          subscribe { allow: ["_INBOX.>"] } } }
      { user: admin, password: a }
    ]
  }
`)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := func(user, pass string) string { return fmt.Sprintf("nats://%s:%s@%s", user, pass, srv.Addr()) }
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	admin, err := stream.Connect(ctx, stream.Config{URL: url("admin", "a"), Name: t.Name(), Logger: quiet}) // creates the stream
	if err != nil {
		t.Fatal(err)
	}
	admin.Close()
	c, err := stream.Connect(ctx, stream.Config{URL: url("projector", "p"), Name: t.Name(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ev := func(id string) events.Event {
		return events.Event{ID: id, Type: "statement", OccurredAt: events.MustTime("2025-11-21"), Title: "T",
			Sources: []events.Source{{Outlet: "AP"}}}
	}
	for _, batch := range [][]events.Event{{ev("alone")}, {ev("first"), ev("second")}} {
		rs := c.Append(ctx, batch, "")
		if ctx.Err() != nil {
			t.Fatalf("append of %d waited until its context ended: %+v", len(batch), rs)
		}
		for _, r := range rs {
			if r.Status != stream.Failed || !errors.Is(r.Err, nats.ErrPermissionViolation) {
				t.Errorf("append of %s: %s %v, want failed with the permissions violation", r.ID, r.Status, r.Err)
			}
		}
	}
}
