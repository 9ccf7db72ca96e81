package feed

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/parley-news/parley/internal/httpapi"
)

// Register adds the feeds' routes to mux: GET /v1/feed (Server-Sent
// Events), GET /v1/feed.atom and GET /v1/feed.json.
func (b *Broker) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/feed", b.serveSSE)
	mux.HandleFunc("GET /v1/feed.atom", b.serveAtom)
	mux.HandleFunc("GET /v1/feed.json", b.serveJSONFeed)
}

// params are the read API's, with what only the feeds read.
type params struct{ *httpapi.Params }

// filter reads party, issue and type.
func (b *Broker) filter(p *params) Filter {
	return Filter{
		Party: p.Term("party", b.vocab.Party),
		Issue: p.Term("issue", b.vocab.Issue),
		Type:  p.Term("type", b.vocab.Type),
	}
}

// lastEventID reads where a client resumes, and by which name it said so.
// The header wins over the parameter: a browser reconnects to the URL it
// first opened, with the header saying how far it got since.
func (p *params) lastEventID(header string) (n uint64, by string, ok bool) {
	by, s := "Last-Event-ID", strings.TrimSpace(header)
	if s == "" {
		by, s = "last_event_id", p.Single("last_event_id")
	}
	if s == "" {
		return 0, by, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		p.Fail(by, s, "want the id of a message this feed sent (a stream sequence)")
		return 0, by, false
	}
	return n, by, true
}

func (p *params) limit(def int) int { return p.Count("limit", def, MaxEntries) }

// writeProblem answers with the read API's error body and headers.
func writeProblem(w http.ResponseWriter, status int, msg, param string) {
	httpapi.WriteJSON(w, status, httpapi.Problem{Error: msg, Param: param})
}
