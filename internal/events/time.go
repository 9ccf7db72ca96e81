package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Precision is how finely a Time was given. It is kept so that a date given
// as a day is shown back as a day, never as midnight UTC.
type Precision uint8

const (
	// Day is a plain date, 2025-11-20.
	Day Precision = iota
	// Minute is a time of day without seconds, 2025-11-20T14:30Z.
	Minute
	// Second is a full RFC 3339 time, with or without fractions.
	Second
)

func (p Precision) String() string {
	switch p {
	case Day:
		return "day"
	case Minute:
		return "minute"
	default:
		return "second"
	}
}

// Years outside this range are taken for typing errors.
const (
	minYear = 1900
	maxYear = 2200
)

// Time is an instant with the precision it was given at.
type Time struct {
	time.Time
	Precision Precision

	// invalid holds text that did not parse, so that decoding can go on and
	// Validate can name the field it came from.
	invalid *invalidText
}

type invalidText struct {
	text   string
	reason string
	// readable is set when the text was read all the same (Time holds it)
	// and only ParseTime's later checks refuse it: Validate refuses such a
	// time in new input, while an event the stream already holds, taken
	// before the checks, still reads as it was recorded.
	readable bool
}

var layouts = []struct {
	layout    string
	precision Precision
}{
	{time.DateOnly, Day},
	{"2006-01-02T15:04Z07:00", Minute},
	{time.RFC3339Nano, Second},
}

// likelyLayout is the index in layouts of the form s seems to have.
func likelyLayout(s string) int {
	switch {
	case len(s) == len(time.DateOnly):
		return 0
	case len(s) > 16 && s[10] == 'T' && s[16] != ':':
		return 1
	}
	return 2
}

// ParseTime reads a date (2006-01-02), a minute (2006-01-02T15:04Z07:00) or an
// RFC 3339 time, keeping its precision and its offset.
func ParseTime(s string) (Time, error) {
	t, err := ReadTime(s)
	if err == nil {
		err = t.checkRFC3339(s)
	}
	if err != nil {
		return Time{}, err
	}
	return t, nil
}

// ReadTime reads a time as ParseTime does, without the checks ParseTime
// added later: for times recorded before them, in the stream or in a read
// model, which must read as they were recorded.
func ReadTime(s string) (Time, error) {
	s = strings.TrimSpace(s)
	// RFC 3339 allows a lower-case t and z, and a space between date and
	// time (the form people type and YAML timestamps take); Go's layouts
	// take only the capital T and Z.
	if len(s) > 10 && (s[10] == 't' || s[10] == ' ' || s[len(s)-1] == 'z') {
		b := []byte(s)
		if b[10] == 't' || b[10] == ' ' {
			b[10] = 'T'
		}
		if b[len(b)-1] == 'z' {
			b[len(b)-1] = 'Z'
		}
		s = string(b)
	}
	// YAML writes a timestamp's offset after a space (2025-11-20
	// 10:00:00 +01:00), which RFC 3339 does not; the time reads the same.
	if i := strings.LastIndexByte(s, ' '); i > 10 && i+1 < len(s) && strings.IndexByte("+-Z", s[i+1]) >= 0 {
		s = s[:i] + s[i+1:]
	}
	var (
		t   time.Time
		p   Precision
		err error
	)
	// The layouts accept disjoint forms: the one the shape suggests is
	// tried first, since each failed attempt costs an error's allocation.
	first := likelyLayout(s)
	for i := range layouts {
		l := layouts[(first+i)%len(layouts)]
		if t, err = time.Parse(l.layout, s); err == nil {
			p = l.precision
			break
		}
	}
	if err != nil {
		return Time{}, fmt.Errorf("not a date or time (want 2006-01-02, 2006-01-02T15:04Z or RFC 3339)%s", hint(s))
	}
	if y := t.Year(); y < minYear || y > maxYear {
		return Time{}, fmt.Errorf("year %d out of range %d-%d", y, minYear, maxYear)
	}
	return Time{Time: t, Precision: p}, nil
}

// hint says what is wrong with a time that did not parse, when it is a
// form people write and RFC 3339 has or seems to have: a leap second,
// 24:00, a time without its offset. "" for anything else.
func hint(s string) string {
	if len(s) < 16 || s[10] != 'T' || s[13] != ':' {
		return ""
	}
	switch clock := s[11:]; {
	case len(clock) >= 8 && clock[5] == ':' && clock[6:8] == "60":
		// RFC 3339 allows it; Go's time, like most systems', has no leap
		// seconds, and one kept as the next second's start would misorder
		// it with that second's events.
		return ": a leap second (:60) cannot be kept: write :59"
	case clock[:2] == "24":
		return ": 24:00 is not a time of day: write 00:00 of the next day"
	case !strings.ContainsAny(clock, "Z+-"):
		return ": add the offset, Z for UTC or as +01:00: a time without one could be of any zone"
	}
	return ""
}

// checkRFC3339 refuses what time.Parse lets through but RFC 3339 does
// not, in s as t was read from: an offset past 23:59 (it reads -00:60 as
// -01:00 and keeps +24:00) and a fraction after a comma. Either is more
// likely a typing error than a time. A date has neither.
func (t Time) checkRFC3339(s string) error {
	if t.Precision == Day {
		return nil
	}
	s = strings.TrimSpace(s)
	if strings.IndexByte(s, ',') >= 0 {
		return fmt.Errorf("a comma in the time: write fractions of a second after a point (10:00:00.5)")
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		// Go reads more digits and drops those past the nanosecond: the
		// time kept would not be the time written.
		n := 0
		for _, c := range s[i+1:] {
			if c < '0' || c > '9' {
				break
			}
			n++
		}
		if n > 9 {
			return fmt.Errorf("%d digits of a second's fraction: at most 9 (nanoseconds) are kept", n)
		}
	}
	if n := len(s); n >= 6 && (s[n-6] == '+' || s[n-6] == '-') {
		off := s[n-6:]
		if off[1:3] > "23" || off[4:6] > "59" {
			return fmt.Errorf("offset %s out of range (-23:59 to +23:59)", off)
		}
	}
	return nil
}

// MustTime is ParseTime for literals in tests and examples.
func MustTime(s string) Time {
	t, err := ParseTime(s)
	if err != nil {
		panic(fmt.Sprintf("events.MustTime(%q): %v", s, err))
	}
	return t
}

// String shows the time at its precision, with the offset it was given in.
func (t Time) String() string { return t.Time.Format(t.layout()) }

// layout is the form a time of this precision is written in.
func (t Time) layout() string {
	switch t.Precision {
	case Day:
		return time.DateOnly
	case Minute:
		return "2006-01-02T15:04Z07:00"
	default:
		return time.RFC3339Nano
	}
}

// End is the last instant the time stands for: the end of its day for a
// date, of its minute for a minute. A query "as of 2025-11-21" includes all
// of that day.
func (t Time) End() time.Time {
	switch t.Precision {
	case Day:
		return t.Time.AddDate(0, 0, 1).Add(-time.Nanosecond)
	case Minute:
		return t.Time.Add(time.Minute - time.Nanosecond)
	default:
		return t.Time
	}
}

// IsZero reports whether t was never set.
func (t Time) IsZero() bool { return t.Time.IsZero() && t.invalid == nil }

// MarshalText writes the time at its precision.
func (t Time) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads what MarshalText writes, and any form ParseTime takes.
// Text that does not parse is kept for Validate to report with its field,
// which encoding/json would not name.
func (t *Time) UnmarshalText(b []byte) error {
	v, err := ReadTime(string(b))
	if err != nil {
		*t = Time{invalid: &invalidText{text: string(b), reason: err.Error()}}
		return nil
	}
	if err := v.checkRFC3339(string(b)); err != nil {
		v.invalid = &invalidText{text: string(b), reason: err.Error(), readable: true}
	}
	*t = v
	return nil
}

// MarshalJSON writes the time at its precision. (The embedded time.Time's
// methods would write every time at nanosecond precision.)
func (t Time) MarshalJSON() ([]byte, error) { return t.appendJSON(nil), nil }

// UnmarshalJSON reads a JSON string as UnmarshalText does; anything else
// is kept as invalid for Validate to report.
func (t *Time) UnmarshalJSON(b []byte) error {
	// encoding/json hands over one whole valid value: a string without
	// escapes (or bytes it would replace) is its own text, read without
	// decoding it again.
	if len(b) >= 2 && b[0] == '"' && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
		return t.UnmarshalText(b[1 : len(b)-1])
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		*t = Time{invalid: &invalidText{text: string(b), reason: "want a date or time in a string"}}
		return nil
	}
	return t.UnmarshalText([]byte(s))
}

// UnmarshalYAML reads a scalar as UnmarshalText does, whatever tag YAML gave
// it (an unquoted 2025-11-20 is a !!timestamp to YAML).
func (t *Time) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a date or time")
	}
	return t.UnmarshalText([]byte(n.Value))
}
