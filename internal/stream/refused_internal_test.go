package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/parley-news/parley/internal/events"
)

// TestAppendRefusedByPermissions: a user that may read the stream but not
// publish events (the projector's, in deploy/nats/accounts.conf) gets each
// event failed with the permissions violation, after one unanswered
// attempt, not an append retried until its caller gives up with "context
// deadline exceeded": the server refuses such a publish on the connection
// and never answers it, and asking again cannot change that.
func TestAppendRefusedByPermissions(t *testing.T) {
	oldAck, oldCommit := publishAckTimeout, batchCommitWait
	publishAckTimeout, batchCommitWait = 300*time.Millisecond, 300*time.Millisecond
	t.Cleanup(func() { publishAckTimeout, batchCommitWait = oldAck, oldCommit })
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`
listen: "127.0.0.1:-1"
jetstream { store_dir: %q }
accounts {
  PARLEY {
    jetstream: enabled
    users: [
      { user: projector, password: p, permissions {
          publish { allow: ["$JS.API.INFO", "$JS.API.STREAM.INFO.PARLEY", "$JS.API.STREAM.MSG.GET.PARLEY", "$JS.API.DIRECT.GET.PARLEY.>"] }
          subscribe { allow: ["_INBOX.>"] } } }
      { user: admin, password: a }
    ]
  }
}
`, filepath.Join(dir, "js"))), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	opts.NoSigs, opts.NoLog = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := func(user, pass string) string { return fmt.Sprintf("nats://%s:%s@%s", user, pass, srv.Addr()) }
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	admin, err := Connect(ctx, Config{URL: url("admin", "a"), Name: t.Name(), Logger: quiet}) // creates the stream
	if err != nil {
		t.Fatal(err)
	}
	admin.Close()
	c, err := Connect(ctx, Config{URL: url("projector", "p"), Name: t.Name(), Logger: quiet})
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
			if r.Status != Failed || !errors.Is(r.Err, nats.ErrPermissionViolation) {
				t.Errorf("append of %s: %s %v, want failed with the permissions violation", r.ID, r.Status, r.Err)
			}
		}
	}
}
