package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/ingest"
	"github.com/parley-news/parley/internal/natstest"
	"github.com/parley-news/parley/internal/stream"
)

// TestFilesAsAUserThatMayNotAppend: ingest run as a NATS user that may
// read the stream but not publish events (the projector's) says which
// user to run as, not to send the same input again as the same user,
// which cannot help; the records are told failed, one line for all of
// them, and the run is refused (false, no error: exit status 1), as
// docs/cli.md says. It waits out one unanswered publish (10 s): the
// server refuses it on the connection and never answers it.
func TestFilesAsAUserThatMayNotAppend(t *testing.T) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := func(user, pass string) string { return fmt.Sprintf("nats://%s:%s@%s", user, pass, srv.Addr()) }
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	admin, err := stream.Connect(ctx, stream.Config{URL: url("admin", "a"), Name: t.Name(), Logger: quiet}) // creates the stream
	if err != nil {
		t.Fatal(err)
	}
	admin.Close()
	conn, err := stream.Connect(ctx, stream.Config{URL: url("projector", "p"), Name: t.Name(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)

	path := filepath.Join(t.TempDir(), "in.ndjson")
	in := `{"id":"refused-1","type":"statement","occurred_at":"2025-11-21","title":"T","sources":[{"outlet":"AP"}]}
{"id":"refused-2","type":"statement","occurred_at":"2025-11-22","title":"T","sources":[{"outlet":"AP"}]}
`
	if err := os.WriteFile(path, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	ing := &ingest.Ingester{Stream: conn, Decoder: events.Decoder{Vocabulary: data.Vocabulary()}}
	var out, errOut bytes.Buffer
	ok, err := ing.Files(ctx, []string{path}, nil, &out, &errOut)
	if ctx.Err() != nil {
		t.Fatalf("ingest waited until its context ended: %s", errOut.String())
	}
	if ok || err != nil {
		t.Errorf("Files: %v %v, want false and no error (exit status 1)", ok, err)
	}
	if want := path + ": 0 appended, 0 duplicate, 0 rejected, 2 failed\n"; out.String() != want {
		t.Errorf("counts %q, want %q", out.String(), want)
	}
	got := strings.ReplaceAll(errOut.String(), path, "in.ndjson")
	want := `  failed: in.ndjson: records 1 to 2: append <id>: nats: permissions violation to publish to "parley.events.<id>": this user may not append events (on a secured cluster, appends go through the ingest)
  2 failed: refused by the server: this NATS user may not append events; run ingest as the NATS user ingest (its -creds file or PARLEY_NATS_CREDS, or ingest:PASSWORD in the -nats URL; deploy/README.md, "Users and permissions"), then ingest the same input again
`
	if got != want {
		t.Errorf("printed\n%s\nwant\n%s", got, want)
	}
}
