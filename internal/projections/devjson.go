package projections

import (
	"encoding/json"
	"strconv"
	"time"
)

// appendJSON appends the development's JSON, byte for byte what
// encoding/json writes for it, without reflection: the apply loop encodes
// one per event, and the reflective encoder was a tenth of its time.
// TestDevelopmentJSON holds the two to the same bytes.
func (d *Development) appendJSON(b []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, d.Seq, 10)
	b = append(b, `,"recorded_at":`...)
	b = appendTime(b, d.RecordedAt)
	b = append(b, `,"event":`...)
	b = AppendJSONString(b, d.Event)
	b = append(b, `,"type":`...)
	b = AppendJSONString(b, d.Type)
	b = append(b, `,"kinds":`...)
	b = appendStrings(b, d.Kinds)
	if d.Corrects != "" {
		b = append(b, `,"corrects":`...)
		b = AppendJSONString(b, d.Corrects)
	}
	if len(d.Issues) > 0 {
		b = append(b, `,"issues":`...)
		b = appendStrings(b, d.Issues)
	}
	if len(d.Parties) > 0 {
		b = append(b, `,"parties":`...)
		b = appendStrings(b, d.Parties)
	}
	if len(d.Changes) > 0 {
		b = append(b, `,"changes":[`...)
		for i := range d.Changes {
			if i > 0 {
				b = append(b, ',')
			}
			b = d.Changes[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	if d.Revised != nil {
		b = append(b, `,"revised":{"from":`...)
		b = AppendJSONString(b, d.Revised.From)
		if d.Revised.To != "" {
			b = append(b, `,"to":`...)
			b = AppendJSONString(b, d.Revised.To)
		}
		b = append(b, '}')
	}
	if d.Note != "" {
		b = append(b, `,"note":`...)
		b = AppendJSONString(b, d.Note)
	}
	return append(b, '}')
}

func (c *Change) appendJSON(b []byte) []byte {
	b = append(b, `{"issue":`...)
	b = AppendJSONString(b, c.Issue)
	b = append(b, `,"party":`...)
	b = AppendJSONString(b, c.Party)
	if c.AsOf != "" {
		b = append(b, `,"as_of":`...)
		b = AppendJSONString(b, c.AsOf)
	}
	b = append(b, `,"before":`...)
	b = c.Before.appendJSON(b)
	b = append(b, `,"after":`...)
	b = c.After.appendJSON(b)
	return append(b, '}')
}

func (p *Position) appendJSON(b []byte) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	var v []byte
	if !p.Value.IsZero() {
		v, _ = p.Value.MarshalJSON() // a number or json.Marshal of a string
	}
	return appendPositionJSON(b, p.Stance, v, p.Event, p.Disputed)
}

// appendPositionJSON writes a position, from a Position's strings or a
// claim head's bytes; value is its JSON, empty for none.
func appendPositionJSON[S ~string | ~[]byte](b []byte, stance S, value []byte, event S, disputed bool) []byte {
	b = appendQuoted(append(b, `{"stance":`...), stance)
	if len(value) > 0 {
		b = append(append(b, `,"value":`...), value...)
	}
	b = appendQuoted(append(b, `,"event":`...), event)
	if disputed {
		b = append(b, `,"disputed":true`...)
	}
	return append(b, '}')
}

func appendStrings(b []byte, ss []string) []byte {
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

// AppendJSONString quotes s as encoding/json does. Names and ids are
// plain ASCII and are copied; anything else goes through encoding/json,
// which escapes HTML characters and invalid UTF-8 its own way.
func AppendJSONString(b []byte, s string) []byte { return appendQuoted(b, s) }

// plain marks the bytes encoding/json copies as they are: printable ASCII
// but the quote, the backslash and the HTML characters it escapes. A state
// answer checks about 100 KB of them.
var plain = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

func appendQuoted[S ~string | ~[]byte](b []byte, s S) []byte {
	for i := 0; i < len(s); i++ {
		if !plain[s[i]] {
			j, _ := json.Marshal(string(s))
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendTime writes t as time.Time's MarshalJSON does, for the years it
// accepts (jsonTime).
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// jsonTime reports whether time.Time's MarshalJSON accepts t.
func jsonTime(t time.Time) bool { y := t.Year(); return y >= 0 && y <= 9999 }
