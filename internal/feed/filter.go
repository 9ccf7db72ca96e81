package feed

import (
	"net/url"
	"slices"

	"github.com/parley-news/parley/internal/projections"
)

// Filter narrows a feed to the developments that concern a party, an issue
// and an event type, as the timeline's filters do. The zero Filter lets
// everything through.
type Filter struct {
	Party, Issue, Type string
}

// Match reports whether d passes the filter: a development concerns the
// parties and issues of its event and, for a correction or retraction,
// those of the event it amends.
func (f Filter) Match(d *projections.Development) bool {
	switch {
	case f.Type != "" && d.Type != f.Type:
		return false
	case f.Party != "" && !slices.Contains(d.Parties, f.Party):
		return false
	case f.Issue != "" && !slices.Contains(d.Issues, f.Issue):
		return false
	}
	return true
}

// query is the filter as URL parameters, in a fixed order.
func (f Filter) query() string {
	v := url.Values{}
	for _, p := range [][2]string{{"party", f.Party}, {"issue", f.Issue}, {"type", f.Type}} {
		if p[1] != "" {
			v.Set(p[0], p[1])
		}
	}
	return v.Encode()
}
