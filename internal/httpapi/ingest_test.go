package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/iotest"
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
		// A post reads its body whole, then finds the stream down.
		Ingester:      &ingest.Ingester{Stream: conn, Decoder: events.Decoder{Vocabulary: data.Vocabulary()}},
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

// TestPostRefusedWhole: a post the endpoint cannot take as sent is
// refused whole, with a status that says why, and appends nothing: a
// query parameter (a guess at a dry run would otherwise append for
// real), a compressed body, a charset other than UTF-8, more records than
// a body may hold, and a body that does not arrive within the read
// timeout (408: the same body sent again gets through, where a 400 would
// tell the client it was bad).
func TestPostRefusedWhole(t *testing.T) {
	conn := natstest.Conn(t, natstest.Server(t))
	mux := http.NewServeMux()
	(&httpapi.Ingest{
		Ingester:   &ingest.Ingester{Stream: conn, Decoder: events.Decoder{Vocabulary: data.Vocabulary()}},
		MaxRecords: 3,
	}).Register(mux)
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	event := func(id string) string {
		return `{"id":"` + id + `","type":"statement","occurred_at":"2025-11-24","title":"T","sources":[{"outlet":"AP"}]}` + "\n"
	}
	for _, c := range []struct {
		name, query, contentType, encoding string
		body                               io.Reader
		code                               int
		says                               string
	}{
		{"a query parameter", "?dry_run=1", "application/x-ndjson", "", strings.NewReader(event("dry")), 400, `parameter "dry_run": POST /v1/events takes no parameters`},
		{"several, the first by name", "?x=1&w=1&v=1&dry_run=1&u=1", "application/x-ndjson", "", strings.NewReader(event("dry")), 400, `parameter "dry_run": POST /v1/events takes no parameters`},
		{"a query that does not parse", "?dry_run=1;x", "application/x-ndjson", "", strings.NewReader(event("dry")), 400, `parameter dry_run "dry_run=1;x": a ";" in the query`},
		{"gzip", "", "application/x-ndjson", "gzip", strings.NewReader(event("zipped")), 415, `Content-Encoding "gzip" not accepted`},
		{"utf-16", "", "application/json; charset=utf-16", "", strings.NewReader(event("sixteen")), 415, "send UTF-8"},
		{"four records, three allowed", "", "application/x-ndjson", "", strings.NewReader(event("one") + event("two") + event("three") + "{}\n"), 413, "more than 3 records in one body: nothing was appended"},
		{"a body slower than the read timeout", "", "application/x-ndjson", "", &slowReader{data: event("slow"), every: 100 * time.Millisecond}, 408, "did not arrive within the server's read timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", srv.URL+"/v1/events"+c.query, c.body)
			req.Header.Set("Content-Type", c.contentType)
			if c.encoding != "" {
				req.Header.Set("Content-Encoding", c.encoding)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var p httpapi.Problem
			err = json.NewDecoder(resp.Body).Decode(&p)
			resp.Body.Close()
			if err != nil || resp.StatusCode != c.code || !strings.Contains(p.Error, c.says) {
				t.Errorf("%d %q (%v), want %d saying %q", resp.StatusCode, p.Error, err, c.code, c.says)
			}
			if last, err := conn.LastSeq(context.Background()); err != nil || last != 0 {
				t.Errorf("the stream holds %d messages (%v), want none", last, err)
			}
		})
	}
	// Three records are allowed.
	req, _ := http.NewRequest("POST", srv.URL+"/v1/events", strings.NewReader(event("one")+event("two")+event("three")))
	req.Header.Set("Content-Type", "application/x-ndjson; charset=UTF-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("three records: %d", resp.StatusCode)
	}
}

// slowReader gives one byte of data every so often, as a client on a
// slow link sends its body.
type slowReader struct {
	data  string
	every time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, io.EOF
	}
	time.Sleep(r.every)
	p[0], r.data = r.data[0], r.data[1:]
	return 1, nil
}

// TestReadBodyRefusesADeclaredLengthUnread: a body whose Content-Length
// is over the limit is refused before a byte of it is read: a client
// sending 100 MB uploads nothing (with Expect: 100-continue, it is never
// asked to), not the first 8 MiB.
func TestReadBodyRefusesADeclaredLengthUnread(t *testing.T) {
	body := &countingReader{r: strings.NewReader(strings.Repeat("x", 100))}
	r := httptest.NewRequest("POST", "/", body)
	r.ContentLength = 100
	w := httptest.NewRecorder()
	if _, ok := httpapi.ReadBody(w, r, 64, "nothing was made"); ok || w.Code != 413 || !strings.Contains(w.Body.String(), "body larger than 64 bytes: nothing was made") {
		t.Fatalf("answered %v %d %s, want 413", ok, w.Code, w.Body)
	}
	if body.n != 0 {
		t.Errorf("read %d bytes of a body declared too large", body.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestReadBody answers a body it cannot read by why: too large, too
// slow, or broken off.
func TestReadBody(t *testing.T) {
	for _, c := range []struct {
		name string
		body io.Reader
		code int
		says string
	}{
		{"whole", strings.NewReader("{}"), 200, ""},
		{"too large", strings.NewReader(strings.Repeat("x", 65)), 413, "body larger than 64 bytes: nothing was made"},
		{"past the read timeout", iotest.ErrReader(os.ErrDeadlineExceeded), 408, "did not arrive within the server's read timeout: nothing was made"},
		{"broken off", iotest.ErrReader(io.ErrUnexpectedEOF), 400, "read body: unexpected EOF: nothing was made"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			body, ok := httpapi.ReadBody(w, httptest.NewRequest("POST", "/", c.body), 64, "nothing was made")
			if ok != (c.code == 200) || (ok && string(body) != "{}") {
				t.Fatalf("read %q, %v", body, ok)
			}
			if !ok && (w.Code != c.code || !strings.Contains(w.Body.String(), c.says)) {
				t.Errorf("answered %d %s, want %d saying %q", w.Code, w.Body, c.code, c.says)
			}
		})
	}
}

// TestPostTellsEveryMistakeOfARecord: a posted record with an unknown
// field among other mistakes is answered rejected with every mistake,
// each its own error with field, value and line, in JSON and in YAML; a
// good record beside it is appended.
func TestPostTellsEveryMistakeOfARecord(t *testing.T) {
	conn := natstest.Conn(t, natstest.Server(t))
	mux := http.NewServeMux()
	(&httpapi.Ingest{Ingester: &ingest.Ingester{Stream: conn, Decoder: events.Decoder{Vocabulary: data.Vocabulary()}}}).Register(mux)
	type fieldError struct {
		Field, Value, Reason string
		Line                 int
	}
	for _, c := range []struct {
		name, contentType, body string
		want                    []fieldError // the errors of the rejected record
	}{
		{"ndjson", "application/x-ndjson", `{"id":"post-good","type":"talks","occurred_at":"2025-11-23","title":"Talks","sources":[{"outlet":"AP"}]}
{"id":"post-bad","titel":"Talks","type":"statment","occurred_at":"2025-11-23T10:00","sources":[{"outlet":"AP","url":"ap.example"}]}`,
			[]fieldError{
				{"titel", "", "unknown field", 2},
				{"type", "statment", "not in the vocabulary", 2},
				{"occurred_at", "2025-11-23T10:00", "not a date or time (want 2006-01-02, 2006-01-02T15:04Z or RFC 3339): add the offset, Z for UTC or as +01:00: a time without one could be of any zone", 2},
				{"title", "", "required", 2},
				{"sources[0].url", "ap.example", "not an absolute http or https URL", 2},
			}},
		{"yaml", "application/yaml", `- id: post-good-yaml
  type: talks
  occurred_at: 2025-11-23
  title: Talks
  sources: [{outlet: AP}]
- id: post-bad-yaml
  type: talks
  occurred_at: 2025-11-23
  title: Talks
  sources: [{outlet: AP}]
  positions:
    - party: us
      isue: army-cap
      stance: proposes
      value: 600000
    - {party: zz, issue: army-cap, stance: proposes}
`, []fieldError{
			{"positions[0].isue", "", "unknown field", 13},
			{"positions[0].issue", "", "required", 12},
			{"positions[1].party", "zz", "not in the vocabulary", 16},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/v1/events", strings.NewReader(c.body))
			req.Header.Set("Content-Type", c.contentType)
			mux.ServeHTTP(rec, req)
			var ans struct {
				Appended, Rejected int
				Results            []struct {
					Status string
					Errors []fieldError
				}
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || ans.Appended != 1 || ans.Rejected != 1 || len(ans.Results) != 2 {
				t.Fatalf("answer %d %s", rec.Code, rec.Body)
			}
			got := ans.Results[1].Errors
			if len(got) != len(c.want) {
				t.Fatalf("errors %+v\nwant %+v", got, c.want)
			}
			for i, w := range c.want {
				if got[i] != w {
					t.Errorf("error %d: %+v, want %+v", i, got[i], w)
				}
			}
		})
	}
}
