package projections

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/parley-news/parley/internal/events"
)

// endOfTime stands for "now" on the event-time axis: every event time is
// before it.
var endOfTime = time.Unix(0, math.MaxInt64).UTC()

// ErrNotFound is returned for an event or issue the read model does not
// hold (or did not hold at the point of knowledge asked for).
var ErrNotFound = errors.New("not found")

// ErrBadCursor is returned for a paging cursor this read model did not
// issue.
var ErrBadCursor = errors.New("bad cursor")

// Knowledge is a point of recorded time: what had been recorded by then.
// The zero Knowledge is everything applied.
type Knowledge struct {
	// At is the recorded time; zero means now.
	At time.Time
}

// seq turns a point of knowledge into the last stream sequence recorded
// by then.
func (k Knowledge) seq(tx Tx) uint64 {
	if k.At.IsZero() {
		return Checkpoint(tx)
	}
	c := tx.Bucket(BucketRecorded).Cursor()
	key, _ := c.Seek(u64Key(timeKey(k.At) + 1))
	if key == nil {
		key, _ = c.Last()
	} else {
		key, _ = c.Prev()
	}
	if len(key) != 16 {
		return 0
	}
	return u64(key[8:])
}

// paged reads a page's cursor (none for a first page) into the key
// suffix, of keyLen bytes, the page starts after, and the point of
// knowledge the page is read at. A cursor carries the stream sequence
// its first page was read at, and a page asked without known_at is read
// as known then: an event recorded while a client pages through neither
// lands on a later page out of its place nor, moved by a correction
// across the cursor, shows on two pages or none. known_at, when given,
// decides. A cursor of an earlier version, without the sequence, reads
// as known now. A cursor of a walk newest first ends in a byte that
// says so, and is refused by a walk the other way, where it would
// silently skip or repeat a whole range.
func (k Knowledge) paged(tx Tx, cursor string, keyLen int, desc bool) (after []byte, seq uint64, err error) {
	seq = k.seq(tx)
	if cursor == "" {
		return nil, seq, nil
	}
	b, err := hex.DecodeString(cursor)
	switch {
	case err != nil:
	case len(b) == keyLen && !desc:
		return b, seq, nil
	case len(b) == keyLen+8 && !desc, len(b) == keyLen+9 && desc && b[keyLen+8] == descMark:
		if at := u64(b[keyLen:]); k.At.IsZero() && at < seq {
			seq = at
		}
		return b[:keyLen], seq, nil
	case len(b) == keyLen+9 && b[keyLen+8] == descMark:
		return nil, 0, fmt.Errorf("%w: %q is the cursor of a page newest first (order=desc), asked for oldest first", ErrBadCursor, cursor)
	case desc && (len(b) == keyLen || len(b) == keyLen+8):
		return nil, 0, fmt.Errorf("%w: %q is the cursor of a page oldest first, asked for newest first (order=desc)", ErrBadCursor, cursor)
	}
	return nil, 0, fmt.Errorf("%w: %q", ErrBadCursor, cursor)
}

// descMark ends the cursor of a walk newest first.
const descMark = 0x01

// encodeCursor is the cursor of the page after the key suffix last, read
// as known at seq, walking newest first when desc is set.
func encodeCursor(last []byte, seq uint64, desc bool) string {
	b := binary.BigEndian.AppendUint64(slices.Clone(last), seq)
	if desc {
		b = append(b, descMark)
	}
	return hex.EncodeToString(b)
}

// walkSpan is the part of one prefix's entries a page walks: those with an
// event time in [from, to] (zero is open), past the cursor's key suffix
// after when there is one, oldest first or, with desc, newest first.
type walkSpan struct {
	prefix   []byte
	from, to time.Time
	after    []byte
	desc     bool
}

// first puts c on the span's first entry in its direction, or on an
// entry past the prefix when there is none.
func (s *walkSpan) first(c Cursor) (k, v []byte) {
	var start []byte
	switch {
	case s.after != nil:
		start = append(slices.Clone(s.prefix), s.after...)
	case s.desc && s.to.IsZero():
		start = afterTime(s.prefix, endOfTime)
	case s.desc:
		start = afterTime(s.prefix, s.to)
	case !s.from.IsZero():
		return c.Seek(atTime(s.prefix, s.from))
	default:
		return c.Seek(s.prefix)
	}
	if s.desc {
		// Below start: the range's last entry, or the one before the
		// cursor's own, which was on the page before.
		return lastBefore(c, start)
	}
	if k, v = c.Seek(start); bytes.Equal(k, start) {
		return c.Next()
	}
	return k, v
}

// next steps c on in the span's direction.
func (s *walkSpan) next(c Cursor) (k, v []byte) {
	if s.desc {
		return c.Prev()
	}
	return c.Next()
}

// ends says whether an entry's key suffix lies past the far end of the
// span's range: the walk stops there.
func (s *walkSpan) ends(suffix []byte) bool {
	if s.desc {
		return !s.from.IsZero() && u64(suffix) < timeKey(s.from)
	}
	return !s.to.IsZero() && u64(suffix) > timeKey(s.to)
}

// found is a cell found by the claims' heads alone: enough to compare
// positions while applying, and to know which claims to read for an
// answer.
type found struct {
	top      claimRef
	same     []claimRef // claims of the same moment, top first, when disputed
	disputed bool
	outlets  outletSet
}

// position is the short form of what was found, copied out of the
// transaction's memory.
func (f *found) position() *Position {
	if f == nil {
		return nil
	}
	return f.top.head.position(f.disputed)
}

// position is the position a head states, copied out of the
// transaction's memory.
func (h *claimHead) position(disputed bool) *Position {
	p := &Position{Stance: string(h.stance), Event: string(h.event), Disputed: disputed}
	if len(h.value) > 0 {
		p.Value.UnmarshalJSON(h.value)
	}
	return p
}

// The walk back from a position's claim is bounded: a position reported a
// thousand times on one day is not read a thousand times per look-up
// (which would make applying such a day quadratic).
//   - supportLimit bounds the earlier agreeing claims counted towards the
//     source count;
//   - sameLimit bounds the claims of the top's moment an answer shows;
//   - dayLimit bounds the claims of the top's day read to find those of
//     its moment, which decide whether the position is disputed.
const (
	supportLimit = 64
	sameLimit    = 16
	dayLimit     = 1024
)

// findCell finds a party's position on an issue as of event time at, as
// believed at sequence seq, or nil when it has none. id is the pair's
// (pairID; nil for a pair without claims), claims a cursor on the claims
// bucket, which a caller looking up many pairs makes once.
func findCell(claims Cursor, id []byte, issue, party string, at time.Time, seq uint64) (*found, error) {
	return (&finder{claims: claims}).lookUp(id, issue, party, at, seq, true)
}

// finder looks up cells on a cursor of the claims, into room it keeps
// from one look-up to the next: a state answer makes a couple of hundred.
type finder struct {
	claims  Cursor
	key     []byte // the pair's prefix, then the key sought
	f       found
	earlier []claimHead // agreeing claims of the top's day, not of its moment
	next    uint64      // the key time of the first claim after the last look-up's time
}

// lookUp finds a cell as findCell does (counting sources when count is
// set). What it returns is the finder's own, valid until its next look-up.
//
// The top is the latest claim as of at. Claims of its moment (compared at
// the coarser precision of the two) that disagree with it make the
// position disputed. Since a claim given as a day sorts at the start of
// that day, before the minutes of it, every claim of the top's day is
// read to find those of its moment; the earlier claims that agree with the
// top, up to the first that does not, are its support.
func (fd *finder) lookUp(id []byte, issue, party string, at time.Time, seq uint64, count bool) (*found, error) {
	if len(id) != pairIDLen {
		fd.next = forever
		return nil, nil // a pair that never had a position
	}
	c := fd.claims
	fd.key = append(fd.key[:0], id...)
	n := len(fd.key)
	fd.key = appendAfterTime(fd.key, at)
	prefix := fd.key[:n]
	k, v := c.Seek(fd.key)
	// The first claim of the pair after at, valid or not: a caller asking
	// again at a later time need not, if none lies in between.
	fd.next = forever
	if k != nil && bytes.HasPrefix(k, prefix) && len(k) >= len(prefix)+8 {
		fd.next = u64(k[len(prefix):])
	}
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	var (
		f          *found
		topTime    time.Time
		dayStart   uint64 // the key time where the top's UTC day begins
		inDay      int    // claims of the top's day read
		supporting = true // no earlier claim has disagreed yet
		steps      int
	)
	fd.earlier = fd.earlier[:0]
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
		if !decodeValidity(v).at(seq) {
			continue
		}
		h, err := decodeClaimHead(v)
		if err != nil {
			return nil, fmt.Errorf("claim %x: %w", k, err)
		}
		ref := claimRef{issue: issue, party: party, suffix: k[len(prefix):], head: h}
		if f == nil {
			fd.f = found{top: ref, same: fd.f.same[:0], outlets: fd.f.outlets[:0]}
			f = &fd.f
			topTime = keyTime(u64(ref.suffix))
			dayStart = timeKey(topTime.Truncate(24 * time.Hour))
			if count {
				f.outlets.add(&h)
			}
			continue
		}
		if u64(ref.suffix) >= dayStart && inDay < dayLimit {
			inDay++
			agrees := h.sameAs(&f.top.head)
			if sameMoment(topTime, f.top.head.prec, keyTime(u64(ref.suffix)), h.prec) {
				if !agrees {
					f.disputed = true
				} else if count {
					f.outlets.add(&h)
				}
				if len(f.same) < sameLimit {
					f.same = append(f.same, ref)
				}
				continue
			}
			// An earlier report of the same day: support, unless one
			// before it disagreed; counted once the day is read, if the
			// position is not disputed.
			if supporting = supporting && agrees && steps < supportLimit; supporting && count {
				steps++
				fd.earlier = append(fd.earlier, h)
			}
			continue
		}
		if !count || f.disputed || !supporting {
			break
		}
		steps++
		if !h.sameAs(&f.top.head) || steps > supportLimit {
			break
		}
		f.outlets.add(&h)
	}
	if f != nil && count && !f.disputed {
		for i := range fd.earlier {
			f.outlets.add(&fd.earlier[i])
		}
	}
	return f, nil
}

// cell reads the claims found into a cell.
func (f *found) cell() (*Cell, error) {
	if f == nil {
		return nil, nil
	}
	top, err := f.top.claim()
	if err != nil {
		return nil, err
	}
	cell := &Cell{Claim: top, SourceCount: len(f.outlets), Disputed: f.disputed}
	if f.disputed {
		cell.Claims = []Claim{top}
		for i := range f.same {
			cl, err := f.same[i].claim()
			if err != nil {
				return nil, err
			}
			cell.Claims = append(cell.Claims, cl)
		}
	}
	return cell, nil
}

// sameMoment reports whether two event times are the same at the coarser
// of their precisions: a report dated 2025-11-23 and one at 14:30 that day
// speak of the same moment.
func sameMoment(ta time.Time, pa events.Precision, tb time.Time, pb events.Precision) bool {
	p := min(pa, pb)
	ta, tb = ta.UTC(), tb.UTC()
	switch p {
	case events.Day:
		ya, ma, da := ta.Date()
		yb, mb, db := tb.Date()
		return ya == yb && ma == mb && da == db
	case events.Minute:
		return ta.Truncate(time.Minute).Equal(tb.Truncate(time.Minute))
	}
	return ta.Equal(tb)
}

// nextClaimTime returns the event time of the first claim after t on the
// pair whose id is prefix (nil for a pair without claims), as believed at
// seq, at the precision it was given.
func nextClaimTime(tx Tx, prefix []byte, t time.Time, seq uint64) (*events.Time, error) {
	if prefix == nil {
		return nil, nil
	}
	c := tx.Bucket(BucketClaims).Cursor()
	for k, v := c.Seek(afterTime(prefix, t)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if decodeValidity(v).at(seq) {
			h, err := decodeClaimHead(v)
			if err != nil {
				return nil, fmt.Errorf("claim %x: %w", k, err)
			}
			return &events.Time{Time: keyTime(u64(k[len(prefix):])), Precision: h.prec}, nil
		}
	}
	return nil, nil
}

// StateQuery asks for every position as of an event time, as known at a
// recorded time.
type StateQuery struct {
	// At is the event time; zero means the latest position of each pair,
	// whatever its event time (see AsOfNow). A date stands for its end.
	At time.Time
	Knowledge
}

// AsOfNow is the At of a state as of now: zero when no event is dated
// after now, which is the same answer as now's and the same until the
// next commit, whatever the clock says; now itself when one is (a talk
// announced for next week states no position yet).
func AsOfNow(tx Tx, now time.Time) time.Time {
	// The timeline holds every version of every event, corrected ones
	// too: its last key is the latest event time ever stated.
	if k, _ := cursorOf(tx, BucketTimeline).Last(); len(k) >= 8 && keyTime(u64(k)).After(now) {
		return now
	}
	return time.Time{}
}

// State is each party's position on each issue.
type State struct {
	// Seq is the last stream sequence counted.
	Seq    uint64       `json:"seq"`
	Issues []IssueState `json:"issues"`
}

// IssueState is the positions on one issue, by party.
type IssueState struct {
	Issue     string           `json:"issue"`
	Positions map[string]*Cell `json:"positions"`
}

// QueryState answers a StateQuery: one look-up per (issue, party) pair
// that ever had a position, each a seek on the event-time index.
func QueryState(tx Tx, q StateQuery) (*State, error) {
	sr := NewStateReader(tx, q)
	st := &State{Seq: sr.seq, Issues: []IssueState{}}
	for p := range pairs(tx, nil) {
		issue, party := p.issue, p.party
		f, err := sr.fd.lookUp(p.id, issue, party, sr.at, sr.seq, true)
		if err != nil {
			return nil, err
		}
		cell, err := f.cell()
		if err != nil {
			return nil, err
		}
		if cell == nil {
			continue
		}
		if n := len(st.Issues); n == 0 || st.Issues[n-1].Issue != issue {
			st.Issues = append(st.Issues, IssueState{Issue: issue, Positions: map[string]*Cell{}})
		}
		st.Issues[len(st.Issues)-1].Positions[party] = cell
	}
	return st, nil
}

// view is the event as believed at seq, or nil when it was not yet
// recorded then.
func (r *eventRecord) view(seq uint64) *EventView {
	vi := r.versionAt(seq)
	if vi < 0 {
		return nil
	}
	ev := &EventView{Event: r.Versions[vi].Event, Seq: r.Seq, RecordedAt: r.RecordedAt, Version: vi}
	if vi > 0 {
		for _, v := range r.Versions[1 : vi+1] {
			ev.CorrectedBy = append(ev.CorrectedBy, v.By)
		}
		t := r.Versions[vi].RecordedAt
		ev.CorrectedAt = &t
		orig := r.Versions[0].Event
		ev.Original = &orig
	}
	if m := r.Retraction; m != nil && m.Seq <= seq {
		ev.Retracted, ev.RetractedBy = true, m.By
		t := m.RecordedAt
		ev.RetractedAt = &t
	}
	return ev
}

// versionAt is the index of the version believed at seq, or -1 before
// the event was recorded.
func (r *eventRecord) versionAt(seq uint64) int {
	vi := -1
	for i, v := range r.Versions {
		if v.Seq <= seq {
			vi = i
		}
	}
	return vi
}

// QueryEvent returns one event as known at k.
func QueryEvent(tx Tx, id string, k Knowledge) (*EventView, error) {
	r, err := cachedRecord(tx, id)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("event %s: %w", id, ErrNotFound)
	}
	v := r.view(k.seq(tx))
	if v == nil {
		return nil, fmt.Errorf("event %s not yet recorded then: %w", id, ErrNotFound)
	}
	return v, nil
}

// EventAtSeq returns the event recorded at a stream sequence, as known now.
func EventAtSeq(tx Tx, seq uint64) (*EventView, error) {
	id := tx.Bucket(BucketSeqs).Get(u64Key(seq))
	if id == nil {
		return nil, fmt.Errorf("sequence %d: %w", seq, ErrNotFound)
	}
	return QueryEvent(tx, string(id), Knowledge{})
}

// TimelineQuery asks for events in event-time order.
type TimelineQuery struct {
	Party, Issue, Type string
	// From and To bound event time, both included; zero is open.
	From, To time.Time
	// Desc walks newest first: a first page holds the latest events up
	// to To, and each next page those before it. False is oldest first.
	Desc bool
	Knowledge
	// Limit is the page size; 0 means DefaultLimit.
	Limit int
	// Cursor continues a previous page.
	Cursor string
}

// Paging limits.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// TimelinePage is one page of a timeline.
type TimelinePage struct {
	Events     []*EventView `json:"events"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// QueryTimeline answers a TimelineQuery from the narrowest index its
// filters allow, checking the other filters on each event.
func QueryTimeline(tx Tx, q TimelineQuery) (*TimelinePage, error) {
	evs, next, err := walkTimeline(tx, q, func(id string, s, seq uint64, rec []byte) (*EventView, bool, error) {
		r, err := decoded.get(id, rec)
		if err != nil {
			return nil, false, err
		}
		ev := r.view(seq)
		if ev == nil || !matches(&r.Versions[ev.Version], ev.Type, q) {
			return nil, false, nil
		}
		return ev, true, nil
	})
	if err != nil {
		return nil, err
	}
	return &TimelinePage{Events: append([]*EventView{}, evs...), NextCursor: next}, nil
}

// walkTimeline walks the index q's filters choose, from where q starts,
// and calls view for each entry believed at the point of knowledge with
// its event's id, stream sequence and stored record; view says whether
// the entry is shown, and as what. It returns a page of them and the
// cursor of the next page.
func walkTimeline[T any](tx Tx, q TimelineQuery, view func(id string, s, seq uint64, rec []byte) (T, bool, error)) ([]T, string, error) {
	limit := clampLimit(q.Limit)
	after, seq, err := q.Knowledge.paged(tx, q.Cursor, entryKeyLen, q.Desc)
	if err != nil {
		return nil, "", err
	}
	bucket, prefix := BucketTimeline, []byte(nil)
	switch {
	case q.Issue != "":
		bucket, prefix = BucketByIssue, namePrefix(q.Issue)
	case q.Party != "":
		bucket, prefix = BucketByParty, namePrefix(q.Party)
	case q.Type != "":
		bucket, prefix = BucketByType, namePrefix(q.Type)
	}
	seqs, evs := tx.Bucket(BucketSeqs).Cursor(), tx.Bucket(BucketEvents).Cursor()
	var (
		page []T
		next string
		last []byte
		sk   [8]byte
	)
	s := walkSpan{prefix: prefix, from: q.From, to: q.To, after: after, desc: q.Desc}
	err = scan(tx, bucket, s, entryKeyLen, func(k, v []byte) (bool, error) {
		if !decodeValidity(v).at(seq) {
			return true, nil
		}
		s := u64(k[len(k)-10:])
		putU64(sk[:], s)
		id := get(seqs, sk[:])
		rec := get(evs, id)
		if rec == nil {
			return false, fmt.Errorf("timeline entry %x: no event at seq %d", k, s)
		}
		x, ok, err := view(string(id), s, seq, rec)
		if err != nil {
			return false, fmt.Errorf("timeline entry %x: %w", k, err)
		}
		if !ok {
			return true, nil
		}
		if len(page) == limit {
			next = encodeCursor(last, seq, q.Desc)
			return false, nil
		}
		page = append(page, x)
		last = append(last[:0], k[len(prefix):]...)
		return true, nil
	})
	return page, next, err
}

// lastBefore puts c on the entry with the largest key below key, and
// returns it (nil when there is none).
func lastBefore(c Cursor, key []byte) ([]byte, []byte) {
	if k, _ := c.Seek(key); k == nil {
		return c.Last()
	}
	return c.Prev()
}

// get is Bucket.Get by a cursor made once for many look-ups (bbolt makes
// a cursor for every Get).
func get(c Cursor, key []byte) []byte {
	if len(key) == 0 {
		return nil
	}
	k, v := c.Seek(key)
	if !bytes.Equal(k, key) {
		return nil
	}
	return v
}

// matches checks the filters the chosen index did not apply.
// typ is the version's event type.
func matches(ver *version, typ string, q TimelineQuery) bool {
	if q.Type != "" && typ != q.Type {
		return false
	}
	if q.Party != "" && !slices.Contains(ver.Parties, q.Party) {
		return false
	}
	if q.Issue != "" && !slices.Contains(ver.Issues, q.Issue) {
		return false
	}
	return true
}

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// scan walks the entries of the span's prefix in its range and direction
// until fn says stop: a seek, then a step per entry, so that a page costs
// what it holds, whichever end it starts from.
func scan(tx Tx, bucket string, s walkSpan, suffixLen int, fn func(k, v []byte) (bool, error)) error {
	c := cursorOf(tx, bucket)
	for k, v := s.first(c); k != nil && bytes.HasPrefix(k, s.prefix); k, v = s.next(c) {
		if len(k) != len(s.prefix)+suffixLen {
			continue // a longer name sharing the prefix's bytes cannot, as sep ends names; defensive
		}
		if s.ends(k[len(s.prefix):]) {
			return nil
		}
		more, err := fn(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// HistoryQuery asks for the positions stated on one issue over event time.
type HistoryQuery struct {
	Issue string
	// Party narrows the history to one party.
	Party    string
	From, To time.Time
	// Desc walks newest first, as TimelineQuery.Desc does.
	Desc bool
	Knowledge
	Limit  int
	Cursor string
}

// HistoryEntry is one stated position, with the party's position before it.
type HistoryEntry struct {
	Claim
	// Before is the party's previous position on the issue, nil for its
	// first; Changed says whether this one differs from it.
	Before  *Position `json:"before"`
	Changed bool      `json:"changed"`
	// Disputed says a claim of the same moment, as known, disagrees with
	// this one: as in the state, two sources at odds, not a change of
	// mind (Changed still says it differs from the claim before it).
	Disputed bool `json:"disputed,omitempty"`
}

// History is one page of an issue's history.
type History struct {
	Issue      string          `json:"issue"`
	Entries    []*HistoryEntry `json:"entries"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// QueryHistory answers a HistoryQuery in event-time order (newest first
// with Desc).
func QueryHistory(tx Tx, q HistoryQuery) (*History, error) {
	h := &History{Issue: q.Issue, Entries: []*HistoryEntry{}}
	next, err := walkHistory(tx, q, func(ref *claimRef, before *claimHead, disputed bool) error {
		cl, err := ref.claim()
		if err != nil {
			return err
		}
		e := &HistoryEntry{Claim: cl, Changed: ref.changedFrom(before), Disputed: disputed}
		if before != nil {
			e.Before = before.position(false)
		}
		h.Entries = append(h.Entries, e)
		return nil
	})
	h.NextCursor = next
	return h, err
}

// walkHistory walks a page of q's history in event-time order (newest
// first with q.Desc) and calls entry for each claim believed at the point
// of knowledge, with the head of the party's claim before it (nil for the
// party's first). It returns the cursor of the next page.
func walkHistory(tx Tx, q HistoryQuery, entry func(ref *claimRef, before *claimHead, disputed bool) error) (string, error) {
	limit := clampLimit(q.Limit)
	after, seq, err := q.Knowledge.paged(tx, q.Cursor, claimKeyLen, q.Desc)
	if err != nil {
		return "", err
	}
	var parties []pair
	if q.Party == "" {
		parties = slices.Collect(pairs(tx, namePrefix(q.Issue)))
	} else if id := pairID(tx, namePrefix(q.Issue, q.Party)); id != nil {
		parties = []pair{{issue: q.Issue, party: q.Party, id: id}}
	}
	prev := make(map[string]*claimHead, len(parties)) // nil: no claim before
	disputes := tx.Bucket(BucketClaims).Cursor()      // for disputedAt, beside mergeScan's own
	var (
		n    int
		last []byte
		next string
	)
	s := walkSpan{from: q.From, to: q.To, after: after, desc: q.Desc}
	err = mergeScan(tx, parties, s, func(p *pair, suffix, v []byte) (bool, error) {
		party := p.party
		if !decodeValidity(v).at(seq) {
			return true, nil
		}
		if n == limit {
			next = encodeCursor(last, seq, q.Desc)
			return false, nil
		}
		head, err := decodeClaimHead(v)
		if err != nil {
			return false, fmt.Errorf("claim %s/%s %x: %w", q.Issue, party, suffix, err)
		}
		// Walking oldest first, the party's claim before this one is the
		// last it walked; newest first, it is yet to come, and is sought.
		before, seen := prev[party]
		if !seen || q.Desc {
			if before, err = headBefore(tx, p.id, suffix, seq); err != nil {
				return false, err
			}
		}
		ref := &claimRef{issue: q.Issue, party: party, suffix: suffix, head: head}
		disputed, err := disputedAt(disputes, p.id, suffix, &head, seq)
		if err != nil {
			return false, err
		}
		if err := entry(ref, before, disputed); err != nil {
			return false, err
		}
		prev[party] = &ref.head
		last = append(last[:0], suffix...)
		n++
		return true, nil
	})
	return next, err
}

// disputedAt says whether a claim of the pair other than the one at
// suffix, valid at seq, is of the same moment (at the coarser precision
// of the two) and states another position. Claims given as a day sort at
// its start, so the whole UTC day is read, up to dayLimit claims.
func disputedAt(c Cursor, prefix, suffix []byte, h *claimHead, seq uint64) (bool, error) {
	t := keyTime(u64(suffix))
	day := t.Truncate(24 * time.Hour)
	k, v := c.Seek(binary.BigEndian.AppendUint64(slices.Clip(prefix), timeKey(day)))
	for n := 0; k != nil && bytes.HasPrefix(k, prefix) && n < dayLimit; k, v = c.Next() {
		at := keyTime(u64(k[len(prefix):]))
		if !at.Before(day.Add(24 * time.Hour)) {
			break
		}
		n++
		if bytes.Equal(k[len(prefix):], suffix) || !decodeValidity(v).at(seq) {
			continue
		}
		o, err := decodeClaimHead(v)
		if err != nil {
			return false, fmt.Errorf("claim %x: %w", k, err)
		}
		if sameMoment(t, h.prec, at, o.prec) && !o.sameAs(h) {
			return true, nil
		}
	}
	return false, nil
}

// changedFrom says whether the claim states another position than the
// claim before it (none counts as another).
func (r *claimRef) changedFrom(before *claimHead) bool {
	return before == nil || !before.sameAs(&r.head)
}

// pairs yields the (issue, party) pairs that ever had a position, in key
// order, those whose key starts with prefix, each with the id that
// prefixes its claims' keys (the transaction's bytes).
func pairs(tx Tx, prefix []byte) iter.Seq[pair] {
	return func(yield func(pair) bool) {
		c := tx.Bucket(BucketPairs).Cursor()
		var issue string // made once for all its parties
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			is, rest, ok := bytes.Cut(k, []byte{sep})
			party, end, ok2 := bytes.Cut(rest, []byte{sep})
			if !ok || !ok2 || len(end) > 0 || len(v) != pairIDLen {
				continue
			}
			if string(is) != issue {
				issue = string(is)
			}
			if !yield(pair{issue: issue, party: string(party), id: v}) {
				return
			}
		}
	}
}

// pair is an (issue, party) pair and the id of its claims.
type pair struct {
	issue, party string
	id           []byte
}

// pairID returns the id that prefixes the claims of the (issue, party)
// pair whose name prefix is pk, or nil when the pair never had a
// position. The id is the transaction's bytes.
func pairID(tx Tx, pk []byte) []byte {
	if v := tx.Bucket(BucketPairs).Get(pk); len(v) == pairIDLen {
		return v
	}
	return nil
}

// mergeScan walks the claims of an issue by several parties as one
// sequence in key-suffix order (event time, seq, version, position), or
// its reverse with s.desc, as scan walks one prefix: one cursor per party,
// the next in order picked. The parties of an issue are few (the
// vocabulary's), so picking by a linear look is cheaper than a heap. An
// issue's history needs no index of its own. s.prefix is not used: each
// party has its own, its pair's id.
func mergeScan(tx Tx, parties []pair, s walkSpan, fn func(p *pair, suffix, v []byte) (bool, error)) error {
	type head struct {
		p    *pair
		span walkSpan
		c    Cursor
		k, v []byte
	}
	heads := make([]*head, 0, len(parties))
	for i := range parties {
		p := &parties[i]
		h := &head{p: p, span: s, c: tx.Bucket(BucketClaims).Cursor()}
		h.span.prefix = p.id
		h.k, h.v = h.span.first(h.c)
		heads = append(heads, h)
	}
	// valid says whether a head stands on one of its pair's claims within
	// the range.
	valid := func(h *head) bool {
		prefix := h.span.prefix
		for h.k != nil && bytes.HasPrefix(h.k, prefix) {
			if len(h.k) == len(prefix)+claimKeyLen {
				return !h.span.ends(h.k[len(prefix):])
			}
			h.k, h.v = h.span.next(h.c) // defensive, as in scan
		}
		return false
	}
	// before says whether a head's claim comes before b's in the walk.
	before := func(a, b *head) bool {
		c := bytes.Compare(a.k[len(a.span.prefix):], b.k[len(b.span.prefix):])
		if s.desc {
			return c > 0
		}
		return c < 0
	}
	for {
		var min *head
		for _, h := range heads {
			if valid(h) && (min == nil || before(h, min)) {
				min = h
			}
		}
		if min == nil {
			return nil
		}
		more, err := fn(min.p, min.k[len(min.span.prefix):], min.v)
		if err != nil || !more {
			return err
		}
		min.k, min.v = min.span.next(min.c)
	}
}

// headBefore returns the head of the claim on the pair just before the key
// suffix, as believed at seq, or nil; its bytes are the transaction's.
func headBefore(tx Tx, prefix, suffix []byte, seq uint64) (*claimHead, error) {
	c := tx.Bucket(BucketClaims).Cursor()
	for k, v := lastBefore(c, append(slices.Clone(prefix), suffix...)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
		if !decodeValidity(v).at(seq) {
			continue
		}
		h, err := decodeClaimHead(v)
		if err != nil {
			return nil, fmt.Errorf("claim %x: %w", k, err)
		}
		return &h, nil
	}
	return nil, nil
}

// DiffQuery asks what positions changed between two event times: from
// the positions just before From to those as of To, with the events of
// From to To that stated them. A date asked for stands for its day: From
// its start, To its end.
type DiffQuery struct {
	From, To time.Time
	Knowledge
}

// DiffEntry is one position that changed between two event times.
type DiffEntry struct {
	Issue  string   `json:"issue"`
	Party  string   `json:"party"`
	Before *Cell    `json:"before"`
	After  *Cell    `json:"after"`
	Events []string `json:"events"`
}

// Diff is the set of positions that changed.
type Diff struct {
	Seq     uint64       `json:"seq"`
	Changes []*DiffEntry `json:"changes"`
}

// DiffAnswer is a diff as GET /v1/diff and projector diff -json give it:
// the two times as they were asked, and the diff.
type DiffAnswer struct {
	From string `json:"from"`
	To   string `json:"to"`
	*Diff
}

// IssueOrder compares issue ids in the order a state answer gives them,
// the order people read them in: the vocabulary's, then those it lacks,
// by id.
func IssueOrder(v *events.Vocabulary) func(a, b string) int {
	rank := make(map[string]int, len(v.Issues))
	for i, t := range v.Issues {
		rank[t.ID] = i + 1
	}
	last := len(v.Issues) + 1
	return func(a, b string) int {
		return cmp.Or(cmp.Compare(cmp.Or(rank[a], last), cmp.Or(rank[b], last)), strings.Compare(a, b))
	}
}

// Order puts the changes in the order of a state answer (IssueOrder);
// each issue's parties by id, as QueryDiff gives them.
func (d *Diff) Order(v *events.Vocabulary) {
	order := IssueOrder(v)
	slices.SortStableFunc(d.Changes, func(a, b *DiffEntry) int { return order(a.Issue, b.Issue) })
}

// QueryDiff compares the state at two event times, pair by pair, and names
// the events between them that stated the pair's positions.
func QueryDiff(tx Tx, q DiffQuery) (*Diff, error) {
	seq := q.Knowledge.seq(tx)
	d := &Diff{Seq: seq, Changes: []*DiffEntry{}}
	claims := tx.Bucket(BucketClaims).Cursor()
	for p := range pairs(tx, nil) {
		issue, party := p.issue, p.party
		fb, err := findCell(claims, p.id, issue, party, q.From.Add(-time.Nanosecond), seq)
		if err != nil {
			return nil, err
		}
		fa, err := findCell(claims, p.id, issue, party, q.To, seq)
		if err != nil {
			return nil, err
		}
		if samePosition(fb.position(), fa.position()) {
			continue
		}
		before, err := fb.cell()
		if err != nil {
			return nil, err
		}
		after, err := fa.cell()
		if err != nil {
			return nil, err
		}
		e := &DiffEntry{Issue: issue, Party: party, Before: before, After: after, Events: []string{}}
		s := walkSpan{prefix: p.id, from: q.From, to: q.To}
		err = scan(tx, BucketClaims, s, claimKeyLen, func(_, v []byte) (bool, error) {
			if decodeValidity(v).at(seq) {
				h, err := decodeClaimHead(v)
				if err != nil {
					return false, err
				}
				if ev := string(h.event); !slices.Contains(e.Events, ev) {
					e.Events = append(e.Events, ev)
				}
			}
			return true, nil
		})
		if err != nil {
			return nil, err
		}
		d.Changes = append(d.Changes, e)
	}
	return d, nil
}

// Developments calls fn for each development after seq, in stream order,
// until fn says stop.
func Developments(tx Tx, after uint64, fn func(*Development) bool) error {
	c := tx.Bucket(BucketDevelopments).Cursor()
	k, v := c.Seek(u64Key(after + 1))
	return walk(k, v, c.Next, "development", fn)
}

// DevelopmentsThrough calls fn for each development at or before seq,
// newest first, until fn says stop.
func DevelopmentsThrough(tx Tx, seq uint64, fn func(*Development) bool) error {
	c := tx.Bucket(BucketDevelopments).Cursor()
	k, v := c.Seek(u64Key(seq))
	if k == nil {
		k, v = c.Last()
	} else if binary.BigEndian.Uint64(k) > seq {
		k, v = c.Prev()
	}
	return walk(k, v, c.Prev, "development", fn)
}

// LatestDevelopments calls fn for each development, newest first, until
// fn says stop.
func LatestDevelopments(tx Tx, fn func(*Development) bool) error {
	c := tx.Bucket(BucketDevelopments).Cursor()
	k, v := c.Last()
	return walk(k, v, c.Prev, "development", fn)
}

// walk decodes the JSON values of a sequence-keyed bucket from k on,
// stepping with step, until fn says stop.
func walk[T any](k, v []byte, step func() ([]byte, []byte), what string, fn func(*T) bool) error {
	for ; k != nil; k, v = step() {
		var x T
		if err := json.Unmarshal(v, &x); err != nil {
			return fmt.Errorf("decode %s %d: %w", what, u64(k), err)
		}
		if !fn(&x) {
			return nil
		}
	}
	return nil
}

// Unnamed lists the issues and parties with positions in the record that
// v has no term for, each once, in key order: what a vocabulary lost
// after events used it, which readers can no longer ask for by name.
func Unnamed(tx Tx, v *events.Vocabulary) (issues, parties []string) {
	for p := range pairs(tx, nil) {
		issue, party := p.issue, p.party
		// The pairs come by issue: an issue's repeats are together.
		if v.Issue(issue) == nil && (len(issues) == 0 || issues[len(issues)-1] != issue) {
			issues = append(issues, issue)
		}
		if v.Party(party) == nil && !slices.Contains(parties, party) {
			parties = append(parties, party)
		}
	}
	slices.Sort(parties)
	return issues, parties
}
