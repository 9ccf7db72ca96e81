package projections

import (
	"strconv"
	"time"

	"github.com/parley-news/parley/internal/events"
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
	b = events.AppendJSONString(b, d.Event)
	b = append(b, `,"type":`...)
	b = events.AppendJSONString(b, d.Type)
	b = append(b, `,"kinds":`...)
	b = events.AppendJSONStrings(b, d.Kinds)
	if d.Corrects != "" {
		b = append(b, `,"corrects":`...)
		b = events.AppendJSONString(b, d.Corrects)
	}
	if len(d.Issues) > 0 {
		b = append(b, `,"issues":`...)
		b = events.AppendJSONStrings(b, d.Issues)
	}
	if len(d.Parties) > 0 {
		b = append(b, `,"parties":`...)
		b = events.AppendJSONStrings(b, d.Parties)
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
		b = events.AppendJSONString(b, d.Revised.From)
		if d.Revised.To != "" {
			b = append(b, `,"to":`...)
			b = events.AppendJSONString(b, d.Revised.To)
		}
		b = append(b, '}')
	}
	if d.Note != "" {
		b = append(b, `,"note":`...)
		b = events.AppendJSONString(b, d.Note)
	}
	return append(b, '}')
}

func (c *Change) appendJSON(b []byte) []byte {
	b = append(b, `{"issue":`...)
	b = events.AppendJSONString(b, c.Issue)
	b = append(b, `,"party":`...)
	b = events.AppendJSONString(b, c.Party)
	if c.AsOf != "" {
		b = append(b, `,"as_of":`...)
		b = events.AppendJSONString(b, c.AsOf)
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
	b = events.AppendJSONString(append(b, `{"stance":`...), stance)
	if len(value) > 0 {
		b = append(append(b, `,"value":`...), value...)
	}
	b = events.AppendJSONString(append(b, `,"event":`...), event)
	if disputed {
		b = append(b, `,"disputed":true`...)
	}
	return append(b, '}')
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
