package httpapi

import (
	"log/slog"
	"maps"
	"net/http"
	"slices"
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

// stateAnswer is GET /v1/state's body.
type stateAnswer struct {
	At      string        `json:"at,omitempty"`
	KnownAt string        `json:"known_at,omitempty"`
	Seq     uint64        `json:"seq"`
	Issues  []issueAnswer `json:"issues"`
}

type issueAnswer struct {
	Issue     string                       `json:"issue"`
	Label     string                       `json:"label"`
	Positions map[string]*projections.Cell `json:"positions"`
}

// appendJSON appends the answer's JSON, byte for byte what encoding/json
// writes for it (TestStateAnswerJSON), with the cells written by
// Cell.AppendJSON: most of a state answer's encoding.
func (s *stateAnswer) appendJSON(b []byte) []byte {
	b = append(b, '{')
	if s.At != "" {
		b = projections.AppendJSONString(append(b, `"at":`...), s.At)
		b = append(b, ',')
	}
	if s.KnownAt != "" {
		b = projections.AppendJSONString(append(b, `"known_at":`...), s.KnownAt)
		b = append(b, ',')
	}
	b = append(b, `"seq":`...)
	b = strconv.AppendUint(b, s.Seq, 10)
	b = append(b, `,"issues":`...)
	if s.Issues == nil {
		return append(b, "null}"...)
	}
	b = append(b, '[')
	for i, is := range s.Issues {
		if i > 0 {
			b = append(b, ',')
		}
		b = projections.AppendJSONString(append(b, `{"issue":`...), is.Issue)
		b = projections.AppendJSONString(append(b, `,"label":`...), is.Label)
		b = append(b, `,"positions":`...)
		if is.Positions == nil {
			b = append(b, "null}"...)
			continue
		}
		parties := slices.Sorted(maps.Keys(is.Positions))
		b = append(b, '{')
		for j, p := range parties {
			if j > 0 {
				b = append(b, ',')
			}
			b = projections.AppendJSONString(b, p)
			b = append(b, ':')
			if c := is.Positions[p]; c == nil {
				b = append(b, "null"...)
			} else {
				b = c.AppendJSON(b)
			}
		}
		b = append(b, "}}"...)
	}
	return append(b, "]}"...)
}

func (a *API) state(w http.ResponseWriter, r *http.Request) {
	vals := r.URL.Query()
	p := NewParams(vals)
	p.Only("at", "known_at")
	q := projections.StateQuery{At: p.time("at"), Knowledge: p.knowledge()}
	if p.Err != nil {
		writeError(w, r, a.Logger, p.Err)
		return
	}
	now := len(vals) == 0
	var (
		st     *projections.State
		cached *stateNow
	)
	err := a.Store.View(r.Context(), func(tx projections.Tx) error {
		if now {
			// The checkpoint commits with what it counts: the same
			// checkpoint is the same answer.
			if c := a.now.Load(); c != nil && c.seq == projections.Checkpoint(tx) {
				cached = c
				return nil
			}
		}
		var err error
		st, err = projections.QueryState(tx, q)
		return err
	})
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	if cached != nil {
		jsonHeader(w, http.StatusOK)
		w.Write(cached.body)
		return
	}
	ans := stateAnswer{At: vals.Get("at"), KnownAt: vals.Get("known_at"), Seq: st.Seq, Issues: []issueAnswer{}}
	// Issues in the vocabulary's order, which is the order people read them
	// in; issues no longer in it last, by id.
	byID := map[string]projections.IssueState{}
	for _, is := range st.Issues {
		byID[is.Issue] = is
	}
	for _, t := range a.Vocabulary.Issues {
		if is, ok := byID[t.ID]; ok {
			ans.Issues = append(ans.Issues, issueAnswer{Issue: t.ID, Label: t.Label, Positions: is.Positions})
			delete(byID, t.ID)
		}
	}
	for _, is := range st.Issues {
		if _, ok := byID[is.Issue]; ok {
			ans.Issues = append(ans.Issues, issueAnswer{Issue: is.Issue, Label: is.Issue, Positions: is.Positions})
		}
	}
	buf := answers.get()
	defer answers.put(buf)
	*buf = ans.appendJSON(*buf)
	if now {
		// Two answers made at once may be kept in either order: an older
		// one is only a miss, since it is used at its own checkpoint only.
		body := append(append(make([]byte, 0, len(*buf)+1), *buf...), '\n')
		if c := a.now.Load(); c == nil || c.seq < st.Seq {
			a.now.Store(&stateNow{seq: st.Seq, body: body})
		}
	}
	writeRawJSON(w, http.StatusOK, *buf)
}

func (a *API) timeline(w http.ResponseWriter, r *http.Request) {
	vals := r.URL.Query()
	p := NewParams(vals)
	p.Only("party", "issue", "type", "from", "to", "known_at", "limit", "cursor")
	q := projections.TimelineQuery{
		Party: p.Term("party", a.Vocabulary.Party), Issue: p.Term("issue", a.Vocabulary.Issue),
		Type: p.Term("type", a.Vocabulary.Type), From: p.start("from"), To: p.time("to"),
		Knowledge: p.knowledge(), Limit: p.limit(), Cursor: p.cursor(),
	}
	if p.Err == nil && !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		p.Fail("to", vals.Get("to"), "before from")
	}
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
	p := NewParams(r.URL.Query())
	p.Only("party", "from", "to", "known_at", "limit", "cursor")
	issue := r.PathValue("issue")
	if a.Vocabulary.Issue(issue) == nil {
		writeJSON(w, http.StatusNotFound, Problem{Error: "issue " + quote(issue) + " is not in the vocabulary", Param: "issue"})
		return
	}
	q := projections.HistoryQuery{Issue: issue, Party: p.Term("party", a.Vocabulary.Party),
		From: p.start("from"), To: p.time("to"), Knowledge: p.knowledge(), Limit: p.limit(), Cursor: p.cursor()}
	if p.Err != nil {
		writeError(w, r, a.Logger, p.Err)
		return
	}
	buf := answers.get()
	defer answers.put(buf)
	err := a.Store.View(r.Context(), func(tx projections.Tx) error {
		h, err := projections.QueryHistory(tx, q)
		if err == nil {
			*buf = h.AppendJSON(*buf)
		}
		return err
	})
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	writeRawJSON(w, http.StatusOK, *buf)
}

func (a *API) event(w http.ResponseWriter, r *http.Request) {
	p := NewParams(r.URL.Query())
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
	p := NewParams(vals)
	p.Only("from", "to", "known_at")
	q := projections.DiffQuery{From: p.time("from"), To: p.time("to"), Knowledge: p.knowledge()}
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
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		From string `json:"from"`
		To   string `json:"to"`
		*projections.Diff
	}{vals.Get("from"), vals.Get("to"), d})
}

func (a *API) vocabulary(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=60")
	writeJSON(w, http.StatusOK, a.Vocabulary)
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "time": time.Now().UTC()})
}

// readyz is 200 once the projection has caught up with the stream as it
// was at start, 503 before: a load balancer sends no reader to a replica
// that would answer from the past.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	ready := a.Status.Ready()
	body := map[string]any{"ready": ready, "applied": a.Status.Applied(), "lag": a.Status.Lag()}
	if !ready {
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}
