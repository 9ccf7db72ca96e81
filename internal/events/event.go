package events

import (
	"encoding/json"
	"fmt"
)

// Event is one dated development in a negotiation, as clients send it and
// as it travels in the stream's CloudEvents envelope. Its recorded time is
// not part of it: that is when the stream stored it.
type Event struct {
	ID         string     `json:"id" yaml:"id"`
	Type       string     `json:"type" yaml:"type"`
	OccurredAt Time       `json:"occurred_at" yaml:"occurred_at"`
	Title      string     `json:"title" yaml:"title"`
	Summary    string     `json:"summary,omitempty" yaml:"summary"`
	Actors     []string   `json:"actors,omitempty" yaml:"actors"`
	People     []string   `json:"people,omitempty" yaml:"people"`
	Location   string     `json:"location,omitempty" yaml:"location"`
	Sources    []Source   `json:"sources" yaml:"sources"`
	Positions  []Position `json:"positions,omitempty" yaml:"positions"`
	Corrects   string     `json:"corrects,omitempty" yaml:"corrects"`
	Amend      *Amend     `json:"amend,omitempty" yaml:"amend"`
}

// Source is where a report comes from.
type Source struct {
	Outlet      string `json:"outlet" yaml:"outlet"`
	URL         string `json:"url,omitempty" yaml:"url"`
	PublishedAt *Time  `json:"published_at,omitempty" yaml:"published_at"`
}

// Position is what an event says a party holds on an issue.
type Position struct {
	Party  string `json:"party" yaml:"party"`
	Issue  string `json:"issue" yaml:"issue"`
	Stance string `json:"stance" yaml:"stance"`
	Value  Value  `json:"value,omitzero" yaml:"value"`
	Quote  string `json:"quote,omitempty" yaml:"quote"`
}

// Amend carries the fields a correction changes in the event it corrects.
// A nil field is left as it was; Positions, when set, replace the corrected
// event's positions whole.
type Amend struct {
	OccurredAt *Time       `json:"occurred_at,omitempty" yaml:"occurred_at"`
	Title      *string     `json:"title,omitempty" yaml:"title"`
	Summary    *string     `json:"summary,omitempty" yaml:"summary"`
	Actors     *[]string   `json:"actors,omitempty" yaml:"actors"`
	People     *[]string   `json:"people,omitempty" yaml:"people"`
	Location   *string     `json:"location,omitempty" yaml:"location"`
	Sources    *[]Source   `json:"sources,omitempty" yaml:"sources"`
	Positions  *[]Position `json:"positions,omitempty" yaml:"positions"`
}

// IsEmpty reports whether the amendment changes nothing.
func (a *Amend) IsEmpty() bool {
	return a == nil || (a.OccurredAt == nil && a.Title == nil && a.Summary == nil && a.Actors == nil &&
		a.People == nil && a.Location == nil && a.Sources == nil && a.Positions == nil)
}

// The event types whose meaning the projection knows. Every other type of
// the vocabulary is a plain development.
const (
	TypeCorrection = "correction"
	TypeRetraction = "retraction"
)

// Amended returns a copy of e with the amendment applied. e is not changed.
func (e Event) Amended(a *Amend) Event {
	if a == nil {
		return e
	}
	if a.OccurredAt != nil {
		e.OccurredAt = *a.OccurredAt
	}
	if a.Title != nil {
		e.Title = *a.Title
	}
	if a.Summary != nil {
		e.Summary = *a.Summary
	}
	if a.Actors != nil {
		e.Actors = append([]string(nil), (*a.Actors)...)
	}
	if a.People != nil {
		e.People = append([]string(nil), (*a.People)...)
	}
	if a.Location != nil {
		e.Location = *a.Location
	}
	if a.Sources != nil {
		e.Sources = append([]Source(nil), (*a.Sources)...)
	}
	if a.Positions != nil {
		e.Positions = append([]Position(nil), (*a.Positions)...)
	}
	return e
}

// Canonical is the event's JSON in a fixed form: the bytes that the stream
// stores and that two sends of the same event are compared by.
// It starts with room for a typical event, about 1 KiB.
func (e Event) Canonical() []byte { return e.AppendCanonical(make([]byte, 0, 1024)) }

func (e Event) marshal() []byte {
	b, err := json.Marshal(e)
	if err != nil {
		// Every field marshals; an error here is a bug in this package.
		panic(fmt.Sprintf("marshal event %s: %v", e.ID, err))
	}
	return b
}

// Parties returns the parties the event concerns: its actors and the
// parties of its positions, each once, in the order first named.
func (e Event) Parties() []string {
	return uniq(e.Actors, func(yield func(string)) {
		for _, p := range e.Positions {
			yield(p.Party)
		}
	})
}

// Issues returns the issues of the event's positions, each once.
func (e Event) Issues() []string {
	return uniq(nil, func(yield func(string)) {
		for _, p := range e.Positions {
			yield(p.Issue)
		}
	})
}

func uniq(first []string, more func(func(string))) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, s := range first {
		add(s)
	}
	more(add)
	return out
}
