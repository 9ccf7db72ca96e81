package projections

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/parley-news/parley/internal/events"
)

// A claim's value in the claims bucket is its validity followed by a
// compact head: what state queries compare and count (stance, value, the
// event, the outlets) without decoding JSON. The rest of the claim (quote,
// sources, title) is read from the event's record, once per answer.
//
//	validity(16) precision(1) stance value event outlets
//
// each string a uvarint length and its bytes; outlets joined by 0x1f.
type claimHead struct {
	prec    events.Precision
	stance  []byte
	value   []byte // the value's canonical JSON, empty when none
	event   []byte
	outlets []byte
}

func (h *claimHead) sameAs(o *claimHead) bool {
	return bytes.Equal(h.stance, o.stance) && bytes.Equal(h.value, o.value)
}

func encodeClaim(v validity, prec events.Precision, p events.Position, event string, sources []events.Source) []byte {
	var val []byte
	if !p.Value.IsZero() {
		val, _ = p.Value.MarshalJSON()
	}
	var outlets []byte
	for i, s := range sources {
		if i > 0 {
			outlets = append(outlets, 0x1f)
		}
		outlets = append(outlets, s.Outlet...)
	}
	b := make([]byte, validityLen, validityLen+1+len(p.Stance)+len(val)+len(event)+len(outlets)+8)
	v.encode(b)
	b = append(b, byte(prec))
	for _, s := range [][]byte{[]byte(p.Stance), val, []byte(event), outlets} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

var errBadClaim = errors.New("malformed claim entry")

// decodeClaimHead reads a head without copying: its slices point into b,
// valid for the transaction.
func decodeClaimHead(b []byte) (claimHead, error) {
	var h claimHead
	if len(b) < validityLen+1 {
		return h, errBadClaim
	}
	h.prec = events.Precision(b[validityLen])
	rest := b[validityLen+1:]
	for _, dst := range []*[]byte{&h.stance, &h.value, &h.event, &h.outlets} {
		n, k := binary.Uvarint(rest)
		if k <= 0 || uint64(len(rest)-k) < n {
			return h, errBadClaim
		}
		*dst, rest = rest[k:k+int(n)], rest[k+int(n):]
	}
	return h, nil
}

// addOutlets adds a head's outlets to a set.
func (h *claimHead) addOutlets(m map[string]bool) {
	if len(h.outlets) == 0 {
		return
	}
	for _, o := range bytes.Split(h.outlets, []byte{0x1f}) {
		m[string(o)] = true
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

// records caches decoded event records for the life of one answer: many
// cells of a state come from the same few events.
type records struct {
	tx Tx
	m  map[uint64]*eventRecord
}

func newRecords(tx Tx) *records { return &records{tx: tx, m: map[uint64]*eventRecord{}} }

func (rs *records) bySeq(seq uint64) (*eventRecord, error) {
	if r, ok := rs.m[seq]; ok {
		return r, nil
	}
	id := rs.tx.Bucket(BucketSeqs).Get(u64Key(seq))
	if id == nil {
		return nil, fmt.Errorf("no event at sequence %d", seq)
	}
	r, err := cachedRecord(rs.tx, string(id))
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("event %s at sequence %d: no record", id, seq)
	}
	rs.m[seq] = r
	return r, nil
}

// claim resolves a reference into the whole claim, from its event's
// record.
func (rs *records) claim(ref *claimRef) (Claim, error) {
	r, err := rs.bySeq(ref.seq())
	if err != nil {
		return Claim{}, err
	}
	vi, pi := ref.ver(), ref.pos()
	if vi >= len(r.Versions) || pi >= len(r.Versions[vi].Event.Positions) {
		return Claim{}, fmt.Errorf("claim %x of event %s: no such version or position", ref.suffix, r.ID)
	}
	ver := &r.Versions[vi]
	e := &ver.Event
	p := e.Positions[pi]
	return Claim{Issue: p.Issue, Party: p.Party, Stance: p.Stance, Value: p.Value, Quote: p.Quote,
		Event: r.ID, Type: e.Type, Title: e.Title, OccurredAt: e.OccurredAt, Seq: r.Seq,
		RecordedAt: ver.RecordedAt, Sources: slices.Clone(e.Sources), CorrectedBy: ver.By}, nil
}
