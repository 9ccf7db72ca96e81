package events

import (
	"bytes"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"
)

// AppendCanonical appends Canonical's bytes to b. It writes the event by
// hand, which is a fifth of what encoding/json's reflection costs: every
// event a projector applies is compared with its canonical form, a
// million in a rebuild. An event encoding/json would treat otherwise (a
// correction's amend, a number JSON cannot hold) goes through
// encoding/json itself. FuzzCanonical holds the two to the same bytes.
func (e Event) AppendCanonical(b []byte) []byte {
	n := len(b)
	if out, ok := e.appendJSON(b); ok {
		return out
	}
	return append(b[:n], e.marshal()...)
}

// IsCanonical reports whether raw is the event's canonical JSON.
func (e Event) IsCanonical(raw []byte) bool {
	bp := canonicalBuf.Get().(*[]byte)
	*bp = e.AppendCanonical((*bp)[:0])
	same := bytes.Equal(raw, *bp)
	canonicalBuf.Put(bp)
	return same
}

var canonicalBuf = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// appendJSON writes the event as encoding/json does, or reports that it
// leaves this event to encoding/json.
func (e *Event) appendJSON(b []byte) ([]byte, bool) {
	if e.Amend != nil {
		return b, false
	}
	b = append(b, `{"id":`...)
	b = AppendJSONString(b, e.ID)
	b = append(b, `,"type":`...)
	b = AppendJSONString(b, e.Type)
	b = append(b, `,"occurred_at":`...)
	b = e.OccurredAt.appendJSON(b)
	b = append(b, `,"title":`...)
	b = AppendJSONString(b, e.Title)
	if e.Summary != "" {
		b = append(b, `,"summary":`...)
		b = AppendJSONString(b, e.Summary)
	}
	if len(e.Actors) > 0 {
		b = append(b, `,"actors":`...)
		b = AppendJSONStrings(b, e.Actors)
	}
	if len(e.People) > 0 {
		b = append(b, `,"people":`...)
		b = AppendJSONStrings(b, e.People)
	}
	if e.Location != "" {
		b = append(b, `,"location":`...)
		b = AppendJSONString(b, e.Location)
	}
	b = append(b, `,"sources":`...)
	if e.Sources == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range e.Sources {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.Sources[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	if len(e.Positions) > 0 {
		b = append(b, `,"positions":[`...)
		for i := range e.Positions {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = e.Positions[i].appendJSON(b); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	if e.Corrects != "" {
		b = append(b, `,"corrects":`...)
		b = AppendJSONString(b, e.Corrects)
	}
	return append(b, '}'), true
}

func (s *Source) appendJSON(b []byte) []byte {
	b = append(b, `{"outlet":`...)
	b = AppendJSONString(b, s.Outlet)
	if s.URL != "" {
		b = append(b, `,"url":`...)
		b = AppendJSONString(b, s.URL)
	}
	if s.PublishedAt != nil {
		b = append(b, `,"published_at":`...)
		b = s.PublishedAt.appendJSON(b)
	}
	return append(b, '}')
}

// appendJSON writes the position, or reports that its value is left to
// encoding/json.
func (p *Position) appendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"party":`...)
	b = AppendJSONString(b, p.Party)
	b = append(b, `,"issue":`...)
	b = AppendJSONString(b, p.Issue)
	b = append(b, `,"stance":`...)
	b = AppendJSONString(b, p.Stance)
	if !p.Value.IsZero() {
		var ok bool
		b = append(b, `,"value":`...)
		if b, ok = p.Value.appendJSON(b); !ok {
			return b, false
		}
	}
	if p.Quote != "" {
		b = append(b, `,"quote":`...)
		b = AppendJSONString(b, p.Quote)
	}
	return append(b, '}'), true
}

// appendJSON writes the time as its MarshalJSON does: a formatted time
// holds nothing JSON escapes.
func (t Time) appendJSON(b []byte) []byte {
	b = append(b, '"')
	b = t.Time.AppendFormat(b, t.layout())
	return append(b, '"')
}

// appendJSON writes the value as its MarshalJSON does, or reports that it
// leaves it to encoding/json (which refuses what is not JSON).
func (v Value) appendJSON(b []byte) ([]byte, bool) {
	switch {
	case v.isNum:
		if math.IsInf(v.num, 0) || math.IsNaN(v.num) {
			return b, false
		}
		return strconv.AppendFloat(b, v.num, 'f', -1, 64), true
	case v.isText:
		return AppendJSONString(b, v.text), true
	}
	return append(b, "null"...), true
}

// AppendJSONStrings writes a list of strings as encoding/json does, nil
// as null.
func AppendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, s)
	}
	return append(b, ']')
}

// AppendJSONString quotes s as encoding/json does (its appendString, with
// HTML escaping): printable ASCII and valid UTF-8 are copied, quotes,
// backslashes, control and HTML characters, U+2028 and U+2029 escaped,
// and invalid UTF-8 replaced by U+FFFD. Answers quote a few thousand
// strings each, which encoding/json would copy through a reflection
// and an allocation apiece.
func AppendJSONString[S ~string | ~[]byte](b []byte, s S) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(len(s), i+utf8.UTFMax)]))
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// JSONPlain says whether AppendJSONString copies s as it is, between its
// quotes: whether s may be written quoted without looking at it again.
func JSONPlain[S ~string | ~[]byte](s S) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if !plain[c] {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(len(s), i+utf8.UTFMax)]))
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return false
		}
		i += size
	}
	return true
}

// plain marks the ASCII bytes encoding/json copies as they are: printable
// ASCII and DEL, but the quote, the backslash and the HTML characters it
// escapes.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
