package feed

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/httpapi"
)

// Register adds the feeds' routes to mux: GET /v1/feed (Server-Sent
// Events), GET /v1/feed.atom and GET /v1/feed.json.
func (b *Broker) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/feed", b.serveSSE)
	mux.HandleFunc("GET /v1/feed.atom", b.serveAtom)
	mux.HandleFunc("GET /v1/feed.json", b.serveJSONFeed)
}

// params reads query parameters, remembering the first error, as the read
// API does: a misspelt filter would otherwise widen a feed without a word.
type params struct {
	q   url.Values
	err *httpapi.ParamError
}

func (p *params) fail(name, value, reason string) {
	if p.err == nil {
		p.err = &httpapi.ParamError{Param: name, Value: value, Reason: reason}
	}
}

func (p *params) single(name string) string {
	vs := p.q[name]
	if len(vs) > 1 {
		p.fail(name, strings.Join(vs, ","), "given more than once")
		return ""
	}
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func (p *params) only(names ...string) {
	for k := range p.q {
		known := false
		for _, n := range names {
			known = known || k == n
		}
		if !known {
			p.fail(k, p.q.Get(k), "unknown parameter (known: "+strings.Join(names, ", ")+")")
		}
	}
}

func (p *params) term(name string, lookup func(string) *events.Term) string {
	s := p.single(name)
	if s != "" && lookup(s) == nil {
		p.fail(name, s, "not in the vocabulary")
		return ""
	}
	return s
}

// filter reads party, issue and type.
func (b *Broker) filter(p *params) Filter {
	return Filter{
		Party: p.term("party", b.vocab.Party),
		Issue: p.term("issue", b.vocab.Issue),
		Type:  p.term("type", b.vocab.Type),
	}
}

// lastEventID reads where a client resumes. The header wins over the
// parameter: a browser reconnects to the URL it first opened, with the
// header saying how far it got since.
func (p *params) lastEventID(header string) (uint64, bool) {
	name, s := "Last-Event-ID", strings.TrimSpace(header)
	if s == "" {
		name, s = "last_event_id", p.single("last_event_id")
	}
	if s == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		p.fail(name, s, "want the id of a message this feed sent (a stream sequence)")
		return 0, false
	}
	return n, true
}

func (p *params) limit(def int) int {
	s := p.single("limit")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxEntries {
		p.fail("limit", s, "want a whole number from 1 to "+strconv.Itoa(MaxEntries))
		return def
	}
	return n
}

// writeProblem answers with the read API's error body.
func writeProblem(w http.ResponseWriter, status int, msg, param string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(httpapi.Problem{Error: msg, Param: param})
}
