package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/projections"
)

// Status is what the read API reports of the projection loop.
type Status interface {
	Ready() bool
	Applied() uint64
	Lag() uint64
	// Stalled reports that applying waits on a disk that refuses the
	// read model's commits.
	Stalled() bool
}

// API serves the read model.
type API struct {
	Store      projections.Store
	Vocabulary *events.Vocabulary
	Status     Status
	Logger     *slog.Logger

	// now is GET /v1/state's answer without parameters, as of the
	// checkpoint it was last made at: what every open dashboard asks for
	// after each new event, made once per checkpoint instead of once per
	// dashboard.
	now atomic.Pointer[stateNow]
}

type stateNow struct {
	seq  uint64
	body []byte // the answer as written, newline and all
}

// Register adds the read API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	if a.Logger == nil {
		a.Logger = slog.Default()
	}
	mux.HandleFunc("GET /v1/state", a.state)
	mux.HandleFunc("GET /v1/timeline", a.timeline)
	mux.HandleFunc("GET /v1/issues/{issue}/history", a.history)
	mux.HandleFunc("GET /v1/events/{id}", a.event)
	mux.HandleFunc("GET /v1/diff", a.diff)
	mux.HandleFunc("GET /v1/vocabulary", a.vocabulary)
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
}

func (a *API) state(w http.ResponseWriter, r *http.Request) {
	vals := r.URL.Query()
	p := RequestParams(r)
	p.Only("at", "known_at")
	q := projections.StateQuery{At: p.time("at"), Knowledge: p.knowledge()}
	if p.Err != nil {
		writeError(w, r, a.Logger, p.Err)
		return
	}
	now := len(vals) == 0
	var (
		cached *stateNow
		buf    *[]byte
		seq    uint64
	)
	err := a.Store.View(r.Context(), func(tx projections.Tx) error {
		if q.At.IsZero() {
			q.At = projections.AsOfNow(tx, time.Now())
			now = now && q.At.IsZero()
		}
		if now {
			// The checkpoint commits with what it counts: the same
			// checkpoint is the same answer.
			if c := a.now.Load(); c != nil && c.seq == projections.Checkpoint(tx) {
				cached = c
				return nil
			}
		}
		buf = answers.get()
		sr := projections.NewStateReader(tx, q)
		seq = sr.Seq()
		var err error
		*buf, err = projections.AppendStateJSON(*buf, sr, a.Vocabulary, vals.Get("at"), vals.Get("known_at"))
		return err
	})
	if buf != nil {
		defer answers.put(buf)
	}
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	if cached != nil {
		writeJSONLine(w, http.StatusOK, cached.body)
		return
	}
	*buf = append(*buf, '\n')
	if now {
		// Two answers made at once may be kept in either order: an older
		// one is only a miss, since it is used at its own checkpoint only.
		if c := a.now.Load(); c == nil || c.seq < seq {
			a.now.Store(&stateNow{seq: seq, body: bytes.Clone(*buf)})
		}
	}
	writeJSONLine(w, http.StatusOK, *buf)
}

func (a *API) timeline(w http.ResponseWriter, r *http.Request) {
	p := RequestParams(r)
	p.Only("party", "issue", "type", "from", "to", "order", "known_at", "limit", "cursor")
	q := projections.TimelineQuery{
		Party: p.Term("party", a.Vocabulary.Party), Issue: p.Term("issue", a.Vocabulary.Issue),
		Type: p.Term("type", a.Vocabulary.Type), From: p.start("from"), To: p.time("to"),
		Desc: p.desc(), Knowledge: p.knowledge(), Limit: p.limit(), Cursor: p.cursor(),
	}
	p.ordered(q.From, q.To)
	if p.Err != nil {
		writeError(w, r, a.Logger, p.Err)
		return
	}
	buf := answers.get()
	defer answers.put(buf)
	err := a.Store.View(r.Context(), func(tx projections.Tx) error {
		var err error
		*buf, err = projections.AppendTimelineJSON(*buf, tx, q)
		return err
	})
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	writeRawJSON(w, http.StatusOK, *buf)
}

func (a *API) history(w http.ResponseWriter, r *http.Request) {
	p := RequestParams(r)
	p.Only("party", "from", "to", "order", "known_at", "limit", "cursor")
	issue := r.PathValue("issue")
	if a.Vocabulary.Issue(issue) == nil {
		writeJSON(w, http.StatusNotFound, Problem{Error: "issue " + quote(issue) + " is not in the vocabulary", Param: "issue"})
		return
	}
	q := projections.HistoryQuery{Issue: issue, Party: p.Term("party", a.Vocabulary.Party),
		From: p.start("from"), To: p.time("to"), Desc: p.desc(), Knowledge: p.knowledge(), Limit: p.limit(), Cursor: p.cursor()}
	p.ordered(q.From, q.To)
	if p.Err != nil {
		writeError(w, r, a.Logger, p.Err)
		return
	}
	buf := answers.get()
	defer answers.put(buf)
	err := a.Store.View(r.Context(), func(tx projections.Tx) error {
		var err error
		*buf, err = projections.AppendHistoryJSON(*buf, tx, q)
		return err
	})
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	writeRawJSON(w, http.StatusOK, *buf)
}

func (a *API) event(w http.ResponseWriter, r *http.Request) {
	p := RequestParams(r)
	p.Only("known_at")
	k := p.knowledge()
	id := r.PathValue("id")
	if !events.ValidID(id) {
		p.Fail("id", id, "not an event id")
	}
	if p.Err != nil {
		writeError(w, r, a.Logger, p.Err)
		return
	}
	var ev *projections.EventView
	err := a.Store.View(r.Context(), func(tx projections.Tx) error {
		var err error
		ev, err = projections.QueryEvent(tx, id, k)
		return err
	})
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, ev)
}

func (a *API) diff(w http.ResponseWriter, r *http.Request) {
	vals := r.URL.Query()
	p := RequestParams(r)
	p.Only("from", "to", "known_at")
	q := projections.DiffQuery{From: p.start("from"), To: p.time("to"), Knowledge: p.knowledge()}
	switch {
	case p.Err != nil:
	case q.From.IsZero():
		p.Fail("from", "", "required")
	case q.To.IsZero():
		p.Fail("to", "", "required")
	case q.To.Before(q.From):
		p.Fail("to", vals.Get("to"), "before from")
	}
	if p.Err != nil {
		writeError(w, r, a.Logger, p.Err)
		return
	}
	var d *projections.Diff
	err := a.Store.View(r.Context(), func(tx projections.Tx) error {
		var err error
		d, err = projections.QueryDiff(tx, q)
		return err
	})
	if err == nil {
		d.Order(a.Vocabulary)
	}
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, projections.DiffAnswer{From: vals.Get("from"), To: vals.Get("to"), Diff: d})
}

func (a *API) vocabulary(w http.ResponseWriter, r *http.Request) {
	p := RequestParams(r)
	p.Only() // it takes none
	if p.Err != nil {
		writeError(w, r, a.Logger, p.Err)
		return
	}
	w.Header().Set("Cache-Control", "max-age=60")
	writeJSON(w, http.StatusOK, a.Vocabulary)
}

// Starting answers while the service starts, before it can answer from
// its read model (which a start may rebuild for minutes): /healthz is 200
// (the process is alive), /readyz 503, with the rebuild's progress while
// one runs (rebuild, nil for none, tells it), anything else 503 with a
// Retry-After. Probes and monitoring see a service starting, not one that
// refuses connections.
func Starting(rebuild func() (applied, total uint64, running bool)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "starting", "time": time.Now().UTC()})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		body := map[string]any{"ready": false, "starting": true}
		if rebuild != nil {
			if applied, total, running := rebuild(); running {
				body["rebuild"] = map[string]uint64{"applied": applied, "total": total}
			}
		}
		writeJSON(w, http.StatusServiceUnavailable, body)
	})
	mux.HandleFunc("GET /v1/feed", func(w http.ResponseWriter, r *http.Request) {
		RetryStream(w, "starting: the read model is being opened (or rebuilt)")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, Problem{Error: "starting: the read model is being opened (or rebuilt); try again shortly"})
	})
	return mux
}

// RetryStream answers an SSE request that cannot be served now (the
// service starting or stopping, or as many streams open as it serves)
// with a stream that says why and ends, asking to be opened again in 5 to
// 10 s. A browser's EventSource gives up for good on any status but 200,
// so a 503 or a 429 would stop a live blog until someone reloads it; a
// stream that ends is reopened, with its Last-Event-ID. The delay is
// spread so that thousands of readers turned away at once do not all
// come back at once.
//
// The reason goes out as an event named UnavailableEvent, which no
// vocabulary's event type can be named (they have no colon), with
// {"error": why, "retry_ms": delay} as its data: a page can say why it
// is not live, and readers that listen only for developments ignore it.
func RetryStream(w http.ResponseWriter, why string) {
	delay := retryBase + rand.N(retryBase)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Retry-After", strconv.Itoa(int((delay+time.Second-1)/time.Second)))
	w.WriteHeader(http.StatusOK)
	ms := delay.Milliseconds()
	data, _ := json.Marshal(struct {
		Error   string `json:"error"`
		RetryMS int64  `json:"retry_ms"`
	}{why, ms})
	fmt.Fprintf(w, "retry: %d\nevent: %s\ndata: %s\n\n", ms, UnavailableEvent, data)
}

// UnavailableEvent names the event of a stream that RetryStream answers.
const UnavailableEvent = "parley:unavailable"

// retryBase is the least a turned-away stream is asked to wait; it waits
// up to twice that.
const retryBase = 5 * time.Second

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "time": time.Now().UTC()})
}

// readyz is 200 once the projection has caught up with the stream as it
// was at start, 503 before: a load balancer sends no reader to a replica
// that would answer from the past.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	ready := a.Status.Ready()
	body := map[string]any{"ready": ready, "applied": a.Status.Applied(), "lag": a.Status.Lag()}
	if a.Status.Stalled() {
		// Said, so that whoever looks sees why it is behind: its disk.
		body["stalled"] = true
	}
	if !ready {
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}
