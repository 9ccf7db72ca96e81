package projections

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/parley-news/parley/internal/events"
)

var (
	keyCheckpoint = []byte("checkpoint")
	keyVersion    = []byte("version")
	keyMaxOcc     = []byte("max_occurred")
	keyStream     = []byte("stream")
	keyPairSeq    = []byte("pair_seq") // the last pair id given
)

// StreamID returns the identity of the stream the read model was built
// from, as SetStreamID recorded it, or "" when none was: an empty model,
// or one written before it was recorded.
func StreamID(tx Tx) string { return string(tx.Bucket(BucketMeta).Get(keyStream)) }

// SetStreamID records the identity of the stream the read model is built
// from: its sequences mean nothing against another.
func SetStreamID(tx Tx, id string) error { return tx.Bucket(BucketMeta).Put(keyStream, []byte(id)) }

// Checkpoint returns the stream sequence of the last message applied.
func Checkpoint(tx Tx) uint64 {
	if v := tx.Bucket(BucketMeta).Get(keyCheckpoint); len(v) == 8 {
		return u64(v)
	}
	return 0
}

// ModelVersion returns the projection version that wrote the read model,
// or 0 for an empty one.
func ModelVersion(tx Tx) uint64 {
	if v := tx.Bucket(BucketMeta).Get(keyVersion); len(v) == 8 {
		return u64(v)
	}
	return 0
}

// Init marks an empty read model as written by this Version.
func Init(tx Tx) error {
	meta := tx.Bucket(BucketMeta)
	if meta.Get(keyVersion) != nil {
		return nil
	}
	return meta.Put(keyVersion, u64Key(Version))
}

// Outcome is what applying one message did.
type Outcome struct {
	// Development is nil when the message was skipped or applied before.
	Development *Development
	// Skipped is set when the message was not applied, with the reason.
	Skipped *Skipped
}

// Apply applies one stream message to the read model in tx, and saves the
// checkpoint in the same transaction: a message at or below the checkpoint
// has been applied and is ignored, so a redelivery or a restart never
// applies it twice. Messages must come in stream order.
func Apply(tx Tx, m Message) (Outcome, error) {
	outs, err := ApplyBatch(tx, []Message{m})
	if err != nil {
		return Outcome{}, err
	}
	return outs[0], nil
}

// ApplyBatch applies messages in stream order, as Apply does one, and
// saves the checkpoint once at the end: the apply loop's unit of work, one
// transaction per batch.
func ApplyBatch(tx Tx, msgs []Message) ([]Outcome, error) {
	outs := make([]Outcome, len(msgs))
	cp := Checkpoint(tx)
	a := applier{tx: tx, maxOcc: maxOccurred(tx), now: map[string]nowEntry{}, pairs: map[string][]byte{},
		fd: finder{claims: tx.Bucket(BucketClaims).Cursor()}, posts: map[string]*postingWriter{}}
	last := cp
	for i, m := range msgs {
		if m.Seq <= last {
			continue // applied before: a redelivery
		}
		a.m = m
		out, err := a.apply()
		if err != nil {
			return nil, fmt.Errorf("apply seq %d: %w", m.Seq, err)
		}
		outs[i], last = out, m.Seq
	}
	if last == cp {
		return outs, nil
	}
	for name, w := range a.posts {
		if err := w.flush(); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	meta := tx.Bucket(BucketMeta)
	if err := meta.Put(keyCheckpoint, u64Key(last)); err != nil {
		return nil, fmt.Errorf("checkpoint %d: %w", last, err)
	}
	if err := meta.Put(keyMaxOcc, u64Key(a.maxOcc)); err != nil {
		return nil, fmt.Errorf("checkpoint %d: %w", last, err)
	}
	return outs, nil
}

func maxOccurred(tx Tx) uint64 {
	if v := tx.Bucket(BucketMeta).Get(keyMaxOcc); len(v) == 8 {
		return u64(v)
	}
	return 0
}

// nowEntry is a pair's position as of the key time at, which holds until
// next, the key time of the pair's first claim after at (forever for
// none): a claim dated ahead (talks set for next week) is not yet the
// present of a message recorded before its time.
type nowEntry struct {
	pos      *Position
	at, next uint64
}

type applier struct {
	tx     Tx
	m      Message
	maxOcc uint64   // the latest event time applied, carried through a batch
	dec    *Decoded // the message's event, and its JSON as stored

	// now holds, for the pairs looked up in this batch, the position as of
	// the present of a message and the last message applied; writing a
	// claim of a pair drops its entry. Most events of a batch touch pairs
	// an earlier one looked up, and need not search the claims again to
	// tell what moved.
	now map[string]nowEntry // by namePrefix(issue, party)
	// pairs are the ids of the (issue, party) prefixes looked up in
	// BucketPairs, nil for one not there.
	pairs map[string][]byte
	// fd looks up positions, on one cursor of the claims for the batch:
	// each look-up seeks afresh, so writes between them do not matter.
	fd finder
	// posts writes the event-time indexes' postings, once a batch.
	posts map[string]*postingWriter
}

// bucket is the bucket the apply loop writes an entry to: the batch's
// posting writer for an event-time index.
func (a *applier) bucket(name string) Bucket {
	if packed[name] {
		return a.postings(name)
	}
	return a.tx.Bucket(name)
}

// postings is the batch's writer of the packed bucket name.
func (a *applier) postings(name string) *postingWriter {
	w := a.posts[name]
	if w == nil {
		w = newPostingWriter(a.tx.Bucket(name))
		a.posts[name] = w
	}
	return w
}

func (a *applier) apply() (Outcome, error) {
	rk := make([]byte, 16)
	putU64(rk, timeKey(a.m.Time))
	putU64(rk[8:], a.m.Seq)
	if err := a.tx.Bucket(BucketRecorded).Put(rk, []byte{1}); err != nil {
		return Outcome{}, err
	}
	d := a.m.Decoded
	if d == nil {
		d = decode(a.m.Data)
	}
	if d.err != nil {
		return a.skip(d.err.Error())
	}
	e := d.event
	a.dec = d
	if prev, err := getRecord(a.tx, e.ID); err != nil {
		return Outcome{}, err
	} else if prev != nil {
		return a.skip(fmt.Sprintf("event id %s already applied at sequence %d", e.ID, prev.Seq))
	}
	if err := a.tx.Bucket(BucketSeqs).Put(u64Key(a.m.Seq), []byte(e.ID)); err != nil {
		return Outcome{}, err
	}
	switch e.Type {
	case events.TypeCorrection, events.TypeRetraction:
		return a.amend(e)
	}
	return a.add(e)
}

func (a *applier) skip(reason string) (Outcome, error) {
	s := &Skipped{Seq: a.m.Seq, Subject: a.m.Subject, Time: a.m.Time, Reason: reason}
	if err := putJSON(a.tx.Bucket(BucketSkipped), u64Key(a.m.Seq), s); err != nil {
		return Outcome{}, err
	}
	return Outcome{Skipped: s}, nil
}

// add applies a new event: its timeline entries, its claims, and the
// development with the positions it moved.
func (a *applier) add(e events.Event) (Outcome, error) {
	pre := a.m.Decoded.preparedFor(a.m)
	if pre == nil {
		var err error
		if pre, err = prepareAdd(e, a.dec.raw, a.dec.canonical, a.m.Seq, a.m.Time); err != nil {
			return Outcome{}, err
		}
	}
	pairs := pairsOf(e.Positions)
	late := a.late(e.OccurredAt)
	// An event dated after it was recorded (talks set for next week)
	// changes the state as of its time, not the present: watched at its
	// time, its changes are told as scheduled.
	w := a.watch(pairs, late || a.ahead(e.OccurredAt), e.OccurredAt)
	if err := a.each(pre.entries, func(b Bucket, k, val []byte) error { return b.Put(k, val) }); err != nil {
		return Outcome{}, err
	}
	if err := a.tx.Bucket(BucketEvents).Put([]byte(e.ID), pre.record); err != nil {
		return Outcome{}, err
	}
	d := a.development(e, pre.issues, pre.parties)
	d.Kinds = append(d.Kinds, KindNewEvent)
	if err := w.finish(a, d); err != nil {
		return Outcome{}, err
	}
	return a.save(d)
}

// amend applies a correction or a retraction: the event itself goes on the
// timeline, and the event it names gets a new version (correction) or
// loses its positions (retraction), from this sequence on.
func (a *applier) amend(e events.Event) (Outcome, error) {
	target, err := getRecord(a.tx, e.Corrects)
	if err != nil {
		return Outcome{}, err
	}
	var cur *version
	if target != nil {
		cur = &target.Versions[len(target.Versions)-1]
	}
	issues, parties := e.Issues(), e.Parties()
	if cur != nil {
		issues = union(issues, cur.Issues)
		parties = union(parties, cur.Parties)
	}
	if e.Amend != nil && cur != nil {
		// What the amended event is about: a correction that moves an
		// event to another party (its actors) concerns that party's
		// readers too, as one that moves its positions does.
		next := cur.Event.Amended(e.Amend)
		issues = union(issues, next.Issues())
		parties = union(parties, next.Parties())
	} else if e.Amend != nil && e.Amend.Positions != nil {
		issues = union(issues, events.Event{Positions: *e.Amend.Positions}.Issues())
		parties = union(parties, events.Event{Positions: *e.Amend.Positions}.Parties())
	}
	rec := newRecord(e, a.dec.raw, a.dec.canonical, a.m.Seq, a.m.Time, issues, parties)
	// A correction's own positions are not claims: what it says of
	// positions is in amend, and lands on the event it corrects.
	if err := a.open(rec, 0, false); err != nil {
		return Outcome{}, err
	}
	if err := putRecord(a.tx, rec); err != nil {
		return Outcome{}, err
	}
	d := a.development(e, issues, parties)
	d.Corrects = e.Corrects
	kind := KindCorrection
	if e.Type == events.TypeRetraction {
		kind = KindRetraction
	}
	d.Kinds = append(d.Kinds, KindNewEvent, kind)
	switch {
	case target == nil:
		d.Note = fmt.Sprintf("%s names event %s, which is not in the record: nothing amended", e.Type, e.Corrects)
		return a.save(d)
	case cur.Event.Type == events.TypeCorrection || cur.Event.Type == events.TypeRetraction:
		d.Note = fmt.Sprintf("%s names %s, itself a %s: corrections are amended by correcting the original event", e.Type, e.Corrects, cur.Event.Type)
		return a.save(d)
	case target.Retraction != nil && e.Type == events.TypeRetraction:
		d.Note = fmt.Sprintf("event %s was already retracted by %s", e.Corrects, target.Retraction.By)
		return a.save(d)
	}

	old := cur.Event
	next := old
	if e.Type == events.TypeCorrection {
		next = old.Amended(e.Amend)
	}
	pairs := union2(pairsOf(old.Positions), pairsOf(next.Positions))
	// The state changes as of the event's time, and as of its new time
	// when the correction moves it.
	ats := []events.Time{old.OccurredAt}
	switch {
	case next.OccurredAt.Before(old.OccurredAt.Time):
		ats = []events.Time{next.OccurredAt, old.OccurredAt}
	case next.OccurredAt.After(old.OccurredAt.Time):
		ats = append(ats, next.OccurredAt)
	}
	w := a.watch(pairs, true, ats...)
	if e.Type == events.TypeRetraction {
		target.Retraction = &mark{By: e.ID, Seq: a.m.Seq, RecordedAt: a.m.Time}
		if err := a.closeClaims(target, len(target.Versions)-1); err != nil {
			return Outcome{}, err
		}
	} else {
		if err := a.close(target, len(target.Versions)-1); err != nil {
			return Outcome{}, err
		}
		// Encoded by encoding/json, the corrected event is canonical.
		target.Versions = append(target.Versions, version{Seq: a.m.Seq, RecordedAt: a.m.Time, By: e.ID, Event: next,
			Issues: union(next.Issues(), cur.Issues), Parties: union(next.Parties(), cur.Parties), Canonical: true})
		if err := a.open(target, len(target.Versions)-1, target.Retraction == nil); err != nil {
			return Outcome{}, err
		}
	}
	if err := putRecord(a.tx, target); err != nil {
		return Outcome{}, err
	}
	// A correction changes the past by definition when it moves a position
	// or the date of one.
	if err := w.finish(a, d); err != nil {
		return Outcome{}, err
	}
	return a.save(d)
}

func (a *applier) development(e events.Event, issues, parties []string) *Development {
	return &Development{Seq: a.m.Seq, RecordedAt: a.m.Time, Event: e.ID, Type: e.Type, Issues: issues, Parties: parties}
}

func (a *applier) save(d *Development) (Outcome, error) {
	b := a.tx.Bucket(BucketDevelopments)
	if !jsonTime(d.RecordedAt) {
		// Not a time the stream gives; encoding/json says what is wrong.
		if err := putJSON(b, u64Key(a.m.Seq), d); err != nil {
			return Outcome{}, err
		}
	} else if err := b.Put(u64Key(a.m.Seq), d.appendJSON(make([]byte, 0, 512))); err != nil {
		return Outcome{}, err
	}
	return Outcome{Development: d}, nil
}

// late reports whether an event time lies before the latest one applied,
// and moves that mark forward. While that latest time is still ahead of
// the message's recorded time (an event dated for next week), an event of
// today is late only if it lies before the latest event time reached by
// then: it changes the present, it revises no past.
func (a *applier) late(t events.Time) bool {
	tk := timeKey(t.Time)
	if tk >= a.maxOcc {
		a.maxOcc = tk
		return false
	}
	present := timeKey(a.m.Time)
	if a.maxOcc <= present {
		return true
	}
	latest, ok := a.postings(BucketTimeline).latestBefore(present)
	return ok && tk < latest
}

// ahead reports whether an event time is after the recorded time of the
// message being applied: a position it states is scheduled, not yet held.
// The recorded time, not the clock, so that a rebuild writes the same.
// A date counts from the start of its day, as in the state.
func (a *applier) ahead(t events.Time) bool { return t.Time.After(a.m.Time) }

// open writes the index entries of one version of an event, believed from
// that version's sequence on. withClaims is false for a retracted event's
// versions and for corrections, which state no positions of their own.
func (a *applier) open(rec *eventRecord, vi int, withClaims bool) error {
	vd := validity{from: rec.Versions[vi].Seq, to: forever}
	return a.entries(rec, vi, withClaims, func(b Bucket, k []byte, val []byte) error {
		vd.encode(val)
		return b.Put(k, val)
	})
}

// close ends the belief in one version's entries at this sequence.
func (a *applier) close(rec *eventRecord, vi int) error {
	return a.entries(rec, vi, rec.Retraction == nil, a.closeEntry)
}

// closeClaims ends only the claims: a retracted event stays on the
// timeline, marked, but its positions drop out of the state.
func (a *applier) closeClaims(rec *eventRecord, vi int) error {
	return a.entries(rec, vi, true, func(b Bucket, k []byte, val []byte) error {
		if len(val) == validityLen {
			return nil // a timeline entry
		}
		return a.closeEntry(b, k, val)
	})
}

func (a *applier) closeEntry(b Bucket, k []byte, _ []byte) error {
	old := b.Get(k)
	if len(old) < validityLen {
		return fmt.Errorf("close entry %x: not found", k)
	}
	v := make([]byte, len(old))
	copy(v, old)
	vd := decodeValidity(v)
	vd.to = a.m.Seq
	vd.encode(v)
	return b.Put(k, v)
}

// entries calls fn for each index entry of one version, with the value
// that opening it writes (validity left for fn to fill in).
func (a *applier) entries(rec *eventRecord, vi int, withClaims bool, fn func(b Bucket, k, val []byte) error) error {
	return a.each(versionEntries(rec, vi, withClaims), fn)
}

// each calls fn for each entry, in its bucket, and keeps the batch's
// memory of the pairs whose claims it touches.
func (a *applier) each(es []indexEntry, fn func(b Bucket, k, val []byte) error) error {
	for _, x := range es {
		k := x.key
		if x.pair != nil {
			delete(a.now, string(x.pair))
			id, err := a.knowPair(x.pair)
			if err != nil {
				return err
			}
			k = concat(id, k)
		}
		if err := fn(a.bucket(x.bucket), k, x.val); err != nil {
			return err
		}
	}
	return nil
}

// indexEntry is one entry of one version of an event on an index.
type indexEntry struct {
	bucket   string
	key, val []byte
	// pair is a claim's (issue, party) prefix; its key is then the suffix
	// that follows the pair's id, which only the transaction knows.
	pair []byte
}

// versionEntries lists the index entries of one version: the timeline and
// its by-issue, by-party and by-type indexes, then (withClaims) each
// position in the claims bucket, each with the value that opening it
// writes, its validity left zero. Timeline entries are exactly
// validityLen long; claims entries are longer.
func versionEntries(rec *eventRecord, vi int, withClaims bool) []indexEntry {
	ver := &rec.Versions[vi]
	e := &ver.Event
	occ := e.OccurredAt.Time
	v16 := uint16(vi)
	es := make([]indexEntry, 0, 2+len(ver.Issues)+len(ver.Parties)+len(e.Positions))
	add := func(bucket string, key []byte) {
		es = append(es, indexEntry{bucket: bucket, key: key, val: make([]byte, validityLen)})
	}
	add(BucketTimeline, entryKey(nil, occ, rec.Seq, v16))
	for _, is := range ver.Issues {
		add(BucketByIssue, entryKey(namePrefix(is), occ, rec.Seq, v16))
	}
	for _, p := range ver.Parties {
		add(BucketByParty, entryKey(namePrefix(p), occ, rec.Seq, v16))
	}
	add(BucketByType, entryKey(namePrefix(e.Type), occ, rec.Seq, v16))
	if !withClaims {
		return es
	}
	for i, p := range e.Positions {
		pk := namePrefix(p.Issue, p.Party)
		es = append(es, indexEntry{bucket: BucketClaims, key: claimKey(nil, occ, rec.Seq, v16, uint16(i)),
			val: encodeClaim(validity{}, rec, ver, p), pair: pk})
	}
	return es
}

// prepared is what applying an event as a new one writes, worked out
// before the apply loop needs it (see Prepare).
type prepared struct {
	seq             uint64
	at              time.Time
	issues, parties []string
	entries         []indexEntry // opened, validity filled in
	record          []byte
}

// newRecord is the record of an event first recorded at seq and at, as
// the stream stored it (raw, canonical or not), indexed under issues and
// parties.
func newRecord(e events.Event, raw []byte, canonical bool, seq uint64, at time.Time, issues, parties []string) *eventRecord {
	return &eventRecord{ID: e.ID, Seq: seq, RecordedAt: at, Versions: []version{{Seq: seq, RecordedAt: at,
		Event: e, Issues: issues, Parties: parties, raw: raw, Canonical: canonical}}}
}

// prepareAdd works out the writes of a new event recorded at seq and at.
func prepareAdd(e events.Event, raw []byte, canonical bool, seq uint64, at time.Time) (*prepared, error) {
	rec := newRecord(e, raw, canonical, seq, at, e.Issues(), e.Parties())
	es := versionEntries(rec, 0, true)
	vd := validity{from: seq, to: forever}
	for i := range es {
		vd.encode(es[i].val)
	}
	b, err := rec.encode()
	if err != nil {
		return nil, fmt.Errorf("encode event record %s: %w", e.ID, err)
	}
	return &prepared{seq: seq, at: at, issues: rec.Versions[0].Issues, parties: rec.Versions[0].Parties, entries: es, record: b}, nil
}

// pairID returns the id of an (issue, party) prefix, nil when the pair
// has no claims yet.
func (a *applier) pairID(pk []byte) []byte {
	id, ok := a.pairs[string(pk)]
	if !ok {
		// Cloned: the transaction writes on, and its bytes may move.
		id = slices.Clone(pairID(a.tx, pk))
		a.pairs[string(pk)] = id
	}
	return id
}

// knowPair returns the id of an (issue, party) prefix, and gives it the
// next one, recorded in BucketPairs, when it has none.
func (a *applier) knowPair(pk []byte) ([]byte, error) {
	if id := a.pairID(pk); id != nil {
		return id, nil
	}
	meta := a.tx.Bucket(BucketMeta)
	var last uint64
	if v := meta.Get(keyPairSeq); len(v) == 8 {
		last = u64(v)
	}
	if last >= math.MaxUint32 {
		return nil, fmt.Errorf("pair %q: no pair id left", pk)
	}
	id := binary.BigEndian.AppendUint32(nil, uint32(last+1))
	if err := a.tx.Bucket(BucketPairs).Put(slices.Clone(pk), id); err != nil {
		return nil, fmt.Errorf("pair %q: %w", pk, err)
	}
	if err := meta.Put(keyPairSeq, u64Key(last+1)); err != nil {
		return nil, fmt.Errorf("pair %q: %w", pk, err)
	}
	a.pairs[string(pk)] = id
	return id, nil
}

// position is the position of the pair of issue and party as of at,
// believed at seq: what applying compares, the position alone, without
// counting sources or walking back for them.
func (a *applier) position(issue, party string, at time.Time, seq uint64) (*Position, error) {
	f, err := a.fd.lookUp(a.pairID(namePrefix(issue, party)), issue, party, at, seq, false)
	return f.position(), err
}

// nowOf is the position of a pair in the present of this message (as of
// its recorded time), as of the message before this one.
func (a *applier) nowOf(p [2]string) (*Position, error) {
	present := timeKey(a.m.Time)
	if e, ok := a.now[string(namePrefix(p[0], p[1]))]; ok && e.at <= present && present < e.next {
		return e.pos, nil
	}
	return a.position(p[0], p[1], a.m.Time, a.m.Seq-1)
}

// present is the position of a pair as of this message's recorded time,
// with this message applied, remembered for the next messages of the batch.
func (a *applier) present(p [2]string) (*Position, error) {
	pos, err := a.position(p[0], p[1], a.m.Time, a.m.Seq)
	if err == nil {
		a.now[string(namePrefix(p[0], p[1]))] = nowEntry{pos: pos, at: timeKey(a.m.Time), next: a.fd.next}
	}
	return pos, err
}

// watcher remembers the positions of some (issue, party) pairs before a
// change, now and as of some event times, to tell afterwards what moved.
type watcher struct {
	pairs     [][2]string
	ats       []events.Time // in order; only when past
	beforeNow []*Position
	beforeAt  [][]span // by pair, then by time
	past      bool
	err       error
}

// span is a pair's position at the start of a watched time and at its end
// (the end of its day, for a date): a report given as a day disputes
// those of its day, so it can change the state at the day's end, not only
// at its start.
type span struct{ start, end *Position }

// instants are the two ends of a watched time, the same for a time to the
// second.
func instants(at events.Time) (start, end time.Time) { return at.Time, at.End() }

// watch notes the positions before a change. past says the change may
// reach into the past (a late event, a correction), as of the times given
// (a correction that moves an event watches its old time and its new);
// otherwise "as of its time" and "now" are the same look-up, done once.
func (a *applier) watch(pairs [][2]string, past bool, ats ...events.Time) *watcher {
	w := &watcher{pairs: pairs, past: past}
	if past {
		w.ats = ats
	}
	prev := a.m.Seq - 1
	for _, p := range pairs {
		now, err := a.nowOf(p)
		if err != nil {
			w.err = err
			return w
		}
		w.beforeNow = append(w.beforeNow, now)
		var then []span
		for _, at := range w.ats {
			sp, err := a.span(p, at, prev)
			if err != nil {
				w.err = err
				return w
			}
			then = append(then, sp)
		}
		w.beforeAt = append(w.beforeAt, then)
	}
	return w
}

// span looks a pair's position up at both ends of a watched time; once,
// when no claim of the pair lies between them (the position at the end
// is then the one at the start).
func (a *applier) span(p [2]string, at events.Time, seq uint64) (span, error) {
	start, end := instants(at)
	s, err := a.position(p[0], p[1], start, seq)
	if err != nil || end.Equal(start) || a.fd.next > timeKey(end) {
		return span{s, s}, err
	}
	e, err := a.position(p[0], p[1], end, seq)
	return span{s, e}, err
}

// finish compares the watched positions with what they are now, and
// records the changes in d. A change as of the event time of a late event
// or a correction is a revision of the timeline: its period runs from the
// first time watched to where a later claim took over from every
// position it changed, or to the present. A change as of a time after
// the message's recorded time is scheduled: the present does not hold it
// yet, and it is told with its time, never as a change of the present.
func (w *watcher) finish(a *applier, d *Development) error {
	if w.err != nil {
		return w.err
	}
	var moved, revised, scheduled, open bool
	var revisedFrom, revisedTo *events.Time
	for i, p := range w.pairs {
		now, err := a.present(p)
		if err != nil {
			return err
		}
		nowMoved := !samePosition(w.beforeNow[i], now)
		if nowMoved {
			moved = true
			d.Changes = append(d.Changes, Change{Issue: p[0], Party: p[1], Before: w.beforeNow[i], After: now})
		}
		for j, at := range w.ats {
			then, err := a.span(p, at, a.m.Seq)
			if err != nil {
				return err
			}
			before := w.beforeAt[i][j]
			if a.ahead(at) {
				// Scheduled: what the position is to be at that time, told
				// when this message changed it, or else when it made a
				// change at that time that was not there (a correction
				// that puts a position off to it): from the position
				// just before it.
				ch := Change{Issue: p[0], Party: p[1], AsOf: at.String(), Before: before.end, After: then.end}
				if samePosition(before.end, then.end) {
					jb, err := a.position(p[0], p[1], at.Time.Add(-time.Nanosecond), a.m.Seq)
					if err != nil {
						return err
					}
					was, err := a.position(p[0], p[1], at.Time.Add(-time.Nanosecond), a.m.Seq-1)
					if err != nil {
						return err
					}
					if samePosition(jb, was) || samePosition(jb, then.end) {
						continue
					}
					ch.Before = jb
				}
				scheduled = true
				d.Changes = append(d.Changes, ch)
				continue
			}
			// As of a date is as of its end, as the API reads one; a change
			// only at its start (a report of the day that a later one of
			// the same day took over from) is told as of that instant.
			var ch Change
			var after time.Time
			switch start, end := instants(at); {
			case !samePosition(before.end, then.end):
				ch, after = Change{AsOf: at.String(), Before: before.end, After: then.end}, end
			case !samePosition(before.start, then.start):
				ch, after = Change{AsOf: events.Time{Time: start, Precision: events.Second}.String(), Before: before.start, After: then.start}, start
			default:
				continue
			}
			ch.Issue, ch.Party = p[0], p[1]
			revised = true
			if revisedFrom == nil {
				revisedFrom = &w.ats[j]
			}
			if nowMoved {
				continue // told as the change of the present
			}
			d.Changes = append(d.Changes, ch)
			next, err := nextClaimTime(a.tx, a.pairID(namePrefix(p[0], p[1])), after, a.m.Seq)
			if err != nil {
				return err
			}
			switch {
			case next == nil || a.ahead(*next):
				// Taken over only by a claim still to come: the revision
				// reaches the present.
				open = true
			case revisedTo == nil || next.After(revisedTo.Time):
				revisedTo = next
			}
		}
	}
	if moved {
		d.Kinds = append(d.Kinds, KindPositionChange)
	}
	if revised {
		d.Kinds = append(d.Kinds, KindTimelineRevised)
		d.Revised = &Revision{From: revisedFrom.String()}
		if revisedTo != nil && !moved && !open {
			d.Revised.To = revisedTo.String()
		}
	}
	if scheduled {
		d.Kinds = append(d.Kinds, KindPositionScheduled)
	}
	return nil
}

func pairsOf(ps []events.Position) [][2]string {
	out := make([][2]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, [2]string{p.Issue, p.Party})
	}
	return out
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func union2(a, b [][2]string) [][2]string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func getRecord(tx Tx, id string) (*eventRecord, error) {
	v := tx.Bucket(BucketEvents).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	// The record keeps slices of the bytes it is decoded from, which are
	// the store's only until the next write.
	r, err := decodeRecord(bytes.Clone(v), true)
	if err != nil {
		return nil, fmt.Errorf("event record %s: %w", id, err)
	}
	return r, nil
}

func putRecord(tx Tx, r *eventRecord) error {
	b, err := r.encode()
	if err != nil {
		return fmt.Errorf("encode event record %s: %w", r.ID, err)
	}
	return tx.Bucket(BucketEvents).Put([]byte(r.ID), b)
}

func putJSON(b Bucket, k []byte, v any) error {
	j, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %x: %w", k, err)
	}
	return b.Put(k, j)
}
