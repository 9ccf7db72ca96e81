package httpapi

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/projections"
)

// params reads query parameters, remembering the first error so that a
// handler reads them all and checks once.
type params struct {
	q   url.Values
	err error
}

func (p *params) fail(name, value, reason string) {
	if p.err == nil {
		p.err = &ParamError{Param: name, Value: value, Reason: reason}
	}
}

// single returns the parameter's value; given twice is an error, as the
// second would be silently ignored.
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

// time reads a date or time. A date stands for the end of its day (and a
// minute for the end of its minute), so "as of 2025-11-21" counts all that
// happened on the 21st.
func (p *params) time(name string) time.Time {
	s := p.single(name)
	if s == "" {
		return time.Time{}
	}
	t, err := events.ParseTime(s)
	if err != nil {
		p.fail(name, s, err.Error())
		return time.Time{}
	}
	return t.End()
}

// start reads a date or time as the start of what it stands for: the lower
// bound of a range.
func (p *params) start(name string) time.Time {
	s := p.single(name)
	if s == "" {
		return time.Time{}
	}
	t, err := events.ParseTime(s)
	if err != nil {
		p.fail(name, s, err.Error())
		return time.Time{}
	}
	return t.Time
}

// term reads an id that must be in the vocabulary.
func (p *params) term(name string, lookup func(string) *events.Term) string {
	s := p.single(name)
	if s != "" && lookup(s) == nil {
		p.fail(name, s, "not in the vocabulary")
		return ""
	}
	return s
}

func (p *params) limit() int {
	s := p.single("limit")
	if s == "" {
		return projections.DefaultLimit
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > projections.MaxLimit {
		p.fail("limit", s, "want a whole number from 1 to "+strconv.Itoa(projections.MaxLimit))
		return 0
	}
	return n
}

func (p *params) cursor() string {
	s := p.single("cursor")
	if len(s) > 128 {
		p.fail("cursor", s[:32]+"…", "not a cursor this service issued")
		return ""
	}
	return s
}

func (p *params) knowledge() projections.Knowledge {
	return projections.Knowledge{At: p.time("known_at")}
}

// only refuses parameters the endpoint does not know: a misspelt filter
// would otherwise widen the answer without a word.
func (p *params) only(names ...string) {
	for k := range p.q {
		found := false
		for _, n := range names {
			if k == n {
				found = true
				break
			}
		}
		if !found {
			p.fail(k, p.q.Get(k), "unknown parameter (known: "+strings.Join(names, ", ")+")")
		}
	}
}
