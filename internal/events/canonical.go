package events

import (
	"bytes"
	"encoding/json"
)

// decodeCanonical reads an event from its canonical JSON, the bytes
// AppendCanonical writes and ingest stores, without encoding/json: a
// projector decodes every event of the stream on every rebuild, and
// encoding/json spends most of that time checking the syntax and reflecting
// over the fields. It reads the fields in the canonical order and spelling
// only, and accepts the result only if writing it back gives the same
// bytes; anything else (another producer's spelling, whitespace, an amend,
// an escape it leaves to encoding/json) is refused, for encoding/json to
// decode. What it accepts, encoding/json decodes to the same event:
// FuzzDecodeCanonical holds it to that.
func decodeCanonical(b []byte) (Event, bool) {
	var e Event
	d := canonicalReader{b: b, ok: true}
	d.lit(`{"id":`)
	e.ID = d.str()
	d.lit(`,"type":`)
	e.Type = d.str()
	d.lit(`,"occurred_at":`)
	d.time(&e.OccurredAt)
	d.lit(`,"title":`)
	e.Title = d.str()
	if d.opt(`,"summary":`) {
		e.Summary = d.str()
	}
	if d.opt(`,"actors":`) {
		e.Actors = d.strs()
	}
	if d.opt(`,"people":`) {
		e.People = d.strs()
	}
	if d.opt(`,"location":`) {
		e.Location = d.str()
	}
	d.lit(`,"sources":`)
	if !d.opt("null") {
		e.Sources = []Source{}
		for i := 0; d.next(i); i++ {
			var s Source
			d.lit(`{"outlet":`)
			s.Outlet = d.str()
			if d.opt(`,"url":`) {
				s.URL = d.str()
			}
			if d.opt(`,"published_at":`) {
				s.PublishedAt = new(Time)
				d.time(s.PublishedAt)
			}
			d.lit("}")
			e.Sources = append(e.Sources, s)
		}
	}
	if d.opt(`,"positions":`) {
		for i := 0; d.next(i); i++ {
			var p Position
			d.lit(`{"party":`)
			p.Party = d.str()
			d.lit(`,"issue":`)
			p.Issue = d.str()
			d.lit(`,"stance":`)
			p.Stance = d.str()
			if d.opt(`,"value":`) {
				d.value(&p.Value)
			}
			if d.opt(`,"quote":`) {
				p.Quote = d.str()
			}
			d.lit("}")
			e.Positions = append(e.Positions, p)
		}
	}
	if d.opt(`,"corrects":`) {
		e.Corrects = d.str()
	}
	d.lit("}")
	if !d.ok || d.i != len(b) || !e.IsCanonical(b) {
		return Event{}, false
	}
	return e, true
}

// canonicalReader reads the canonical JSON of an event. Its methods do
// nothing once ok is false, so that decodeCanonical reads as the event's
// shape and checks once at the end.
type canonicalReader struct {
	b  []byte
	i  int
	ok bool
}

// lit reads the literal s.
func (d *canonicalReader) lit(s string) {
	if !d.opt(s) {
		d.ok = false
	}
}

// opt reads the literal s if it comes next.
func (d *canonicalReader) opt(s string) bool {
	if d.ok && string(d.b[d.i:min(len(d.b), d.i+len(s))]) == s {
		d.i += len(s)
		return true
	}
	return false
}

// next reads what comes before the i-th element of a list, its opening
// bracket or a comma, and reports whether an element follows: false, with
// the closing bracket read, at the end.
func (d *canonicalReader) next(i int) bool {
	if i == 0 {
		d.lit("[")
	}
	if !d.ok || d.opt("]") {
		return false
	}
	if i > 0 {
		d.lit(",")
	}
	return d.ok
}

// rawString returns the next string with its quotes, and whether it has
// escapes. It need not check what JSON allows in a string: the event it
// reads is written back and compared.
func (d *canonicalReader) rawString() ([]byte, bool) {
	if !d.ok || d.i >= len(d.b) || d.b[d.i] != '"' {
		d.ok = false
		return nil, false
	}
	// Most strings have no escape: two scans that the runtime vectorises.
	rest := d.b[d.i+1:]
	if q := bytes.IndexByte(rest, '"'); q >= 0 && bytes.IndexByte(rest[:q], '\\') < 0 {
		s := d.b[d.i : d.i+q+2]
		d.i += q + 2
		return s, false
	}
	end := stringEnd(d.b, d.i)
	if end < 0 {
		d.ok = false
		return nil, false
	}
	s := d.b[d.i:end]
	d.i = end
	return s, true
}

// str reads a string. Escaped ones, a few in a real report (a quotation
// mark, an ampersand), are unquoted by encoding/json.
func (d *canonicalReader) str() string {
	s, escaped := d.rawString()
	if !d.ok {
		return ""
	}
	if !escaped {
		return string(s[1 : len(s)-1])
	}
	var out string
	if err := json.Unmarshal(s, &out); err != nil {
		d.ok = false
	}
	return out
}

// strs reads a list of strings.
func (d *canonicalReader) strs() []string {
	ss := []string{}
	for i := 0; d.next(i); i++ {
		ss = append(ss, d.str())
	}
	return ss
}

// time reads a time as its UnmarshalJSON does.
func (d *canonicalReader) time(t *Time) {
	s, _ := d.rawString()
	if d.ok {
		_ = t.UnmarshalJSON(s) // never fails: what does not parse is kept as invalid
	}
}

// value reads a number or a string as its UnmarshalJSON does.
func (d *canonicalReader) value(v *Value) {
	if !d.ok || d.i >= len(d.b) {
		d.ok = false
		return
	}
	if d.b[d.i] == '"' {
		*v = Text(d.str())
		return
	}
	j := d.i
	for j < len(d.b) && (d.b[j] >= '0' && d.b[j] <= '9' || d.b[j] == '-' || d.b[j] == '.') {
		j++
	}
	if j == d.i || v.UnmarshalJSON(d.b[d.i:j]) != nil || !v.isNum {
		d.ok = false
		return
	}
	d.i = j
}
