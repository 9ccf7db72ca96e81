package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/natstest"
)

// TestFilesStopWhenTheStreamStaysAway: a file ingested while the stream
// is gone says that it waits, gives up after Wait, names the records that
// did not go in with one reason, and says the rest were not read.
func TestFilesStopWhenTheStreamStaysAway(t *testing.T) {
	defer func(d time.Duration) { waitNotice = d }(waitNotice)
	waitNotice = 100 * time.Millisecond

	srv := natstest.Stoppable(t)
	conn := natstest.Conn(t, srv.ClientURL())
	srv.Shutdown()

	var lines []string
	for i := range 5 {
		lines = append(lines, fmt.Sprintf(`{"id":"away-%d","type":"statement","occurred_at":"2025-11-24","title":"T","sources":[{"outlet":"AP"}]}`, i))
	}
	file := filepath.Join(t.TempDir(), "in.ndjson")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	in := &Ingester{Stream: conn, Decoder: events.Decoder{Vocabulary: data.Vocabulary()}, Batch: 2,
		Progress: &errOut, Wait: 500 * time.Millisecond}
	start := time.Now()
	ok, err := in.Files(context.Background(), []string{file}, nil, &out, &errOut)
	took := time.Since(start)
	if ok || err != nil {
		t.Fatalf("Files: ok %v, err %v; want not ok, and the reason per file", ok, err)
	}
	if took > 10*time.Second {
		t.Errorf("gave up after %s, with a wait of 500ms", took.Round(time.Millisecond))
	}
	for _, want := range []string{
		"in.ndjson: waiting for the stream to answer",
		"failed: " + file + ": records 1 to 2: the stream did not answer within 500ms",
		"in.ndjson: stopped after record 2: the stream did not answer within 500ms; the records after it were not read",
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, errOut.String())
		}
	}
	if !strings.Contains(out.String(), "0 appended, 0 duplicate, 0 rejected, 2 failed") {
		t.Errorf("counts: %s", out.String())
	}

	// Ingest itself returns the sentinel, for callers that decide on it.
	_, err = in.Ingest(context.Background(), "again", strings.NewReader(lines[0]), events.NDJSON)
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("Ingest: %v, want ErrUnreachable", err)
	}
}
