package httpapi

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/ingest"
)

// DefaultMaxBody bounds a POST /v1/events body.
const DefaultMaxBody = 8 << 20

// Ingest serves POST /v1/events: one JSON event, a JSON array, or an NDJSON
// batch, answered with a result per record.
type Ingest struct {
	Ingester *ingest.Ingester
	// MaxBody bounds a body in bytes; 0 means DefaultMaxBody.
	MaxBody int64
	// Token, when set, is the bearer token writes must present.
	Token string
	// RatePerSecond bounds the posts a second from one address (429
	// beyond); 0 means DefaultWriteRate, negative means no limit.
	RatePerSecond float64
	// AppendTimeout bounds how long a post waits for the stream (it
	// retries while the stream is unreachable); 0 means
	// DefaultAppendTimeout. Past it the records not appended are failed
	// and the answer is 503.
	AppendTimeout time.Duration
	// MaxRecords bounds the records of one body; 0 means
	// DefaultMaxRecords. A body of more is refused whole (413).
	MaxRecords int
	Logger     *slog.Logger
}

// DefaultMaxRecords is how many records one body may hold: more than a
// burst of news, and a bound on the answer, whose result per record
// would otherwise grow about 170 times a body of empty records.
const DefaultMaxRecords = 10_000

// loggedRefusals is how many refused records of one body are logged one
// by one; the rest are counted in one line.
const loggedRefusals = 10

// DefaultAppendTimeout is how long a post waits for an unreachable stream
// before it answers 503: a client that waits longer has long given up.
const DefaultAppendTimeout = 30 * time.Second

// DefaultWriteRate is how many posts a second one address may make, with
// bursts of ten times that: a newsroom's tool posts a batch, not a flood.
const DefaultWriteRate = 50

// Register adds the endpoint to mux.
func (h *Ingest) Register(mux *http.ServeMux) {
	if h.Logger == nil {
		h.Logger = slog.Default()
	}
	rps := h.RatePerSecond
	if rps == 0 {
		rps = DefaultWriteRate
	}
	mux.Handle("POST /v1/events", RequireToken(h.Token, RateLimit(rps, int(10*max(rps, 1)), http.HandlerFunc(h.post))))
}

// ingestAnswer is the body of POST /v1/events's answer.
type ingestAnswer struct {
	Appended  int                   `json:"appended"`
	Duplicate int                   `json:"duplicate"`
	Rejected  int                   `json:"rejected"`
	Conflict  int                   `json:"conflict"`
	Failed    int                   `json:"failed,omitempty"`
	Results   []ingest.RecordResult `json:"results"`
	// Error says why records failed when the stream stopped the post.
	Error string `json:"error,omitempty"`
}

func (h *Ingest) post(w http.ResponseWriter, r *http.Request) {
	max := h.MaxBody
	if max <= 0 {
		max = DefaultMaxBody
	}
	q := RequestParams(r)
	if q.Err != nil {
		writeJSON(w, http.StatusBadRequest, Problem{Error: q.Err.Error() + ": nothing was appended", Param: q.Err.Param})
		return
	}
	// The first by name, as Params.Only names it.
	for _, name := range slices.Sorted(maps.Keys(q.q)) {
		// A guess such as ?dry_run=1 would otherwise append for real.
		writeJSON(w, http.StatusBadRequest, Problem{Error: fmt.Sprintf("parameter %s: POST /v1/events takes no parameters (to check records without appending them: ingest -check FILE)", quote(name)), Param: name})
		return
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		writeJSON(w, http.StatusUnsupportedMediaType, Problem{Error: fmt.Sprintf("Content-Encoding %q not accepted: send the body uncompressed", ce)})
		return
	}
	format, err := bodyFormat(r.Header.Get("Content-Type"))
	if err != nil {
		writeJSON(w, http.StatusUnsupportedMediaType, Problem{Error: err.Error()})
		return
	}
	// The whole body is read before anything is appended: a body cut off at
	// the limit appends nothing rather than its first half.
	body, ok := ReadBody(w, r, max, "nothing was appended; split it into batches")
	if !ok {
		return
	}
	// Read whole before anything is appended, so that a body of too many
	// records is refused whole.
	in := *h.Ingester
	in.MaxRecords = h.MaxRecords
	if in.MaxRecords <= 0 {
		in.MaxRecords = DefaultMaxRecords
	}
	timeout := h.AppendTimeout
	if timeout <= 0 {
		timeout = DefaultAppendTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	res, err := in.Ingest(ctx, "body", bytes.NewReader(body), format)
	if errors.Is(err, ingest.ErrTooManyRecords) {
		writeJSON(w, http.StatusRequestEntityTooLarge, Problem{Error: fmt.Sprintf("more than %d records in one body: nothing was appended; split it into batches", in.MaxRecords)})
		return
	}
	var why string
	if err != nil {
		// What went in before the stream failed went in: the answer says
		// so record by record, the rest failed, for the client to resend.
		h.Logger.Error("ingest failed", "err", err)
		h.Ingester.FailRest(res, bytes.NewReader(body), format, err)
		why = "the stream is unavailable: " + err.Error()
	}
	ans := ingestAnswer{Appended: res.Appended, Duplicate: res.Duplicate, Rejected: res.Rejected, Conflict: res.Conflict, Failed: res.Failed, Results: res.Records, Error: why}
	status := http.StatusOK
	logged := 0
	for _, rr := range res.Records {
		if rr.Status != ingest.Rejected && rr.Status != ingest.Conflict {
			continue
		}
		if logged++; logged > loggedRefusals {
			continue
		}
		if rr.Status == ingest.Rejected {
			h.Logger.Warn("record rejected", "id", rr.ID, "record", rr.Record, "reason", rr.Error)
		} else {
			h.Logger.Warn("record conflicts", "id", rr.ID, "reason", rr.Error)
		}
	}
	if logged > loggedRefusals {
		h.Logger.Warn("more records of the body refused, not logged one by one", "more", logged-loggedRefusals, "rejected", res.Rejected, "conflict", res.Conflict)
	}
	switch {
	case err != nil || res.Failed > 0:
		status = http.StatusServiceUnavailable
	case res.Rejected > 0:
		status = http.StatusBadRequest
	case res.Conflict > 0:
		status = http.StatusConflict
	}
	writeJSON(w, status, ans)
}

// ReadBody reads a request's body whole, up to max bytes, or answers the
// request itself and returns false: 413 past max, 408 when the body did
// not arrive within the server's read timeout (not a bad body: sent
// again, or smaller, it gets through), 400 when it could not be read.
// advice ends the answers' messages: what became of the request, what to
// do.
func ReadBody(w http.ResponseWriter, r *http.Request, max int64, advice string) ([]byte, bool) {
	if r.ContentLength > max {
		// Said before reading: the client is spared sending the first
		// max bytes (asked with Expect: 100-continue, any of them).
		writeJSON(w, http.StatusRequestEntityTooLarge, Problem{Error: fmt.Sprintf("body larger than %d bytes: %s", max, advice)})
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeJSON(w, http.StatusRequestEntityTooLarge, Problem{Error: fmt.Sprintf("body larger than %d bytes: %s", max, advice)})
	case errors.Is(err, os.ErrDeadlineExceeded):
		writeJSON(w, http.StatusRequestTimeout, Problem{Error: "the body did not arrive within the server's read timeout: " + advice + ", or send it again"})
	case err != nil:
		writeJSON(w, http.StatusBadRequest, Problem{Error: "read body: " + err.Error() + ": " + advice})
	default:
		return body, true
	}
	return nil, false
}

// RequireJSON checks that a request's body is declared JSON, or not
// declared at all.
func RequireJSON(r *http.Request) error {
	mt, err := mediaType(r.Header.Get("Content-Type"))
	if err == nil && mt != "" && mt != "application/json" {
		err = fmt.Errorf("Content-Type %q not accepted: send application/json", mt)
	}
	return err
}

// mediaType is the media type of a Content-Type header, "" for none.
// A charset other than UTF-8 is refused: the bytes would be read as
// UTF-8 all the same, and fail on what they are.
func mediaType(ct string) (string, error) {
	if ct == "" {
		return "", nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", fmt.Errorf("Content-Type %q: %v", ct, err)
	}
	if cs := params["charset"]; cs != "" && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return "", fmt.Errorf("Content-Type %q not accepted: send UTF-8 (charset=utf-8, or none)", ct)
	}
	return mt, nil
}

func bodyFormat(ct string) (events.Format, error) {
	mt, err := mediaType(ct)
	if err != nil {
		return 0, err
	}
	switch mt {
	case "":
		return events.Auto, nil
	case "application/json":
		return events.AnyJSON, nil // one object, an array, or NDJSON sent as JSON
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines":
		return events.NDJSON, nil
	case "application/yaml", "application/x-yaml", "text/yaml":
		return events.YAML, nil
	}
	return 0, fmt.Errorf("Content-Type %q not accepted: send application/json, application/x-ndjson or application/yaml", mt)
}

// RequireToken lets a request through only with "Authorization: Bearer
// token", compared in constant time. An empty token lets every request
// through.
func RequireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scheme's name is case-insensitive (RFC 9110, 11.1).
		scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="parley"`)
			writeJSON(w, http.StatusUnauthorized, Problem{Error: "a valid bearer token is required"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
