package alert

import (
	"fmt"
	"slices"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/projections"
)

// Filter narrows the developments a subscription hears about. Each list
// that is not empty must match (a list matches when any of its values
// does); an empty Filter matches every development.
type Filter struct {
	// Parties and Issues match a development that concerns any of them.
	Parties []string `json:"parties,omitempty"`
	Issues  []string `json:"issues,omitempty"`
	// Types match the type of the event that made the development.
	Types []string `json:"types,omitempty"`
	// Changes match the kinds of development, the values of
	// projections.Kinds.
	Changes []string `json:"changes,omitempty"`
}

// Match reports whether the development passes the filter.
func (f Filter) Match(d *projections.Development) bool {
	return anyOf(f.Parties, d.Parties) &&
		anyOf(f.Issues, d.Issues) &&
		(len(f.Types) == 0 || slices.Contains(f.Types, d.Type)) &&
		anyOf(f.Changes, d.Kinds)
}

// anyOf is true when want is empty or shares a value with have.
func anyOf(want, have []string) bool {
	if len(want) == 0 {
		return true
	}
	for _, h := range have {
		if slices.Contains(want, h) {
			return true
		}
	}
	return false
}

// FieldError is a subscription field that cannot be accepted: a 400 that
// names it.
type FieldError struct {
	Field  string
	Value  string
	Reason string
}

func (e *FieldError) Error() string {
	if e.Value == "" {
		return e.Field + ": " + e.Reason
	}
	return fmt.Sprintf("%s %q: %s", e.Field, e.Value, e.Reason)
}

// Validate checks every value against the vocabulary (nil skips parties,
// issues and types) and the kinds of development, so that a misspelt
// filter is refused instead of silently matching nothing.
func (f Filter) Validate(v *events.Vocabulary) error {
	lists := []struct {
		field string
		vals  []string
		known func(string) bool
	}{
		{"filter.parties", f.Parties, func(s string) bool { return v == nil || v.Party(s) != nil }},
		{"filter.issues", f.Issues, func(s string) bool { return v == nil || v.Issue(s) != nil }},
		{"filter.types", f.Types, func(s string) bool { return v == nil || v.Type(s) != nil }},
		{"filter.changes", f.Changes, func(s string) bool { return slices.Contains(projections.Kinds, s) }},
	}
	for _, l := range lists {
		if len(l.vals) > MaxFilterValues {
			return &FieldError{Field: l.field, Reason: fmt.Sprintf("more than %d values", MaxFilterValues)}
		}
		for _, s := range l.vals {
			if !l.known(s) {
				reason := events.NotInVocabulary
				if l.field == "filter.changes" {
					reason = fmt.Sprintf("not a kind of development (one of %v)", projections.Kinds)
				}
				return &FieldError{Field: l.field, Value: s, Reason: reason}
			}
		}
	}
	return nil
}

// MaxFilterValues bounds each list of a filter.
const MaxFilterValues = 100
