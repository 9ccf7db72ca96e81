package projections

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/parley-news/parley/internal/events"
)

// A claim's value in the claims bucket is its validity, a compact head
// (what applying compares and counts: stance, value, the event, the
// outlets) and a tail with the rest of what an answer shows of the claim,
// so that state, history and diff answers are read from the index alone,
// without decoding an event record per cell.
//
//	validity(16) flags(1) stance value event outlets
//	occurred type title quote by recorded(8) [corrected(8)] sources
//
// flags is the precision of the event time, plus plainFlag when every
// string of the claim is written in JSON as it is (events.JSONPlain), so
// that an answer copies them between quotes without escaping: a state
// answer writes some two thousand.
// each string a uvarint length and its bytes; outlets joined by 0x1f;
// recorded is when the event was first recorded, corrected (only when by
// names a correction) when this version was;
// occurred is the event time as the event wrote it (offset and precision
// kept); sources a uvarint count plus one (0 for none given), then outlet,
// url and published time of each.
type claimHead struct {
	prec    events.Precision
	plain   bool // every string of the claim is JSON-plain
	stance  []byte
	value   []byte // the value's canonical JSON, empty when none
	event   []byte
	outlets []byte
	tail    []byte
}

func (h *claimHead) sameAs(o *claimHead) bool {
	return bytes.Equal(h.stance, o.stance) && bytes.Equal(h.value, o.value)
}

// encodeClaim writes the value of one position of one version of an
// event.
func encodeClaim(v validity, rec *eventRecord, ver *version, p events.Position) []byte {
	id := rec.ID
	e := &ver.Event
	var val []byte
	if !p.Value.IsZero() {
		val, _ = p.Value.MarshalJSON()
	}
	b := make([]byte, validityLen, 256)
	v.encode(b)
	b = append(b, byte(e.OccurredAt.Precision))
	// quoted appends a string an answer writes quoted, and notes whether
	// it needs escaping there.
	plain := true
	quoted := func(s string) {
		plain = plain && events.JSONPlain(s)
		b = appendField(b, s)
	}
	quoted(p.Stance)
	b = appendField(b, val) // JSON already
	quoted(id)
	b = binary.AppendUvarint(b, uint64(outletsLen(e.Sources)))
	for i, s := range e.Sources {
		if i > 0 {
			b = append(b, 0x1f)
		}
		b = append(b, s.Outlet...)
	}
	quoted(e.OccurredAt.String())
	quoted(e.Type)
	quoted(e.Title)
	quoted(p.Quote)
	quoted(ver.By)
	b = binary.BigEndian.AppendUint64(b, uint64(rec.RecordedAt.UnixNano()))
	if ver.By != "" {
		b = binary.BigEndian.AppendUint64(b, uint64(ver.RecordedAt.UnixNano()))
	}
	if e.Sources == nil {
		b = binary.AppendUvarint(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(e.Sources))+1)
	}
	for _, s := range e.Sources {
		quoted(s.Outlet)
		quoted(s.URL)
		pub := ""
		if s.PublishedAt != nil {
			pub = s.PublishedAt.String()
		}
		quoted(pub)
	}
	if plain {
		b[validityLen] |= plainFlag
	}
	return b
}

// plainFlag marks a claim whose strings need no escaping in JSON.
const plainFlag = 0x80

func outletsLen(ss []events.Source) int {
	n := 0
	for i, s := range ss {
		if i > 0 {
			n++
		}
		n += len(s.Outlet)
	}
	return n
}

func appendField[S ~string | ~[]byte](b []byte, s S) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errBadClaim = errors.New("malformed claim entry")

// decodeClaimHead reads a head without copying: its slices point into b,
// valid for the transaction.
func decodeClaimHead(b []byte) (claimHead, error) {
	var h claimHead
	if len(b) < validityLen+1 {
		return h, errBadClaim
	}
	h.prec = events.Precision(b[validityLen] &^ plainFlag)
	h.plain = b[validityLen]&plainFlag != 0
	rest := b[validityLen+1:]
	for _, dst := range []*[]byte{&h.stance, &h.value, &h.event, &h.outlets} {
		var ok bool
		if *dst, rest, ok = field(rest); !ok {
			return h, errBadClaim
		}
	}
	h.tail = rest
	return h, nil
}

// field splits a length-prefixed field off b.
func field(b []byte) (f, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return nil, b, false
	}
	return b[k : k+int(n)], b[k+int(n):], true
}

// claimTail is a claim's tail read in place: its fields are bytes of the
// entry, and the sources follow in rest.
type claimTail struct {
	occurred, typ, title, quote, by []byte
	recorded                        time.Time
	corrected                       time.Time // zero unless by is set
	sources                         int       // -1 when the event gave none
	rest                            recordReader
}

// readTail reads the fixed part of the head's tail: the one place that
// knows its layout, with source.
func (h *claimHead) readTail() (claimTail, error) {
	d := recordReader{b: h.tail}
	t := claimTail{occurred: d.field(), typ: d.field(), title: d.field(), quote: d.field(), by: d.field()}
	t.recorded = time.Unix(0, int64(d.fixed64())).UTC()
	if len(t.by) > 0 {
		t.corrected = time.Unix(0, int64(d.fixed64())).UTC()
	}
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b))+1 {
		return t, errBadClaim
	}
	t.sources, t.rest = int(n)-1, d
	return t, nil
}

// source reads the next source: its outlet, URL and published time as
// written, empty when not given.
func (t *claimTail) source() (outlet, url, published []byte, err error) {
	outlet, url, published = t.rest.field(), t.rest.field(), t.rest.field()
	return outlet, url, published, t.rest.err
}

// claim reads the whole claim: the head and its tail, copied out of the
// transaction's memory.
func (r *claimRef) claim() (Claim, error) {
	h := &r.head
	c := Claim{Issue: r.issue, Party: r.party, Stance: string(h.stance), Event: string(h.event), Seq: r.seq()}
	bad := func(what string, err error) (Claim, error) {
		if err == nil {
			err = errBadClaim
		}
		return Claim{}, fmt.Errorf("claim %s/%s of event %s: %s: %w", r.issue, r.party, c.Event, what, err)
	}
	if len(h.value) > 0 {
		if err := c.Value.UnmarshalJSON(h.value); err != nil {
			return bad("value", err)
		}
	}
	t, err := h.readTail()
	if err != nil {
		return bad("fields", nil)
	}
	if c.OccurredAt, err = events.ReadTime(string(t.occurred)); err != nil {
		return bad("occurred_at", err)
	}
	c.Type, c.Title, c.Quote, c.CorrectedBy = string(t.typ), string(t.title), string(t.quote), string(t.by)
	c.RecordedAt = t.recorded
	if len(t.by) > 0 {
		corrected := t.corrected
		c.CorrectedAt = &corrected
	}
	if t.sources >= 0 {
		c.Sources = make([]events.Source, t.sources)
		for i := range c.Sources {
			outlet, url, pub, err := t.source()
			if err != nil {
				return bad("sources", nil)
			}
			s := events.Source{Outlet: string(outlet), URL: string(url)}
			if len(pub) > 0 {
				p, err := events.ReadTime(string(pub))
				if err != nil {
					return bad("sources", err)
				}
				s.PublishedAt = &p
			}
			c.Sources[i] = s
		}
	}
	return c, nil
}

// outletSet is the distinct outlets of the claims a look-up walked, as
// bytes of those claims: a few at most (the walk is bounded), so a list
// compared in full costs less than a map made per cell, and allocates
// nothing while it fits its first few.
type outletSet [][]byte

// add adds a head's outlets to the set. The bytes are the transaction's.
func (s *outletSet) add(h *claimHead) {
	rest := h.outlets
	for len(rest) > 0 {
		o := rest
		if i := bytes.IndexByte(rest, 0x1f); i >= 0 {
			o, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if !slices.ContainsFunc(*s, func(x []byte) bool { return bytes.Equal(x, o) }) {
			*s = append(*s, o)
		}
	}
}

// claimRef is a claim found on an index: its key suffix (occurred, seq,
// version, position) and its head.
type claimRef struct {
	issue, party string
	suffix       []byte
	head         claimHead
}

func (r *claimRef) seq() uint64 { return u64(r.suffix[8:]) }
func (r *claimRef) ver() int    { return int(binary.BigEndian.Uint16(r.suffix[16:])) }
func (r *claimRef) pos() int    { return int(binary.BigEndian.Uint16(r.suffix[18:])) }
