package events

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on the fields of an event. They keep one record from swamping the
// read model, the feeds or a reader's screen.
const (
	MaxTitle     = 200
	MaxSummary   = 4000
	MaxText      = 200  // a name, a place, an outlet, a textual value
	MaxQuote     = 2000 // a quote of a position
	MaxURL       = 2048
	MaxListItems = 100 // actors, people, sources, positions
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)

// idRule is how an invalid event id is told.
const idRule = "not an id: want a lower-case slug [a-z0-9][a-z0-9._-]{0,127}, without two dots in a row or a dot at the end"

// ValidID reports whether s is a well-formed event id. An id ends the
// subject the event is stored under, in which dots separate tokens and no
// token may be empty.
func ValidID(s string) bool {
	return idPattern.MatchString(s) && !strings.Contains(s, "..") && !strings.HasSuffix(s, ".")
}

// Validate checks an event against the rules of the wire format and the
// vocabulary. It returns every problem found, not only the first, each
// with its field path; nil means the event is valid.
func (v *Vocabulary) Validate(e *Event) []FieldError {
	var c checker
	c.id("id", e.ID)
	c.term("type", e.Type, v.Type)
	c.time("occurred_at", e.OccurredAt, true)
	c.text("title", e.Title, MaxTitle, true, false)
	c.text("summary", e.Summary, MaxSummary, false, true)
	c.parties("actors", e.Actors, v)
	c.names("people", e.People)
	c.text("location", e.Location, MaxText, false, false)
	c.sources("sources", e.Sources, true)
	c.positions("positions", e.Positions, v)

	switch e.Type {
	case TypeCorrection, TypeRetraction:
		if len(e.Positions) > 0 {
			c.add("positions", "", fmt.Sprintf("a %s states no positions of its own: put corrected positions in amend.positions", e.Type))
		}
		if e.Corrects == "" {
			c.add("corrects", "", fmt.Sprintf("required for a %s: the id of the event it amends", e.Type))
		} else {
			c.id("corrects", e.Corrects)
			if e.Corrects == e.ID {
				c.add("corrects", e.Corrects, "an event cannot correct itself")
			}
		}
	default:
		if e.Corrects != "" {
			c.add("corrects", e.Corrects, "only a correction or a retraction corrects an event")
		}
	}
	switch {
	case e.Type == TypeCorrection && e.Amend.IsEmpty():
		c.add("amend", "", "required for a correction: the corrected fields")
	case e.Type != TypeCorrection && e.Amend != nil:
		c.add("amend", "", "only a correction amends an event")
	case e.Amend != nil:
		a := e.Amend
		if a.OccurredAt != nil {
			c.time("amend.occurred_at", *a.OccurredAt, true)
		}
		if a.Title != nil {
			c.text("amend.title", *a.Title, MaxTitle, true, false)
		}
		if a.Summary != nil {
			c.text("amend.summary", *a.Summary, MaxSummary, false, true)
		}
		if a.Actors != nil {
			c.parties("amend.actors", *a.Actors, v)
		}
		if a.People != nil {
			c.names("amend.people", *a.People)
		}
		if a.Location != nil {
			c.text("amend.location", *a.Location, MaxText, false, false)
		}
		if a.Sources != nil {
			c.sources("amend.sources", *a.Sources, true)
		}
		if a.Positions != nil {
			c.positions("amend.positions", *a.Positions, v)
		}
	}
	return c.errs
}

type checker struct{ errs []FieldError }

func (c *checker) add(field, value, reason string) {
	c.errs = append(c.errs, FieldError{Field: field, Value: shorten(value), Reason: reason})
}

func (c *checker) id(field, s string) {
	switch {
	case s == "":
		c.add(field, "", "required")
	case !ValidID(s):
		c.add(field, s, idRule)
	}
}

func (c *checker) term(field, s string, lookup func(string) *Term) {
	switch {
	case s == "":
		c.add(field, "", "required")
	case lookup(s) == nil:
		c.add(field, s, NotInVocabulary)
	}
}

func (c *checker) time(field string, t Time, required bool) {
	switch {
	case t.invalid != nil:
		c.add(field, t.invalid.text, t.invalid.reason)
	case t.Time.IsZero() && required:
		c.add(field, "", "required")
	}
}

// text checks a free-text field: valid UTF-8, not blank (nothing but
// spaces and invisible format characters), no control characters (but
// line breaks and tabs where multiline is allowed, and the line and
// paragraph separators likewise), no bidirectional overrides or isolates
// (which make a title read otherwise than it is written, on the page and
// in every reader's feed), and a length limit in characters.
func (c *checker) text(field, s string, max int, required, multiline bool) {
	switch {
	case s == "" && required:
		c.add(field, "", "required")
	case s != "" && strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) }) == "":
		c.add(field, s, "blank")
	case !utf8.ValidString(s):
		c.add(field, strings.ToValidUTF8(s, "\uFFFD"), "invalid UTF-8")
	case utf8.RuneCountInString(s) > max:
		c.add(field, s, fmt.Sprintf("longer than %d characters", max))
	default:
		for _, r := range s {
			switch {
			case (unicode.IsControl(r) || r == '\u2028' || r == '\u2029') && !(multiline && (r == '\n' || r == '\t' || r == '\r' || r == '\u2028' || r == '\u2029')):
				c.add(field, s, fmt.Sprintf("control character %U", r))
				return
			case r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069':
				c.add(field, s, fmt.Sprintf("bidirectional control %U: the text would read otherwise than it is written", r))
				return
			}
		}
	}
}

func (c *checker) list(field string, n int) bool {
	if n > MaxListItems {
		c.add(field, "", fmt.Sprintf("more than %d items", MaxListItems))
		return false
	}
	return true
}

func (c *checker) parties(field string, ids []string, v *Vocabulary) {
	if !c.list(field, len(ids)) {
		return
	}
	for i, id := range ids {
		c.term(fmt.Sprintf("%s[%d]", field, i), id, v.Party)
	}
}

func (c *checker) names(field string, names []string) {
	if !c.list(field, len(names)) {
		return
	}
	for i, n := range names {
		c.text(fmt.Sprintf("%s[%d]", field, i), n, MaxText, true, false)
	}
}

func (c *checker) sources(field string, ss []Source, required bool) {
	if len(ss) == 0 && required {
		c.add(field, "", "at least one source is required")
		return
	}
	if !c.list(field, len(ss)) {
		return
	}
	for i, s := range ss {
		f := fmt.Sprintf("%s[%d]", field, i)
		c.text(f+".outlet", s.Outlet, MaxText, true, false)
		if s.URL != "" {
			c.url(f+".url", s.URL)
		}
		if s.PublishedAt != nil {
			c.time(f+".published_at", *s.PublishedAt, false)
		}
	}
}

func (c *checker) url(field, s string) {
	if len(s) > MaxURL {
		c.add(field, s, fmt.Sprintf("longer than %d bytes", MaxURL))
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.add(field, s, "not an absolute http or https URL")
	}
}

func (c *checker) positions(field string, ps []Position, v *Vocabulary) {
	if !c.list(field, len(ps)) {
		return
	}
	seen := map[[2]string]int{}
	for i, p := range ps {
		f := fmt.Sprintf("%s[%d]", field, i)
		c.term(f+".party", p.Party, v.Party)
		c.term(f+".issue", p.Issue, v.Issue)
		c.term(f+".stance", p.Stance, v.Stance)
		switch {
		case p.Value.changed != "":
			c.add(f+".value", p.Value.changed, "a number would not keep it as written (too many digits, or too small): give it as text")
		case p.Value.why != "":
			c.add(f+".value", p.Value.invalid, p.Value.why)
		case p.Value.invalid != "":
			c.add(f+".value", p.Value.invalid, "want a number or a short text")
		case p.Value.isText:
			c.text(f+".value", p.Value.text, MaxText, true, false)
		}
		c.text(f+".quote", p.Quote, MaxQuote, false, true)
		k := [2]string{p.Party, p.Issue}
		if j, dup := seen[k]; dup {
			c.add(f, p.Party+" on "+p.Issue, fmt.Sprintf("same party and issue as %s[%d]: one event states one position per party and issue", field, j))
		}
		seen[k] = i
	}
}
