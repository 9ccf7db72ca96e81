package httpapi

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/projections"
)

// Params reads query parameters, remembering the first error, so that a
// handler reads them all and checks once. The live feeds read theirs with
// it too.
type Params struct {
	q url.Values
	// Err is the first bad parameter, nil while all are good.
	Err *ParamError
}

// NewParams reads the parameters of q.
func NewParams(q url.Values) *Params { return &Params{q: q} }

// RequestParams reads the parameters of r's query, as NewParams, and
// refuses a query that does not parse, naming the parameter at fault:
// net/url drops such a pair without a word (r.URL.Query()), so that
// ?party=ua;type=talks would answer with no filter at all, and a guess
// such as POST ?dry_run=1;x would append for real.
func RequestParams(r *http.Request) *Params {
	q, err := url.ParseQuery(r.URL.RawQuery)
	p := &Params{q: q}
	if err == nil {
		return p
	}
	for pair := range strings.SplitSeq(r.URL.RawQuery, "&") {
		name, value, _ := strings.Cut(pair, "=")
		switch {
		case strings.Contains(pair, ";"):
			name, _, _ = strings.Cut(name, ";")
			p.Fail(unescaped(name), pair, `a ";" in the query: separate parameters with "&" (or write it %3B)`)
		case unescapeFails(name) || unescapeFails(value):
			p.Fail(unescaped(name), pair, `a "%" that starts no escape: write it %25`)
		}
	}
	p.Fail("", r.URL.RawQuery, err.Error()) // not found pair by pair: said whole
	return p
}

// unescaped is a query's name as sent, decoded where it can be.
func unescaped(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

func unescapeFails(s string) bool {
	_, err := url.QueryUnescape(s)
	return err != nil
}

// Fail records a bad parameter, unless one is recorded already.
func (p *Params) Fail(name, value, reason string) {
	if p.Err == nil {
		p.Err = &ParamError{Param: name, Value: value, Reason: reason}
	}
}

// Single returns the parameter's value; given twice is an error, as the
// second would be silently ignored.
func (p *Params) Single(name string) string {
	vs := p.q[name]
	if len(vs) > 1 {
		p.Fail(name, strings.Join(vs, ","), "given more than once")
		return ""
	}
	if len(vs) == 0 {
		return ""
	}
	if strings.TrimSpace(vs[0]) == "" {
		// "?party=" would otherwise widen the answer to every party.
		p.Fail(name, vs[0], "empty: give a value, or leave the parameter out")
		return ""
	}
	return vs[0]
}

// time reads a date or time. A date stands for the end of its day (and a
// minute for the end of its minute), so "as of 2025-11-21" counts all that
// happened on the 21st.
func (p *Params) time(name string) time.Time {
	t, ok := p.when(name)
	if !ok {
		return time.Time{}
	}
	return t.End()
}

// start reads a date or time as the start of what it stands for: the lower
// bound of a range.
func (p *Params) start(name string) time.Time {
	t, ok := p.when(name)
	if !ok {
		return time.Time{}
	}
	return t.Time
}

// ordered fails "to" when the range it ends starts after it.
func (p *Params) ordered(from, to time.Time) {
	if p.Err == nil && !from.IsZero() && !to.IsZero() && to.Before(from) {
		p.Fail("to", p.Single("to"), "before from")
	}
}

// when reads a date or time at the precision it was given.
func (p *Params) when(name string) (events.Time, bool) {
	s := p.Single(name)
	if s == "" {
		return events.Time{}, false
	}
	t, err := events.ParseTime(s)
	switch {
	case err != nil && strings.Contains(s, " "):
		// An offset's "+" sent unencoded arrives as a space.
		p.Fail(name, s, err.Error()+` (a "+" in a URL is a space: write it %2B)`)
		return events.Time{}, false
	case err != nil:
		p.Fail(name, s, err.Error())
		return events.Time{}, false
	case s != strings.TrimSpace(s):
		p.Fail(name, s, "spaces around the time")
		return events.Time{}, false
	}
	return t, true
}

// Term reads an id that must be in the vocabulary.
func (p *Params) Term(name string, lookup func(string) *events.Term) string {
	s := p.Single(name)
	if s != "" && lookup(s) == nil {
		p.Fail(name, s, events.NotInVocabulary)
		return ""
	}
	return s
}

func (p *Params) limit() int { return p.Count("limit", projections.DefaultLimit, projections.MaxLimit) }

// Count reads a whole number from 1 to max, def when the parameter is not
// given.
func (p *Params) Count(name string, def, max int) int {
	s := p.Single(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		p.Fail(name, s, "want a whole number from 1 to "+strconv.Itoa(max))
		return def
	}
	return n
}

func (p *Params) cursor() string {
	s := p.Single("cursor")
	if len(s) > 128 {
		p.Fail("cursor", s[:32]+"…", "not a cursor this service issued")
		return ""
	}
	return s
}

// desc reads order: asc (the default) walks oldest first, desc newest
// first.
func (p *Params) desc() bool {
	switch s := p.Single("order"); s {
	case "", "asc":
		return false
	case "desc":
		return true
	default:
		p.Fail("order", s, "want asc or desc")
		return false
	}
}

func (p *Params) knowledge() projections.Knowledge {
	return projections.Knowledge{At: p.time("known_at")}
}

// Only refuses parameters the endpoint does not know: a misspelt filter
// would otherwise widen the answer without a word.
//
// Of several, the first by name is named: the same request gets the same
// answer, not one picked by map order.
func (p *Params) Only(names ...string) {
	for _, k := range slices.Sorted(maps.Keys(p.q)) {
		if !slices.Contains(names, k) {
			if len(names) == 0 {
				p.Fail(k, p.q.Get(k), "unknown parameter (this endpoint takes none)")
				continue
			}
			p.Fail(k, p.q.Get(k), "unknown parameter (known: "+strings.Join(names, ", ")+")")
		}
	}
}
