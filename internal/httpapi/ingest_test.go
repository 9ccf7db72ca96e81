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
// only so long, then answers 503 with each record failed, rather than
// hold the client until it gives up.
func TestPostWhileTheStreamIsDown(t *testing.T) {
	srv := natstest.Stoppable(t)
	conn := natstest.Conn(t, srv.ClientURL())
	srv.Shutdown()

	mux := http.NewServeMux()
	(&httpapi.Ingest{
		Ingester:      &ingest.Ingester{Stream: conn, Decoder: events.Decoder{Vocabulary: data.Vocabulary()}},
		AppendTimeout: 500 * time.Millisecond,
	}).Register(mux)
	body := `{"id":"while-down","type":"statement","occurred_at":"2025-11-24","title":"T","sources":[{"outlet":"AP"}]}`
	start := time.Now()
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/events", strings.NewReader(body)))
	// Either every record failed, or the ingest could not start.
	var ans struct {
		Error   string `json:"error"`
		Failed  int    `json:"failed"`
		Results []struct{ Status string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || rec.Code != 503 ||
		!(ans.Failed == 1 && ans.Results[0].Status == "failed" || strings.Contains(ans.Error, "stream is unavailable")) {
		t.Fatalf("post while the stream is down: %d %s", rec.Code, rec.Body)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("answered after %v, with a timeout of 500ms", took.Round(time.Millisecond))
	}
}
