package projections

import (
	"time"

	"github.com/parley-news/parley/internal/events"
)

// Version is the version of the projection code. A read model written by
// another version is rebuilt from the stream before it is served; bump it
// whenever Apply or the layout of the buckets changes.
const Version = 10

// Kinds of development, the values of Development.Kinds and of an alert
// subscription's "changes" filter.
const (
	KindNewEvent        = "new_event"
	KindPositionChange  = "position_change"
	KindCorrection      = "correction"
	KindRetraction      = "retraction"
	KindTimelineRevised = "timeline_revised"
	// KindPositionScheduled is a position stated for a time after the
	// event was recorded (talks set for next week): its changes carry
	// as_of, that time, and the present does not hold it until then.
	KindPositionScheduled = "position_scheduled"
)

// Kinds lists every kind of development.
var Kinds = []string{KindNewEvent, KindPositionChange, KindCorrection, KindRetraction, KindTimelineRevised, KindPositionScheduled}

// eventRecord is what the events bucket holds for one event: every version
// of it that was ever believed, and its retraction.
type eventRecord struct {
	ID         string    `json:"id"`
	Seq        uint64    `json:"seq"`
	RecordedAt time.Time `json:"recorded_at"`
	Versions   []version `json:"versions"`
	Retraction *mark     `json:"retraction,omitempty"`
}

// version is the event as believed from one stream sequence on: the
// original, then one more for each correction.
type version struct {
	Seq        uint64       `json:"seq"`
	RecordedAt time.Time    `json:"recorded_at"`
	By         string       `json:"by,omitempty"` // the correction that made it
	Event      events.Event `json:"event"`
	// The issues and parties it is indexed under, kept so that a later
	// correction closes exactly the entries this version opened.
	Issues  []string `json:"issues,omitempty"`
	Parties []string `json:"parties,omitempty"`
	// Canonical says that the event JSON this version holds is exactly
	// what encoding/json writes for Event, so that an answer can use the
	// bytes as they are (AppendTimelineJSON).
	Canonical bool `json:"canonical,omitempty"`

	// raw is Event's JSON as stored: the stream's bytes for the event as
	// appended, encoding/json's for a corrected version. Nil for a version
	// made while applying a correction, until it is encoded.
	raw []byte
}

// mark records who retracted an event and when that was recorded.
type mark struct {
	By         string    `json:"by"`
	Seq        uint64    `json:"seq"`
	RecordedAt time.Time `json:"recorded_at"`
}

// EventView is an event as it was believed at some point of knowledge.
type EventView struct {
	events.Event
	// Seq and RecordedAt are when the event was first recorded.
	Seq        uint64    `json:"seq"`
	RecordedAt time.Time `json:"recorded_at"`
	// Version counts the corrections applied (0 for the original).
	Version int `json:"version"`
	// CorrectedBy lists the corrections applied, oldest first; Original is
	// the event as first recorded, shown when it was corrected.
	CorrectedBy []string      `json:"corrected_by,omitempty"`
	CorrectedAt *time.Time    `json:"corrected_at,omitempty"`
	Original    *events.Event `json:"original,omitempty"`
	// RetractedBy is the retraction that withdrew the event, if known.
	Retracted   bool       `json:"retracted,omitempty"`
	RetractedBy string     `json:"retracted_by,omitempty"`
	RetractedAt *time.Time `json:"retracted_at,omitempty"`
}

// Claim is one position as one version of one event states it.
type Claim struct {
	Issue      string       `json:"issue"`
	Party      string       `json:"party"`
	Stance     string       `json:"stance"`
	Value      events.Value `json:"value,omitzero"`
	Quote      string       `json:"quote,omitempty"`
	Event      string       `json:"event"`
	Type       string       `json:"type"`
	Title      string       `json:"title"`
	OccurredAt events.Time  `json:"occurred_at"`
	// Seq and RecordedAt are when the event was first recorded, as in an
	// EventView; CorrectedAt is when the correction that made this version
	// was.
	Seq         uint64          `json:"seq"`
	RecordedAt  time.Time       `json:"recorded_at"`
	Sources     []events.Source `json:"sources"`
	CorrectedBy string          `json:"corrected_by,omitempty"`
	CorrectedAt *time.Time      `json:"corrected_at,omitempty"`
}

// Cell is a party's position on an issue at a point of event time and
// knowledge: the latest claim, with how many independent outlets support
// it, and the competing claims when sources disagree.
type Cell struct {
	Claim
	// SourceCount is the number of distinct outlets whose reports support
	// this stance and value, back to the last claim that differed.
	SourceCount int `json:"source_count"`
	// Disputed is set when claims of the same time disagree; Claims then
	// holds each of them, this one first.
	Disputed bool    `json:"disputed,omitempty"`
	Claims   []Claim `json:"claims,omitempty"`
}

// samePosition reports whether two positions say the same thing.
func samePosition(a, b *Position) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Stance == b.Stance && a.Value.Equal(b.Value) && a.Disputed == b.Disputed
}

// Development is what one applied event changed: what feeds show and
// alerts carry.
type Development struct {
	Seq        uint64    `json:"seq"`
	RecordedAt time.Time `json:"recorded_at"`
	Event      string    `json:"event"`
	Type       string    `json:"type"`
	Kinds      []string  `json:"kinds"`
	// Corrects is the event a correction or retraction amended.
	Corrects string `json:"corrects,omitempty"`
	// Issues and Parties are what the development concerns, for filters:
	// the event's own and, for a correction, those of the event it amends,
	// before and after.
	Issues  []string `json:"issues,omitempty"`
	Parties []string `json:"parties,omitempty"`
	// Changes are the positions that moved, before and after.
	Changes []Change `json:"changes,omitempty"`
	// Revised is the period of event time whose state a late event or a
	// correction changed.
	Revised *Revision `json:"revised,omitempty"`
	// Note says why an event had less effect than its type suggests (a
	// correction of an unknown event).
	Note string `json:"note,omitempty"`
}

// Change is one party's position on one issue before and after a
// development. AsOf is the event time they are taken at: the event's own
// time for a late event or one dated ahead of its recording (scheduled),
// else the present (the development's recorded time).
type Change struct {
	Issue  string    `json:"issue"`
	Party  string    `json:"party"`
	AsOf   string    `json:"as_of,omitempty"`
	Before *Position `json:"before"`
	After  *Position `json:"after"`
}

// Position is the short form of a cell in a change.
type Position struct {
	Stance   string       `json:"stance"`
	Value    events.Value `json:"value,omitzero"`
	Event    string       `json:"event"`
	Disputed bool         `json:"disputed,omitempty"`
}

// Revision is a period of event time whose state changed after the fact.
// To is empty when the change reaches the present.
type Revision struct {
	From string `json:"from"`
	To   string `json:"to,omitempty"`
}

// Skipped is a stream message the projection did not apply, and why: it
// could not be decoded, or it repeats an id already applied.
type Skipped struct {
	Seq     uint64    `json:"seq"`
	Subject string    `json:"subject"`
	Time    time.Time `json:"time"`
	Reason  string    `json:"reason"`
}

// Message is a stream message as the projection sees it.
type Message struct {
	Seq     uint64
	Time    time.Time
	Subject string
	Data    []byte
	// Decoded is Data decoded ahead of applying, or nil: ApplyBatch then
	// decodes it itself.
	Decoded *Decoded
}

// Decoded is a message's event decoded ahead of the apply loop, by the
// goroutine that receives messages, so that decoding one batch overlaps
// applying the one before.
type Decoded struct {
	event     events.Event
	raw       []byte
	canonical bool // raw is the event's canonical JSON
	err       error
	// pre is what applying the event as new writes, when Prepare worked
	// it out.
	pre *prepared
}

// decode decodes a stream message's event.
func decode(data []byte) *Decoded {
	e, raw, canonical, err := events.UnwrapData(data)
	return &Decoded{event: e, raw: raw, canonical: canonical, err: err}
}

// Prepare decodes the event of the message recorded at seq and at and,
// for an event other than a correction or a retraction, also works out
// the index entries and the record that applying it as a new event
// writes: the part of applying that needs no look-up, moved off the
// apply loop onto the goroutine that receives messages. Whether the event
// is new after all (its id not applied before) is for ApplyBatch to tell.
func Prepare(seq uint64, at time.Time, data []byte) *Decoded {
	d := decode(data)
	if d.err != nil || d.event.Type == events.TypeCorrection || d.event.Type == events.TypeRetraction {
		return d
	}
	d.pre, _ = prepareAdd(d.event, d.raw, d.canonical, seq, at) // on error, ApplyBatch meets it again
	return d
}

// preparedFor returns what Prepare worked out, if it was for m.
func (d *Decoded) preparedFor(m Message) *prepared {
	if d == nil || d.pre == nil || d.pre.seq != m.Seq || !d.pre.at.Equal(m.Time) {
		return nil
	}
	return d.pre
}
