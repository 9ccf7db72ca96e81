package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/httpapi"
	"github.com/parley-news/parley/internal/projections"
)

type ready struct{}

func (ready) Ready() bool     { return true }
func (ready) Applied() uint64 { return 1 }
func (ready) Lag() uint64     { return 0 }
func (ready) Stalled() bool   { return false }

// stalled is a projection whose disk refuses its commits.
type stalled struct{}

func (stalled) Ready() bool     { return false }
func (stalled) Applied() uint64 { return 7 }
func (stalled) Lag() uint64     { return 3 }
func (stalled) Stalled() bool   { return true }

// TestReadyzSaysStalled: a replica behind because its disk refuses its
// commits says so in /readyz, not only that it is not ready.
func TestReadyzSaysStalled(t *testing.T) {
	for _, c := range []struct {
		name   string
		status httpapi.Status
		code   int
		body   string
	}{
		{"ready", ready{}, 200, `{"applied":1,"lag":0,"ready":true}`},
		{"stalled", stalled{}, 503, `{"applied":7,"lag":3,"ready":false,"stalled":true}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			mux := http.NewServeMux()
			(&httpapi.API{Store: projections.NewMem(), Vocabulary: data.Vocabulary(), Status: c.status}).Register(mux)
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
			if w.Code != c.code || strings.TrimSpace(w.Body.String()) != c.body {
				t.Errorf("%d %s, want %d %s", w.Code, w.Body, c.code, c.body)
			}
		})
	}
}

// newAPI serves a read model of two events from memory: the handlers are
// plain functions of the store, which package service tests over bbolt and
// NATS end to end.
func newAPI(t testing.TB) http.Handler {
	store := projections.NewMem()
	err := store.Update(context.Background(), func(tx projections.Tx) error {
		for i, e := range []events.Event{
			{ID: "leak", Type: "leak", OccurredAt: events.MustTime("2025-11-20"), Title: "Leak", Sources: []events.Source{{Outlet: "Axios"}},
				Positions: []events.Position{{Party: "us", Issue: "army-cap", Stance: "proposes", Value: events.Number(600000)}}},
			{ID: "e3", Type: "proposal", OccurredAt: events.MustTime("2025-11-23"), Title: "E3", Sources: []events.Source{{Outlet: "Reuters"}},
				Positions: []events.Position{{Party: "e3", Issue: "army-cap", Stance: "proposes", Value: events.Number(800000)}}},
		} {
			if _, err := projections.Apply(tx, projections.Message{Seq: uint64(i + 1), Time: time.Date(2025, 11, 25, 0, i, 0, 0, time.UTC), Data: events.Wrap(e, "")}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&httpapi.API{Store: store, Vocabulary: data.Vocabulary(), Status: ready{}}).Register(mux)
	return mux
}

func TestParameters(t *testing.T) {
	h := newAPI(t)
	tests := []struct {
		path   string
		status int
		param  string
	}{
		{"/v1/state", 200, ""},
		{"/v1/state?at=2025-11-21", 200, ""},
		{"/v1/state?at=2025-11-21T10:00Z&known_at=2025-11-25T00:00:30Z", 200, ""},
		{"/v1/state?at=yesterday", 400, "at"},
		{"/v1/state?at=2025-11-21&at=2025-11-22", 400, "at"},
		{"/v1/state?known_at=9999-01-01", 400, "known_at"},
		{"/v1/state?as_of=2025-11-21", 400, "as_of"},
		{"/v1/timeline?h=1&g=1&f=1&e=1&d=1&c=1&b=1&a=1", 400, "a"},
		// A pair net/url cannot parse, which r.URL.Query() drops without
		// a word: the answer would have no filter.
		{"/v1/timeline?party=ua;type=talks", 400, "party"},
		{"/v1/timeline?limit=1&party=%zz", 400, "party"},
		{"/v1/state?at=2025-11-21&x%zz=1", 400, "x%zz"},
		{"/v1/events/leak?known_at=2025-11-25;x", 400, "known_at"},
		{"/v1/timeline?issue=army-cap&limit=1", 200, ""},
		{"/v1/timeline?issue=moon", 400, "issue"},
		{"/v1/timeline?party=atlantis", 400, "party"},
		{"/v1/timeline?type=invasion", 400, "type"},
		{"/v1/timeline?limit=0", 400, "limit"},
		{"/v1/timeline?limit=10001", 400, "limit"},
		{"/v1/timeline?limit=ten", 400, "limit"},
		{"/v1/timeline?cursor=zz", 400, "cursor"},
		{"/v1/timeline?order=desc", 200, ""},
		{"/v1/timeline?order=asc", 200, ""},
		{"/v1/timeline?order=newest", 400, "order"},
		{"/v1/timeline?order=DESC", 400, "order"},
		{"/v1/timeline?order=desc&order=asc", 400, "order"},
		{"/v1/issues/army-cap/history?order=desc", 200, ""},
		{"/v1/issues/army-cap/history?order=up", 400, "order"},
		{"/v1/timeline?from=2025-11-23&to=2025-11-20", 400, "to"},
		{"/v1/issues/army-cap/history", 200, ""},
		{"/v1/issues/moon/history", 404, "issue"},
		{"/v1/issues/army-cap/history?party=atlantis", 400, "party"},
		{"/v1/issues/army-cap/history?from=2025-11-25&to=2025-11-20", 400, "to"},
		{"/v1/timeline?from=2025-11-25&to=2025-11-20", 400, "to"},
		{"/v1/timeline?from=2025-11-20&to=2025-11-20", 200, ""},
		{"/v1/timeline?party=", 400, "party"},
		{"/v1/vocabulary?lang=fr", 400, "lang"},
		{"/v1/vocabulary", 200, ""},
		{"/v1/state?at=", 400, "at"},
		{"/v1/state?known_at=%20", 400, "known_at"},
		{"/v1/state?at=2025-11-21%20", 400, "at"},
		{"/v1/state?at=2025-11-21T14:30:00+01:00", 400, "at"},
		{"/v1/state?at=2025-11-21T14:30:00%2B01:00", 200, ""},
		{"/v1/events/leak", 200, ""},
		{"/v1/events/nope", 404, ""},
		{"/v1/events/..%2F..%2Fetc", 400, "id"},
		{"/v1/diff?from=2025-11-20&to=2025-11-24", 200, ""},
		{"/v1/diff?from=2025-11-20", 400, "to"},
		{"/v1/diff?from=2025-11-24&to=2025-11-20", 400, "to"},
		{"/readyz", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			var p httpapi.Problem
			json.Unmarshal(rec.Body.Bytes(), &p)
			if p.Param != tt.param {
				t.Errorf("param %q, want %q (%s)", p.Param, tt.param, p.Error)
			}
		})
	}
}

func TestStateAsOfAndPaging(t *testing.T) {
	h := newAPI(t)
	get := func(path string, into any) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		json.Unmarshal(rec.Body.Bytes(), into)
	}
	var st struct {
		Issues []struct {
			Issue     string                     `json:"issue"`
			Label     string                     `json:"label"`
			Positions map[string]json.RawMessage `json:"positions"`
		} `json:"issues"`
	}
	get("/v1/state?at=2025-11-21", &st)
	if len(st.Issues) != 1 || st.Issues[0].Label != "Cap on Ukraine's army" || len(st.Issues[0].Positions) != 1 {
		t.Errorf("state as of 21 Nov = %+v, want army-cap with us alone", st)
	}
	var page struct {
		Events     []struct{ ID string } `json:"events"`
		NextCursor string                `json:"next_cursor"`
	}
	get("/v1/timeline?limit=1", &page)
	if len(page.Events) != 1 || page.Events[0].ID != "leak" || page.NextCursor == "" {
		t.Fatalf("first page = %+v", page)
	}
	cursor := page.NextCursor
	page.NextCursor = ""
	get("/v1/timeline?limit=1&cursor="+url.QueryEscape(cursor), &page)
	if len(page.Events) != 1 || page.Events[0].ID != "e3" || page.NextCursor != "" {
		t.Errorf("second page = %+v", page)
	}
}

// TestNewestFirst pages the timeline and a history with order=desc: the
// latest first, the next cursor going back, and a cursor of one order
// refused by the other, naming the cursor.
func TestNewestFirst(t *testing.T) {
	h := newAPI(t)
	get := func(path string) (int, []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.Bytes()
	}
	var page struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
		Entries []struct {
			Event string `json:"event"`
		} `json:"entries"`
		NextCursor string `json:"next_cursor"`
	}
	// ids reads the events, or entries, of each page, cursor after cursor.
	ids := func(path string) []string {
		t.Helper()
		var out []string
		cursor := ""
		for range 5 {
			page.Events, page.Entries, page.NextCursor = nil, nil, ""
			u := path
			if cursor != "" {
				u += "&cursor=" + url.QueryEscape(cursor)
			}
			code, body := get(u)
			if code != 200 {
				t.Fatalf("%s: %d %s", path, code, body)
			}
			json.Unmarshal(body, &page)
			for _, e := range page.Events {
				out = append(out, e.ID)
			}
			for _, e := range page.Entries {
				out = append(out, e.Event)
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		return out
	}
	for _, c := range []struct {
		path string
		want []string
	}{
		{"/v1/timeline?order=desc&limit=1", []string{"e3", "leak"}},
		{"/v1/timeline?order=asc&limit=1", []string{"leak", "e3"}},
		{"/v1/timeline?order=desc&limit=1&to=2025-11-22", []string{"leak"}},
		{"/v1/timeline?order=desc&limit=1&party=us", []string{"leak"}},
		{"/v1/timeline?order=desc&limit=1&known_at=2025-11-25T00:00:30Z", []string{"leak"}},
		{"/v1/issues/army-cap/history?order=desc&limit=1", []string{"e3", "leak"}},
	} {
		if got := ids(c.path); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.path, got, c.want)
		}
	}
	code, body := get("/v1/timeline?order=desc&limit=1")
	if code != 200 || json.Unmarshal(body, &page) != nil || page.NextCursor == "" {
		t.Fatalf("first page newest first: %d %s", code, body)
	}
	code, body = get("/v1/timeline?limit=1&cursor=" + url.QueryEscape(page.NextCursor))
	var p httpapi.Problem
	if json.Unmarshal(body, &p); code != 400 || p.Param != "cursor" {
		t.Errorf("a cursor newest first read oldest first: %d %s, want 400 naming the cursor", code, body)
	}
}

// FuzzQuery sends arbitrary query strings to every read endpoint: the
// answer is 200, 400 or 404, never a server error or a panic.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{"at=2025-11-21", "known_at=2025-11-25T00:00:30Z&at=2025-11-20", "issue=army-cap&limit=1", "cursor=00ff", "from=2025-11-20&to=2025-11-24", "limit=-1", "at=%zz", "party=us&party=ua", "order=desc&limit=1"} {
		f.Add(s)
	}
	h := newAPI(f)
	f.Fuzz(func(t *testing.T, q string) {
		for _, p := range []string{"/v1/state", "/v1/timeline", "/v1/issues/army-cap/history", "/v1/diff", "/v1/events/leak"} {
			req := httptest.NewRequest("GET", p, nil)
			req.URL.RawQuery = q
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 && rec.Code != 400 && rec.Code != 404 {
				t.Fatalf("%s?%s: %d %s", p, q, rec.Code, rec.Body)
			}
		}
	})
}

// TestStateNowFollowsCheckpoint asks for the present state again and
// again while events are applied: each answer is what a fresh API (with
// nothing kept) answers at that moment, and a new event is in the next
// answer, never hidden behind the one kept from before it.
func TestStateNowFollowsCheckpoint(t *testing.T) {
	store := projections.NewMem()
	vocab := data.Vocabulary()
	kept, fresh := http.NewServeMux(), http.NewServeMux()
	(&httpapi.API{Store: store, Vocabulary: vocab, Status: ready{}}).Register(kept)
	get := func(h http.Handler) string {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/state", nil))
		if rec.Code != 200 {
			t.Fatalf("GET /v1/state: %d %s", rec.Code, rec.Body)
		}
		if n := rec.Header().Get("Content-Length"); n != fmt.Sprint(rec.Body.Len()) {
			t.Fatalf("Content-Length %q for %d bytes", n, rec.Body.Len())
		}
		return rec.Body.String()
	}
	stances := []string{"proposes", "rejects", "accepts"}
	for seq := uint64(1); seq <= 6; seq++ {
		e := events.Event{ID: fmt.Sprintf("e%d", seq), Type: "statement", OccurredAt: events.MustTime("2025-11-20"),
			Title: "Statement", Sources: []events.Source{{Outlet: "Outlet"}},
			Positions: []events.Position{{Party: "us", Issue: "army-cap", Stance: stances[seq%3]}}}
		err := store.Update(context.Background(), func(tx projections.Tx) error {
			_, err := projections.Apply(tx, projections.Message{Seq: seq, Time: time.Date(2025, 11, 25, 0, int(seq), 0, 0, time.UTC), Data: events.Wrap(e, "")})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		first, again := get(kept), get(kept)
		(&httpapi.API{Store: store, Vocabulary: vocab, Status: ready{}}).Register(fresh)
		want := get(fresh)
		fresh = http.NewServeMux()
		if first != want || again != want {
			t.Fatalf("after event %d:\nfirst %s\nagain %s\nwant  %s", seq, first, again, want)
		}
		var ans struct {
			Seq    uint64 `json:"seq"`
			Issues []struct {
				Positions map[string]struct {
					Stance string `json:"stance"`
				} `json:"positions"`
			} `json:"issues"`
		}
		if err := json.Unmarshal([]byte(again), &ans); err != nil {
			t.Fatal(err)
		}
		if ans.Seq != seq || len(ans.Issues) != 1 || ans.Issues[0].Positions["us"].Stance != stances[seq%3] {
			t.Fatalf("after event %d the kept answer says %s", seq, again)
		}
	}
}

// TestStateNowLeavesOutTheFuture: GET /v1/state without at is the state
// as of now, so a position dated next month is not held yet (though
// ?at= that date shows it), whether or not an answer is kept.
func TestStateNowLeavesOutTheFuture(t *testing.T) {
	store := projections.NewMem()
	mux := http.NewServeMux()
	(&httpapi.API{Store: store, Vocabulary: data.Vocabulary(), Status: ready{}}).Register(mux)
	apply := func(seq uint64, id string, occ events.Time, stance string) {
		t.Helper()
		e := events.Event{ID: id, Type: "statement", OccurredAt: occ, Title: "Statement", Sources: []events.Source{{Outlet: "Outlet"}},
			Positions: []events.Position{{Party: "us", Issue: "army-cap", Stance: stance}}}
		err := store.Update(context.Background(), func(tx projections.Tx) error {
			_, err := projections.Apply(tx, projections.Message{Seq: seq, Time: time.Now().UTC(), Data: events.Wrap(e, "")})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	stance := func(query string) string {
		t.Helper()
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/state"+query, nil))
		var ans struct {
			Issues []struct {
				Positions map[string]struct{ Stance string } `json:"positions"`
			} `json:"issues"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &ans); rec.Code != 200 || err != nil {
			t.Fatalf("GET /v1/state%s: %d %s", query, rec.Code, rec.Body)
		}
		if len(ans.Issues) == 0 {
			return ""
		}
		return ans.Issues[0].Positions["us"].Stance
	}
	today := time.Now().UTC()
	apply(1, "now", events.Time{Time: today.Add(-time.Hour), Precision: events.Second}, "proposes")
	if got := stance(""); got != "proposes" {
		t.Fatalf("now: %q, want proposes", got)
	}
	next := events.Time{Time: today.AddDate(0, 1, 0).Truncate(24 * time.Hour), Precision: events.Day}
	apply(2, "next-month", next, "rejects")
	for _, c := range []struct{ query, want string }{
		{"", "proposes"}, {"", "proposes"}, // made, then perhaps kept
		{"?at=" + next.String(), "rejects"},
	} {
		if got := stance(c.query); got != c.want {
			t.Errorf("GET /v1/state%s: %q, want %q", c.query, got, c.want)
		}
	}
}

// TestDiffCountsItsFirstDay: from starts at the beginning of its day, so a
// diff from a date counts the changes made on it, and one from the next
// day does not.
func TestDiffCountsItsFirstDay(t *testing.T) {
	h := newAPI(t)
	tests := []struct {
		query string
		want  []string // parties whose army-cap position changed
	}{
		{"from=2025-11-20&to=2025-11-20", []string{"us"}},
		{"from=2025-11-20&to=2025-11-23", []string{"e3", "us"}},
		{"from=2025-11-21&to=2025-11-23", []string{"e3"}},
		{"from=2025-11-21&to=2025-11-22", nil},
		{"from=2025-11-23T00:00Z&to=2025-11-23T00:00Z", []string{"e3"}},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/diff?"+tt.query, nil))
		var d struct {
			Changes []struct {
				Party  string
				Before *struct{ Stance string }
				Events []string
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &d); rec.Code != 200 || err != nil {
			t.Fatalf("%s: %d %v %s", tt.query, rec.Code, err, rec.Body)
		}
		var got []string
		for _, c := range d.Changes {
			got = append(got, c.Party)
			if len(c.Events) != 1 {
				t.Errorf("%s: %s changed by %v, want one event", tt.query, c.Party, c.Events)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: changes for %v, want %v", tt.query, got, tt.want)
		}
	}
}

// TestRequireToken takes the bearer scheme in any case, as RFC 9110 has
// it, and nothing else.
func TestRequireToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	h := httpapi.RequireToken("s3cret", ok)
	for auth, want := range map[string]int{
		"Bearer s3cret": 200, "bearer s3cret": 200, "BEARER s3cret": 200,
		"": 401, "s3cret": 401, "Basic s3cret": 401, "Bearer": 401, "Bearer wrong": 401, "Bearer s3cret ": 401, "Bearers3cret": 401,
	} {
		req := httptest.NewRequest("POST", "/v1/events", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Authorization %q: %d, want %d", auth, rec.Code, want)
		}
	}
}

// TestJSONErrors answers the mux's own 404 and 405 in JSON, naming the
// path and the methods allowed, and leaves the handlers' answers alone.
func TestJSONErrors(t *testing.T) {
	h := httpapi.JSONErrors(newAPI(t))
	for _, c := range []struct {
		method, path string
		status       int
		want         string
	}{
		{"GET", "/v1/nope", 404, "no such endpoint: /v1/nope"},
		{"POST", "/v1/state", 405, "POST is not allowed on /v1/state (allowed: GET, HEAD)"},
		{"GET", "/v1/events/nope", 404, "nope"},
		// An id left empty: not a redirect, in HTML, to another endpoint.
		{"GET", "/v1/issues//history", 404, "no such endpoint: /v1/issues//history (an empty or dot segment"},
		{"GET", "/v1/issues/./history", 404, "no such endpoint: /v1/issues/./history"},
		{"POST", "/v1/subscriptions//rotate", 404, "no such endpoint: /v1/subscriptions//rotate"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		var p httpapi.Problem
		err := json.Unmarshal(rec.Body.Bytes(), &p)
		if rec.Code != c.status || err != nil || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") || !strings.Contains(p.Error, c.want) {
			t.Errorf("%s %s: %d %s %q, want %d with %q", c.method, c.path, rec.Code, rec.Header().Get("Content-Type"), rec.Body, c.status, c.want)
		}
	}
}

// TestStarting: while the service starts, it is alive, not ready, and
// asks readers to come back shortly; the live feed as an empty stream
// that asks to be reopened, since EventSource never retries a 503.
func TestStarting(t *testing.T) {
	h := httpapi.Starting(nil)
	for _, c := range []struct {
		path       string
		code       int
		retryAfter bool
		body       string
	}{
		{"/healthz", 200, false, ""},
		{"/readyz", 503, false, ""},
		{"/v1/state", 503, true, ""},
		{"/", 503, true, ""},
		{"/v1/feed?party=ua", 200, true, "retry: "},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
		if rec.Code != c.code || (rec.Header().Get("Retry-After") != "") != c.retryAfter || !strings.HasPrefix(rec.Body.String(), c.body) {
			t.Errorf("GET %s while starting: %d (Retry-After %q) %q, want %d %q", c.path, rec.Code, rec.Header().Get("Retry-After"), rec.Body, c.code, c.body)
		}
	}
}

// TestStartingRebuild: while a start rebuilds the read model, /readyz
// says how far it has come, so that whoever probes it knows why it waits.
func TestStartingRebuild(t *testing.T) {
	for _, c := range []struct {
		name    string
		running bool
		want    string
	}{
		{"rebuilding", true, `{"ready":false,"rebuild":{"applied":4000,"total":10000},"starting":true}`},
		{"opening", false, `{"ready":false,"starting":true}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := httpapi.Starting(func() (uint64, uint64, bool) { return 4000, 10000, c.running })
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if got := strings.TrimSpace(rec.Body.String()); rec.Code != 503 || got != c.want {
				t.Errorf("GET /readyz: %d %s, want 503 %s", rec.Code, got, c.want)
			}
		})
	}
}

// TestCORS lets pages of the configured origins read (a live blog on its
// own site), answers their preflight, and opens nothing else: no other
// origin, no subscription, no write, and no list at all by default.
func TestCORS(t *testing.T) {
	const blog = "https://live.newsroom.example"
	tests := []struct {
		name    string
		origins []string
		method  string
		path    string
		headers map[string]string
		code    int
		allow   string // Access-Control-Allow-Origin
		methods string // Access-Control-Allow-Methods
	}{
		{"default: none", nil, "GET", "/v1/state", map[string]string{"Origin": blog}, 200, "", ""},
		{"listed origin reads", []string{blog}, "GET", "/v1/state", map[string]string{"Origin": blog}, 200, blog, ""},
		{"listed origin, HEAD", []string{blog}, "HEAD", "/v1/vocabulary", map[string]string{"Origin": blog}, 200, blog, ""},
		{"other origin", []string{blog}, "GET", "/v1/state", map[string]string{"Origin": "https://evil.example"}, 200, "", ""},
		{"any origin", []string{"*"}, "GET", "/v1/timeline", map[string]string{"Origin": "https://evil.example"}, 200, "*", ""},
		{"no Origin: not a page", []string{"*"}, "GET", "/v1/state", nil, 200, "", ""},
		{"preflight of a read", []string{blog}, "OPTIONS", "/v1/state", map[string]string{"Origin": blog, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}, 204, blog, "GET, HEAD"},
		{"preflight of a write", []string{"*"}, "OPTIONS", "/v1/events", map[string]string{"Origin": blog, "Access-Control-Request-Method": "POST"}, 204, "", ""},
		{"preflight, other origin", []string{blog}, "OPTIONS", "/v1/state", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}, 204, "", ""},
		{"subscriptions stay closed", []string{"*"}, "GET", "/v1/subscriptions/sub_aaaaaaaaaaaaaaaaaaaa", map[string]string{"Origin": blog}, 404, "", ""},
		{"outside /v1/", []string{"*"}, "GET", "/healthz", map[string]string{"Origin": blog}, 200, "", ""},
	}
	for _, tt := range tests {
		h := httpapi.CORS(tt.origins, newAPI(t))
		req := httptest.NewRequest(tt.method, tt.path, nil)
		for k, v := range tt.headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := rec.Header()
		if rec.Code != tt.code || got.Get("Access-Control-Allow-Origin") != tt.allow || got.Get("Access-Control-Allow-Methods") != tt.methods {
			t.Errorf("%s: %s %s: %d, Allow-Origin %q, Allow-Methods %q; want %d, %q, %q", tt.name, tt.method, tt.path,
				rec.Code, got.Get("Access-Control-Allow-Origin"), got.Get("Access-Control-Allow-Methods"), tt.code, tt.allow, tt.methods)
		}
	}
	for o, ok := range map[string]bool{"*": true, blog: true, "http://127.0.0.1:8080": true, blog + "/": false, "live.newsroom.example": false, "ftp://x.example": false} {
		if err := httpapi.CheckOrigins([]string{o}); (err == nil) != ok {
			t.Errorf("CheckOrigins(%q): %v", o, err)
		}
	}
}

// TestCORSVary: with origins listed, every answer a page may read says
// it varies with Origin, the one asked without an Origin too: a cache in
// front keeps the vocabulary and the feeds a minute, and would otherwise
// hand a page the answer a program got, without the Allow-Origin its
// browser needs, or a page of one origin the answer allowed to another.
func TestCORSVary(t *testing.T) {
	const blog = "https://live.newsroom.example"
	for _, c := range []struct {
		origins []string
		path    string
		origin  string
		vary    bool
	}{
		{[]string{blog}, "/v1/vocabulary", "", true},
		{[]string{blog}, "/v1/vocabulary", blog, true},
		{[]string{"*"}, "/v1/state", "", true},
		{[]string{blog}, "/v1/state", "https://evil.example", true},
		{nil, "/v1/vocabulary", "", false},
		{[]string{blog}, "/healthz", "", false},
	} {
		h := httpapi.CORS(c.origins, newAPI(t))
		req := httptest.NewRequest("GET", c.path, nil)
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := slices.Contains(rec.Header().Values("Vary"), "Origin"); got != c.vary || rec.Code != 200 {
			t.Errorf("%v: GET %s with Origin %q: %d, Vary %q, want Origin there: %t", c.origins, c.path, c.origin, rec.Code, rec.Header().Values("Vary"), c.vary)
		}
	}
}

// TestCacheControl: answers that change with every event, and errors
// such as the 404 of an event not yet recorded, tell caches to ask again;
// the vocabulary may be kept a minute.
func TestCacheControl(t *testing.T) {
	h := httpapi.JSONErrors(newAPI(t))
	for _, c := range []struct {
		path, want string
	}{
		{"/v1/state", "no-cache"},
		{"/v1/state?at=2025-11-21", "no-cache"},
		{"/v1/timeline", "no-cache"},
		{"/v1/issues/army-cap/history", "no-cache"},
		{"/v1/diff?from=2025-11-20&to=2025-11-25", "no-cache"},
		{"/v1/events/leak", "no-cache"},
		{"/v1/events/not-yet", "no-cache"},
		{"/v1/timeline?limit=0", "no-cache"},
		{"/readyz", "no-cache"},
		{"/v1/vocabulary", "max-age=60"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
		if got := rec.Header().Get("Cache-Control"); got != c.want {
			t.Errorf("GET %s: %d, Cache-Control %q, want %q", c.path, rec.Code, got, c.want)
		}
	}
}
