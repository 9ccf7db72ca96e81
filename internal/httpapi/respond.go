package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/projections"
)

// Problem is the body of every error answer.
type Problem struct {
	Error string `json:"error"`
	// Param names the query parameter or field at fault, when one is.
	Param string `json:"param,omitempty"`
}

// ParamError is a bad query parameter: a 400 that names it.
type ParamError struct {
	Param  string
	Value  string
	Reason string
}

func (e *ParamError) Error() string {
	return "parameter " + e.Param + " " + quote(e.Value) + ": " + e.Reason
}

func quote(s string) string { return string(events.AppendJSONString(nil, s)) }

// WriteJSON answers with v as JSON and the headers of every answer of
// the API (Cache-Control: no-cache unless the handler set its own), for
// the handlers of other packages: the feeds, ingest serve.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	jsonHeader(w, status)
	_ = json.NewEncoder(w).Encode(v) // escapes HTML, as AppendJSONString does
}

// answers are the buffers answers are encoded into before they are
// written. A state answer is about 100 KB and a timeline page as much: a
// buffer made per request was most of what a busy API allocated, and so
// most of what made the collector run (and, with the embedded NATS
// server's large heap in the same process, every run is long).
var answers = bufferPool{max: 4 << 20}

type bufferPool struct {
	pool sync.Pool
	max  int // a buffer grown past this is dropped, not kept
}

// get returns an empty buffer; put it back when the answer is written.
func (p *bufferPool) get() *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

func (p *bufferPool) put(b *[]byte) {
	if cap(*b) <= p.max {
		p.pool.Put(b)
	}
}

// writeRawJSON answers with JSON already encoded, as writeJSON would
// write it (with the Encoder's final newline). b may be reused once it
// returns.
func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	writeJSONLine(w, status, append(b, '\n'))
}

// writeJSONLine writes an answer whose JSON and final newline are all
// there, with its length: no chunked encoding for a body known whole.
func writeJSONLine(w http.ResponseWriter, status int, line []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(line)))
	jsonHeader(w, status)
	w.Write(line)
}

func jsonHeader(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if w.Header().Get("Cache-Control") == "" {
		// An answer changes with every event applied, and a 404 with the
		// event recorded: without a word, a cache in front (Varnish keeps
		// such answers 2 minutes by default) serves the past as now.
		// Answers that may be kept say so themselves (the vocabulary).
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
}

// writeError answers with the status that fits err: 400 for a bad
// parameter or cursor, 404 for what is not there, 500 otherwise (logged,
// and not shown to the client beyond a generic word).
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var pe *ParamError
	switch {
	case errors.As(err, &pe):
		writeJSON(w, http.StatusBadRequest, Problem{Error: pe.Error(), Param: pe.Param})
	case errors.Is(err, projections.ErrBadCursor):
		writeJSON(w, http.StatusBadRequest, Problem{Error: err.Error(), Param: "cursor"})
	case errors.Is(err, projections.ErrNotFound):
		writeJSON(w, http.StatusNotFound, Problem{Error: err.Error()})
	case errors.Is(err, r.Context().Err()) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
	default:
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, Problem{Error: "internal error"})
	}
}
