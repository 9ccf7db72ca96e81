package projections

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// An event record is stored in a compact binary form around the JSON of
// each version's event, kept as it came: a timeline page copies those bytes
// into its answer after reading the few fields around them, and decoding a
// record decodes only the events themselves.
//
//	format(1)=1 id seq recorded versions retraction
//	version: seq recorded by issues parties canonical(1) event
//	retraction: present(1) [by seq recorded]
//
// Strings and the event JSON are a uvarint length and the bytes; lists a
// uvarint count and the strings; numbers uvarints; times two varints,
// Unix seconds and nanoseconds, read back in UTC.
const recordFormat = 1

var errBadRecord = errors.New("malformed event record")

// encode writes the record. A version without stored JSON (a correction's
// new version) is encoded by encoding/json, and so is canonical.
func (r *eventRecord) encode() ([]byte, error) {
	n := 64
	for i := range r.Versions {
		n += len(r.Versions[i].raw) + 128
	}
	b := make([]byte, 0, n)
	b = append(b, recordFormat)
	b = appendField(b, r.ID)
	b = binary.AppendUvarint(b, r.Seq)
	b = appendBinTime(b, r.RecordedAt)
	b = binary.AppendUvarint(b, uint64(len(r.Versions)))
	for i := range r.Versions {
		v := &r.Versions[i]
		if v.raw == nil {
			raw, err := json.Marshal(v.Event)
			if err != nil {
				return nil, fmt.Errorf("encode event %s version %d: %w", r.ID, i, err)
			}
			v.raw, v.Canonical = raw, true
		}
		b = binary.AppendUvarint(b, v.Seq)
		b = appendBinTime(b, v.RecordedAt)
		b = appendField(b, v.By)
		b = appendList(b, v.Issues)
		b = appendList(b, v.Parties)
		if v.Canonical {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = appendField(b, v.raw)
	}
	if m := r.Retraction; m != nil {
		b = append(b, 1)
		b = appendField(b, m.By)
		b = binary.AppendUvarint(b, m.Seq)
		b = appendBinTime(b, m.RecordedAt)
	} else {
		b = append(b, 0)
	}
	return b, nil
}

// decodeRecord reads a record. With events false it leaves each version's
// Event zero and only points raw at its JSON, inside b.
func decodeRecord(b []byte, events bool) (*eventRecord, error) {
	r := new(eventRecord)
	if err := decodeRecordInto(r, b, events, nil); err != nil {
		return nil, err
	}
	return r, nil
}

// decodeRecordInto is decodeRecord into r, reusing the room r's versions
// and their lists have: a timeline page reads a hundred records one after
// another into one. names, when not nil, hands out one string per issue
// or party name it has seen. r holds nothing of a record read before.
func decodeRecordInto(r *eventRecord, b []byte, events bool, names map[string]string) error {
	d := recordReader{b: b}
	if f := d.byte(); f != recordFormat {
		return fmt.Errorf("%w: format %d", errBadRecord, f)
	}
	vs := r.Versions[:0]
	*r = eventRecord{ID: d.string(), Seq: d.uvarint(), RecordedAt: d.time()}
	n := d.uvarint()
	if d.err != nil || n > uint64(len(b)) {
		return errBadRecord
	}
	if uint64(cap(vs)) < n {
		vs = make([]version, n)
	}
	r.Versions = vs[:n]
	for i := range r.Versions {
		v := &r.Versions[i]
		issues, parties := v.Issues, v.Parties
		*v = version{Seq: d.uvarint(), RecordedAt: d.time(), By: d.string()}
		v.Issues, v.Parties = d.listInto(issues, names), d.listInto(parties, names)
		v.Canonical = d.byte() == 1
		v.raw = d.field()
		if d.err != nil {
			return d.err
		}
		if events {
			if err := json.Unmarshal(v.raw, &v.Event); err != nil {
				return fmt.Errorf("decode event record %s version %d: %w", r.ID, i, err)
			}
		}
	}
	if d.byte() == 1 {
		r.Retraction = &mark{By: d.string(), Seq: d.uvarint(), RecordedAt: d.time()}
	}
	if d.err != nil {
		return fmt.Errorf("decode event record %s: %w", r.ID, d.err)
	}
	return nil
}

func appendList(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendField(b, s)
	}
	return b
}

func appendBinTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// recordReader reads the parts of a record, remembering the first error.
type recordReader struct {
	b   []byte
	err error
}

func (d *recordReader) fail() { d.err, d.b = errBadRecord, nil }

func (d *recordReader) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *recordReader) uvarint() uint64 {
	v, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return v
}

// fixed64 reads a big-endian uint64 (a claim's recorded time).
func (d *recordReader) fixed64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *recordReader) time() time.Time {
	s, k := binary.Varint(d.b)
	if k <= 0 {
		d.fail()
		return time.Time{}
	}
	d.b = d.b[k:]
	ns := d.uvarint()
	return time.Unix(s, int64(ns)).UTC()
}

func (d *recordReader) field() []byte {
	f, rest, ok := field(d.b)
	if !ok {
		d.fail()
		return nil
	}
	d.b = rest
	return f
}

func (d *recordReader) string() string { return string(d.field()) }

// listInto reads a list into dst's room (nil when the list is empty), with
// the strings names hands out when names is not nil.
func (d *recordReader) listInto(dst []string, names map[string]string) []string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
	}
	if n == 0 || d.err != nil {
		return nil
	}
	out := dst[:0]
	for range n {
		f := d.field()
		if names == nil {
			out = append(out, string(f))
			continue
		}
		s, ok := names[string(f)]
		if !ok {
			s = string(f)
			names[s] = s
		}
		out = append(out, s)
	}
	return out
}
