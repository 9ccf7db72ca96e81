package events

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by every RecordError, for callers that only need to
// know that input was rejected rather than why.
var ErrInvalid = errors.New("invalid event")

// NotInVocabulary is the Reason of a FieldError whose value is no id of
// the vocabulary: a caller can tell the vocabulary which ones were.
const NotInVocabulary = "not in the vocabulary"

// FieldError is one thing wrong with one field of a record.
type FieldError struct {
	// Field is the path to the field: "title", "positions[1].party".
	Field string `json:"field"`
	// Value is the offending value as given, shortened when long.
	Value string `json:"value,omitempty"`
	// Reason says what is wrong, in words a user acts on.
	Reason string `json:"reason"`
	// Line is the input line the field is on, when known.
	Line int `json:"line,omitempty"`
}

func (e FieldError) String() string { return e.string(false) }

// string writes the error, with its line when withLine is set and the
// line is known.
func (e FieldError) string(withLine bool) string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field)
	}
	if e.Value != "" {
		fmt.Fprintf(&b, " %q", e.Value)
	}
	if withLine && e.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "(line %d)", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// RecordError says why one record of an input was rejected: where it is
// (file, line, record number), which event (when its id could be read), and
// what is wrong with which field.
type RecordError struct {
	File   string       `json:"file,omitempty"`
	Line   int          `json:"line,omitempty"`
	Record int          `json:"record,omitempty"`
	ID     string       `json:"id,omitempty"`
	Fields []FieldError `json:"errors"`
	// Read, when set, is why the input could not be read past this
	// point: the input's failure, not a record's.
	Read error `json:"-"`
}

func (e *RecordError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Record > 0 {
		fmt.Fprintf(&b, "record %d", e.Record)
		if e.ID != "" {
			fmt.Fprintf(&b, " (id %s)", e.ID)
		}
		b.WriteString(": ")
	} else if e.ID != "" {
		fmt.Fprintf(&b, "id %s: ", e.ID)
	}
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		// The record's line is written once, in front; a field on
		// another line says which.
		b.WriteString(f.string(f.Line != e.Line))
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *RecordError) Unwrap() error { return ErrInvalid }

// shorten keeps an offending value readable in an error: a 10 MiB title is
// reported by its start and its length, not echoed whole.
func shorten(s string) string {
	const max = 64
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return fmt.Sprintf("%s… (%d characters)", string(r[:max]), len(r))
}
