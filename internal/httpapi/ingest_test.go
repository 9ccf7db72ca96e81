package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/httpapi"
	"github.com/parley-news/parley/internal/ingest"
	"github.com/parley-news/parley/internal/natstest"
)

// TestPostWhileTheStreamIsDown: a post waits for an unreachable stream
// only so long, then answers 503 with a result for every record (each
// valid one failed, an invalid one rejected) and the reason, rather than
// hold the client until it gives up.
func TestPostWhileTheStreamIsDown(t *testing.T) {
	srv := natstest.Stoppable(t)
	conn := natstest.Conn(t, srv.ClientURL())
	srv.Shutdown()

	mux := http.NewServeMux()
	(&httpapi.Ingest{
		// Batches of one: the post stops at its first record, before
		// the rest is read.
		Ingester:      &ingest.Ingester{Stream: conn, Decoder: events.Decoder{Vocabulary: data.Vocabulary()}, Batch: 1},
		AppendTimeout: 500 * time.Millisecond,
	}).Register(mux)
	body := `{"id":"while-down","type":"statement","occurred_at":"2025-11-24","title":"T","sources":[{"outlet":"AP"}]}
{"id":"bad","type":"statement","occurred_at":"2025-13-24","title":"T","sources":[{"outlet":"AP"}]}
{"id":"also-down","type":"statement","occurred_at":"2025-11-25","title":"T","sources":[{"outlet":"AP"}]}`
	start := time.Now()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/v1/events", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	mux.ServeHTTP(rec, req)
	var ans struct {
		Error    string `json:"error"`
		Failed   int    `json:"failed"`
		Rejected int    `json:"rejected"`
		Results  []struct{ Status, ID string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || rec.Code != 503 || ans.Failed != 2 || ans.Rejected != 1 ||
		!strings.Contains(ans.Error, "stream is unavailable") {
		t.Fatalf("post while the stream is down: %d %s", rec.Code, rec.Body)
	}
	var got []string
	for _, r := range ans.Results {
		got = append(got, r.ID+" "+r.Status)
	}
	if want := "while-down failed, bad rejected, also-down failed"; strings.Join(got, ", ") != want {
		t.Errorf("results %q, want %q", strings.Join(got, ", "), want)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("answered after %v, with a timeout of 500ms", took.Round(time.Millisecond))
	}
}
