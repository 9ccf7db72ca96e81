package projections_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/projections"
)

// log feeds events to a store as the stream would: consecutive sequences,
// recorded times a minute apart from a fixed start.
type log struct {
	t     *testing.T
	store projections.Store
	seq   uint64
	start time.Time
}

// newLog starts recording after every event time the tests use, so that
// none is dated ahead of its recording unless a test sets start.
func newLog(t *testing.T) *log {
	return &log{t: t, store: projections.NewMem(), start: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
}

func (l *log) recordedAt(seq uint64) time.Time { return l.start.Add(time.Duration(seq) * time.Minute) }

func (l *log) add(evs ...events.Event) []*projections.Development {
	l.t.Helper()
	var devs []*projections.Development
	err := l.store.Update(context.Background(), func(tx projections.Tx) error {
		if err := projections.Init(tx); err != nil {
			return err
		}
		for _, e := range evs {
			l.seq++
			out, err := projections.Apply(tx, projections.Message{Seq: l.seq, Time: l.recordedAt(l.seq), Subject: "parley.events." + e.ID, Data: events.Wrap(e, "")})
			if err != nil {
				return err
			}
			devs = append(devs, out.Development)
		}
		return nil
	})
	if err != nil {
		l.t.Fatal(err)
	}
	return devs
}

func (l *log) state(q projections.StateQuery) *projections.State {
	l.t.Helper()
	var st *projections.State
	err := l.store.View(context.Background(), func(tx projections.Tx) error {
		var err error
		st, err = projections.QueryState(tx, q)
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
	return st
}

// cell is "stance value" of a pair in a state, or "-" when none.
func cell(st *projections.State, issue, party string) string {
	for _, is := range st.Issues {
		if is.Issue == issue {
			if c := is.Positions[party]; c != nil {
				s := c.Stance
				if !c.Value.IsZero() {
					s += " " + c.Value.String()
				}
				if c.Disputed {
					s += " disputed"
				}
				return s
			}
		}
	}
	return "-"
}

func ev(id, typ, at string, pos ...events.Position) events.Event {
	return events.Event{ID: id, Type: typ, OccurredAt: events.MustTime(at), Title: "title of " + id,
		Sources: []events.Source{{Outlet: "Outlet " + id}}, Positions: pos}
}

func pos(party, issue, stance string, v any) events.Position {
	p := events.Position{Party: party, Issue: issue, Stance: stance}
	switch v := v.(type) {
	case int:
		p.Value = events.Number(float64(v))
	case string:
		p.Value = events.Text(v)
	}
	return p
}

func day(s string) time.Time { return events.MustTime(s).End() }

func TestStateAsOfAndKnownAt(t *testing.T) {
	l := newLog(t)
	l.add(
		ev("leak", "leak", "2025-11-20", pos("us", "army-cap", "proposes", 600000)),
		ev("e3-plan", "proposal", "2025-11-23", pos("e3", "army-cap", "proposes", 800000)),
	)
	// Recorded third, but it happened first: a late report.
	devs := l.add(ev("ua-red-lines", "statement", "2025-11-19", pos("ua", "army-cap", "rejects", nil)))

	tests := []struct {
		name  string
		q     projections.StateQuery
		party string
		want  string
	}{
		{"now us", projections.StateQuery{}, "us", "proposes 600000"},
		{"now e3", projections.StateQuery{}, "e3", "proposes 800000"},
		{"before E3 plan", projections.StateQuery{At: day("2025-11-21")}, "e3", "-"},
		{"late event in its place", projections.StateQuery{At: day("2025-11-19")}, "ua", "rejects"},
		{"before the leak", projections.StateQuery{At: day("2025-11-19")}, "us", "-"},
		{"as known before the late report", projections.StateQuery{Knowledge: projections.Knowledge{At: l.recordedAt(2)}}, "ua", "-"},
		{"as known after it", projections.StateQuery{Knowledge: projections.Knowledge{At: l.recordedAt(3)}}, "ua", "rejects"},
		{"known before anything", projections.StateQuery{Knowledge: projections.Knowledge{At: l.start}}, "us", "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cell(l.state(tt.q), "army-cap", tt.party); got != tt.want {
				t.Errorf("army-cap/%s = %q, want %q", tt.party, got, tt.want)
			}
		})
	}
	d := devs[0]
	if !slices.Contains(d.Kinds, projections.KindTimelineRevised) || d.Revised == nil || d.Revised.From != "2025-11-19" {
		t.Errorf("late event development = %+v, want a timeline revision from 2025-11-19", d)
	}
}

func TestCorrectionAndRetraction(t *testing.T) {
	l := newLog(t)
	l.add(
		ev("deadline", "deadline", "2025-11-28"),
		ev("claim", "statement", "2025-11-21", pos("ru", "language", "demands", "official language")),
		ev("cap", "leak", "2025-11-20", pos("us", "army-cap", "proposes", 600000)),
	)
	known := l.seq
	amendAt := events.MustTime("2025-11-27")
	cor := ev("deadline-fix", "correction", "2025-11-26")
	cor.Corrects, cor.Amend = "deadline", &events.Amend{OccurredAt: &amendAt}
	capFix := ev("cap-fix", "correction", "2025-11-26")
	newPos := []events.Position{pos("us", "army-cap", "proposes", 650000)}
	capFix.Corrects, capFix.Amend = "cap", &events.Amend{Positions: &newPos}
	ret := ev("claim-retracted", "retraction", "2025-11-26")
	ret.Corrects = "claim"
	devs := l.add(cor, capFix, ret)

	view := func(id string, k projections.Knowledge) *projections.EventView {
		var v *projections.EventView
		err := l.store.View(context.Background(), func(tx projections.Tx) error {
			var err error
			v, err = projections.QueryEvent(tx, id, k)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := view("deadline", projections.Knowledge{}); v.OccurredAt.String() != "2025-11-27" || !slices.Equal(v.CorrectedBy, []string{"deadline-fix"}) {
		t.Errorf("corrected deadline = %s by %v", v.OccurredAt, v.CorrectedBy)
	}
	before := projections.Knowledge{At: l.recordedAt(known)}
	if v := view("deadline", before); v.OccurredAt.String() != "2025-11-28" || v.Version != 0 {
		t.Errorf("deadline as known before = %s (version %d)", v.OccurredAt, v.Version)
	}
	if v := view("claim", projections.Knowledge{}); !v.Retracted || v.RetractedBy != "claim-retracted" {
		t.Errorf("claim not marked retracted: %+v", v)
	}
	if got := cell(l.state(projections.StateQuery{}), "language", "ru"); got != "-" {
		t.Errorf("retracted claim still in state: %q", got)
	}
	if got := cell(l.state(projections.StateQuery{Knowledge: before}), "language", "ru"); got != "demands official language" {
		t.Errorf("before retraction: %q", got)
	}
	if got := cell(l.state(projections.StateQuery{}), "army-cap", "us"); got != "proposes 650000" {
		t.Errorf("corrected cap: %q", got)
	}
	if got := cell(l.state(projections.StateQuery{Knowledge: before}), "army-cap", "us"); got != "proposes 600000" {
		t.Errorf("cap as known before the correction: %q", got)
	}
	wantKinds := [][]string{
		{projections.KindNewEvent, projections.KindCorrection},
		{projections.KindNewEvent, projections.KindCorrection, projections.KindPositionChange, projections.KindTimelineRevised},
		{projections.KindNewEvent, projections.KindRetraction, projections.KindPositionChange, projections.KindTimelineRevised},
	}
	for i, d := range devs {
		if !slices.Equal(d.Kinds, wantKinds[i]) {
			t.Errorf("development %s kinds = %v, want %v", d.Event, d.Kinds, wantKinds[i])
		}
	}

	// The timeline keeps the retracted event and shows the deadline at its
	// corrected date, after the correction.
	var page *projections.TimelinePage
	l.store.View(context.Background(), func(tx projections.Tx) error {
		var err error
		page, err = projections.QueryTimeline(tx, projections.TimelineQuery{})
		return err
	})
	var order []string
	for _, e := range page.Events {
		order = append(order, fmt.Sprintf("%s@%s", e.ID, e.OccurredAt))
	}
	want := []string{"cap@2025-11-20", "claim@2025-11-21", "deadline-fix@2025-11-26", "cap-fix@2025-11-26", "claim-retracted@2025-11-26", "deadline@2025-11-27"}
	if !slices.Equal(order, want) {
		t.Errorf("timeline = %v\nwant %v", order, want)
	}
}

func TestDisputeAndSourceCount(t *testing.T) {
	l := newLog(t)
	a := ev("a", "statement", "2025-11-21", pos("us", "sanctions", "proposes", "phased"))
	b := ev("b", "statement", "2025-11-21", pos("us", "sanctions", "proposes", "lifted"))
	c := ev("c", "statement", "2025-11-20", pos("us", "sanctions", "proposes", "phased"))
	l.add(c, a)
	st := l.state(projections.StateQuery{})
	if got := st.Issues[0].Positions["us"].SourceCount; got != 2 {
		t.Errorf("source count of a position two outlets support = %d, want 2", got)
	}
	l.add(b)
	got := l.state(projections.StateQuery{}).Issues[0].Positions["us"]
	if !got.Disputed || len(got.Claims) != 2 {
		t.Fatalf("want a dispute between two claims, got %+v", got)
	}
	if got.Claims[0].Sources[0].Outlet == got.Claims[1].Sources[0].Outlet {
		t.Errorf("dispute names one source twice: %+v", got.Claims)
	}
}

// TestDisputesOfAMoment: claims of the top's moment that disagree with it
// make a dispute however many agree after them, and whatever claims of
// other moments of the day sit between them in event-time order (a day
// sorts at its start, before the minutes of it); the earlier agreeing
// reports of the day and before support the position, up to the first
// that disagrees.
func TestDisputesOfAMoment(t *testing.T) {
	at := func(id, when, stance string) events.Event {
		return ev(id, "statement", when, pos("ua", "nato-membership", stance, nil))
	}
	many := []events.Event{at("d0", "2025-11-05", "rejects")}
	for i := 1; i <= 17; i++ {
		many = append(many, at(fmt.Sprintf("d%d", i), "2025-11-05", "accepts"))
	}
	tests := []struct {
		name     string
		evs      []events.Event
		disputed bool
		top      string
		claims   int // shown when disputed: the top and others of its moment
		sources  int
	}{
		{"seventeen agree after one disagrees", many, true, "d17", 17, 17},
		{"a day between two minutes of it", []events.Event{
			at("p1", "2025-11-20T14:30Z", "rejects"), at("p2", "2025-11-20", "accepts"), at("p3", "2025-11-20T10:00Z", "rejects"),
		}, true, "p1", 2, 1},
		{"earlier reports of the day and before support", []events.Event{
			at("p0", "2025-11-19", "rejects"), at("p3", "2025-11-20T10:00Z", "rejects"), at("p1", "2025-11-20T14:30Z", "rejects"),
		}, false, "p1", 0, 3},
		{"support stops at the first that disagrees", []events.Event{
			at("p0", "2025-11-19", "rejects"), at("p3", "2025-11-20T10:00Z", "accepts"), at("p1", "2025-11-20T14:30Z", "rejects"),
		}, false, "p1", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLog(t)
			devs := l.add(tt.evs...)
			c := l.state(projections.StateQuery{}).Issues[0].Positions["ua"]
			if c.Event != tt.top || c.Disputed != tt.disputed || len(c.Claims) != tt.claims || c.SourceCount != tt.sources {
				t.Errorf("cell: top %s, disputed %v, %d claims, %d sources; want %s, %v, %d, %d",
					c.Event, c.Disputed, len(c.Claims), c.SourceCount, tt.top, tt.disputed, tt.claims, tt.sources)
			}
			// What applying the last event announced agrees with the answer.
			last := devs[len(devs)-1]
			for _, ch := range last.Changes {
				if ch.After != nil && ch.After.Disputed != tt.disputed {
					t.Errorf("the last development says disputed %v: %+v", ch.After.Disputed, ch)
				}
			}
		})
	}
}

// TestHistoryMarksDisputes: in an issue's history, a claim that another
// of its moment (compared at the coarser precision) contradicts is marked
// disputed, both of them, as the state marks the position: two sources at
// odds, not a party changing its mind. As known before the second was
// recorded, the first is not; a claim of another moment, or one that
// agrees, is not.
func TestHistoryMarksDisputes(t *testing.T) {
	at := func(id, when, stance string) events.Event {
		return ev(id, "statement", when, pos("ua", "nato-membership", stance, nil))
	}
	l := newLog(t)
	l.add(
		at("h1", "2025-11-19", "rejects"),
		at("h2", "2025-11-20T10:00Z", "rejects"),
		at("h3", "2025-11-20", "accepts"),        // the day of h2: at odds with it
		at("h4", "2025-11-20T15:00Z", "accepts"), // the day of h3 too, and agrees with it; at odds with h2? other minutes
		at("h5", "2025-11-22", "accepts"),
	)
	marks := func(k projections.Knowledge) string {
		var out []string
		l.store.View(context.Background(), func(tx projections.Tx) error {
			h, err := projections.QueryHistory(tx, projections.HistoryQuery{Issue: "nato-membership", Knowledge: k})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range h.Entries {
				s := e.Event
				if e.Disputed {
					s += " disputed"
				}
				out = append(out, s)
			}
			return nil
		})
		return strings.Join(out, ", ")
	}
	if got, want := marks(projections.Knowledge{}), "h1, h3 disputed, h2 disputed, h4, h5"; got != want {
		t.Errorf("history:\n got %s\nwant %s", got, want)
	}
	if got, want := marks(projections.Knowledge{At: l.recordedAt(2)}), "h1, h2"; got != want {
		t.Errorf("as known before the dispute:\n got %s\nwant %s", got, want)
	}
}

// TestCorrectionToAnotherParty: a correction that moves an event to
// another party (its actors only) concerns that party's readers: its
// development names both parties, and the timeline of either lists it.
func TestCorrectionToAnotherParty(t *testing.T) {
	l := newLog(t)
	e := ev("e", "statement", "2025-11-20")
	e.Actors = []string{"uk"}
	fix := ev("fix", "correction", "2025-11-21")
	fix.Corrects, fix.Amend = "e", &events.Amend{Actors: &[]string{"fr"}}
	devs := l.add(e, fix)
	if got := devs[1].Parties; !slices.Equal(got, []string{"fr", "uk"}) && !slices.Equal(got, []string{"uk", "fr"}) {
		t.Errorf("the correction's development names %v, want fr and uk", got)
	}
	for _, party := range []string{"fr", "uk"} {
		var ids []string
		l.store.View(context.Background(), func(tx projections.Tx) error {
			page, err := projections.QueryTimeline(tx, projections.TimelineQuery{Party: party})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Events {
				ids = append(ids, e.ID)
			}
			return nil
		})
		if !slices.Contains(ids, "fix") {
			t.Errorf("the timeline of %s lists %v, not the correction", party, ids)
		}
	}
}

// TestRevisedPeriod: a development that revises the past names the
// period whose state it changed, from the first time it changed to where
// a later claim took over (at that claim's precision), and each position
// it changed as of each time; a correction that moves an event watches
// the event's old time and its new.
func TestRevisedPeriod(t *testing.T) {
	fa := func(id, when string, v int) events.Event {
		return ev(id, "statement", when, pos("eu", "frozen-assets", "proposes", v))
	}
	moved := fa("fa1", "2025-10-10", 100)
	corr := ev("fac", "correction", "2025-11-01")
	newDate := events.MustTime("2025-10-15")
	corr.Corrects, corr.Amend = "fa1", &events.Amend{OccurredAt: &newDate}
	tests := []struct {
		name     string
		evs      []events.Event
		from, to string
		asOf     []string // the as_of of each change, in order
	}{
		{"a late report", []events.Event{fa("b", "2025-12-01", 2), fa("a", "2025-11-21", 1)}, "2025-11-21", "2025-12-01", []string{"2025-11-21"}},
		{"a late report of a minute", []events.Event{fa("b", "2025-12-01T10:30Z", 2), fa("a", "2025-11-21", 1)}, "2025-11-21", "2025-12-01T10:30Z", []string{"2025-11-21"}},
		{"a correction that moves an event later", []events.Event{moved, fa("fa2", "2025-10-12", 200), fa("fa3", "2025-10-20", 300), corr},
			"2025-10-10", "2025-10-20", []string{"2025-10-10", "2025-10-15"}},
		// A report of the day disputes one of 10:00 that day, until the
		// next claim after the day.
		{"a late report of a day that disputes a minute of it", []events.Event{fa("a", "2025-11-21T10:00Z", 1), fa("c", "2025-12-01", 1), fa("b", "2025-11-21", 2)},
			"2025-11-21", "2025-12-01", []string{"2025-11-21"}},
		// One that agrees changes only the hours before 10:00.
		{"a late report of a day taken over within it", []events.Event{fa("x", "2025-11-20", 1), fa("a", "2025-11-21T10:00Z", 2), fa("c", "2025-12-01", 1), fa("b", "2025-11-21", 2)},
			"2025-11-21", "2025-11-21T10:00Z", []string{"2025-11-21T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLog(t)
			devs := l.add(tt.evs...)
			d := devs[len(devs)-1]
			if d.Revised == nil || d.Revised.From != tt.from || d.Revised.To != tt.to {
				t.Fatalf("revised %+v, want from %s to %s", d.Revised, tt.from, tt.to)
			}
			var asOf []string
			for _, c := range d.Changes {
				asOf = append(asOf, c.AsOf)
			}
			if !slices.Equal(asOf, tt.asOf) {
				t.Errorf("changes as of %q, want %q", asOf, tt.asOf)
			}
			// Each change says what the state as of its time is now.
			for _, c := range d.Changes {
				at := events.MustTime(c.AsOf)
				got := cell(l.state(projections.StateQuery{At: at.End()}), c.Issue, c.Party)
				want := "-"
				if c.After != nil {
					want = c.After.Stance + " " + c.After.Value.String()
					if c.After.Disputed {
						want += " disputed"
					}
				}
				if got != want {
					t.Errorf("change as of %s says %q, the state then is %q", c.AsOf, want, got)
				}
			}
		})
	}
}

// TestScheduledPositions: a position dated after its event was recorded
// (talks set for next week) is told as scheduled, with its time, never as
// a change of the present; the present is the recorded time of each
// message, so that a rebuild tells the same.
func TestScheduledPositions(t *testing.T) {
	fa := func(id, when string, v int) events.Event {
		return ev(id, "statement", when, pos("eu", "frozen-assets", "proposes", v))
	}
	later := events.MustTime("2025-12-10")
	moveAhead := ev("fac", "correction", "2025-11-25")
	moveAhead.Corrects, moveAhead.Amend = "b", &events.Amend{OccurredAt: &later}
	putOff := ev("fac", "correction", "2025-11-25")
	putOff.Corrects, putOff.Amend = "b", &events.Amend{OccurredAt: &later}
	raised := ev("fav", "correction", "2025-11-25")
	raised.Corrects, raised.Amend = "b", &events.Amend{Positions: &[]events.Position{pos("eu", "frozen-assets", "proposes", 3)}}
	type change struct{ asOf, before, after string }
	tests := []struct {
		name    string
		evs     []events.Event // recorded a minute apart from 2025-11-25 09:01
		kinds   []string       // of the last event's development
		changes []change
		revised string // from-to, "" for none
		now     string // the state as of the last recording
	}{
		{"talks set for next week", []events.Event{fa("a", "2025-11-20", 1), fa("b", "2025-12-02", 2)},
			[]string{"new_event", "position_scheduled"}, []change{{"2025-12-02", "1", "2"}}, "", "proposes 1"},
		{"a date of today is the present", []events.Event{fa("a", "2025-11-20", 1), fa("b", "2025-11-25", 2)},
			[]string{"new_event", "position_change"}, []change{{"", "1", "2"}}, "", "proposes 2"},
		{"a minute later today is ahead", []events.Event{fa("a", "2025-11-20", 1), fa("b", "2025-11-25T14:30Z", 2)},
			[]string{"new_event", "position_scheduled"}, []change{{"2025-11-25T14:30Z", "1", "2"}}, "", "proposes 1"},
		{"a statement of today after talks set for next week", []events.Event{fa("a", "2025-11-20", 1), fa("b", "2025-12-02", 2), fa("c", "2025-11-25", 3)},
			[]string{"new_event", "position_change"}, []change{{"", "1", "3"}}, "", "proposes 3"},
		{"a late report once the time set has come", []events.Event{fa("b", "2025-11-25T09:03Z", 2), fa("c", "2025-11-25T09:02Z", 3), fa("d", "2025-11-25T09:01Z", 4)},
			[]string{"new_event", "timeline_revised"}, []change{{"2025-11-25T09:01Z", "-", "4"}}, "2025-11-25T09:01Z-2025-11-25T09:02Z", "proposes 2"},
		{"a late report before talks set for next week", []events.Event{fa("a", "2025-11-20", 1), fa("b", "2025-12-02", 2), fa("c", "2025-11-19", 3)},
			[]string{"new_event", "timeline_revised"}, []change{{"2025-11-19", "-", "3"}}, "2025-11-19-2025-11-20", "proposes 1"},
		{"a correction that moves a position ahead", []events.Event{fa("a", "2025-11-20", 1), fa("b", "2025-11-22", 2), moveAhead},
			[]string{"new_event", "correction", "position_change", "timeline_revised", "position_scheduled"},
			[]change{{"", "2", "1"}, {"2025-12-10", "1", "2"}}, "2025-11-22-", "proposes 1"},
		{"talks set for next week put off", []events.Event{fa("a", "2025-11-20", 1), fa("b", "2025-12-02", 2), putOff},
			[]string{"new_event", "correction", "position_scheduled"}, []change{{"2025-12-02", "2", "1"}, {"2025-12-10", "1", "2"}}, "", "proposes 1"},
		{"talks set for next week, the value corrected", []events.Event{fa("a", "2025-11-20", 1), fa("b", "2025-12-02", 2), raised},
			[]string{"new_event", "correction", "position_scheduled"}, []change{{"2025-12-02", "2", "3"}}, "", "proposes 1"},
	}
	short := func(p *projections.Position) string {
		if p == nil {
			return "-"
		}
		return p.Value.String()
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLog(t)
			l.start = time.Date(2025, 11, 25, 9, 0, 0, 0, time.UTC)
			devs := l.add(tt.evs...)
			d := devs[len(devs)-1]
			if !slices.Equal(d.Kinds, tt.kinds) {
				t.Errorf("kinds %v, want %v", d.Kinds, tt.kinds)
			}
			var got []change
			for _, c := range d.Changes {
				got = append(got, change{c.AsOf, short(c.Before), short(c.After)})
			}
			if !slices.Equal(got, tt.changes) {
				t.Errorf("changes %v, want %v", got, tt.changes)
			}
			rev := ""
			if d.Revised != nil {
				rev = d.Revised.From + "-" + d.Revised.To
			}
			if rev != tt.revised {
				t.Errorf("revised %q, want %q", rev, tt.revised)
			}
			// The state as of the last recording, as GET /v1/state then
			// answers, holds what the feed called the present.
			var at time.Time
			err := l.store.View(context.Background(), func(tx projections.Tx) error {
				at = projections.AsOfNow(tx, l.recordedAt(l.seq))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := cell(l.state(projections.StateQuery{At: at}), "frozen-assets", "eu"); got != tt.now {
				t.Errorf("state now %q, want %q", got, tt.now)
			}
			// Once its time comes, with no event since, the state holds a
			// scheduled position.
			for _, c := range d.Changes {
				if c.AsOf == "" {
					continue
				}
				want := "-"
				if c.After != nil {
					want = c.After.Stance + " " + c.After.Value.String()
				}
				if got := cell(l.state(projections.StateQuery{At: events.MustTime(c.AsOf).End()}), c.Issue, c.Party); got != want {
					t.Errorf("state as of %s %q, want %q", c.AsOf, got, want)
				}
			}
		})
	}
}

func TestApplyIsIdempotent(t *testing.T) {
	l := newLog(t)
	e := ev("leak", "leak", "2025-11-20", pos("us", "army-cap", "proposes", 600000))
	l.add(e)
	// The same sequence again (a redelivery) is ignored by the checkpoint;
	// the same id at a new sequence (a re-append past the duplicate window)
	// is skipped by the id check.
	err := l.store.Update(context.Background(), func(tx projections.Tx) error {
		out, err := projections.Apply(tx, projections.Message{Seq: 1, Time: l.recordedAt(1), Data: events.Wrap(e, "")})
		if err != nil || out.Development != nil || out.Skipped != nil {
			t.Errorf("redelivery: %+v %v", out, err)
		}
		out, err = projections.Apply(tx, projections.Message{Seq: 2, Time: l.recordedAt(2), Data: events.Wrap(e, "")})
		if err != nil || out.Skipped == nil {
			t.Errorf("re-append: %+v %v, want skipped", out, err)
		}
		out, err = projections.Apply(tx, projections.Message{Seq: 3, Time: l.recordedAt(3), Data: []byte("{not json")})
		if err != nil || out.Skipped == nil {
			t.Errorf("garbage: %+v %v, want skipped", out, err)
		}
		if cp := projections.Checkpoint(tx); cp != 3 {
			t.Errorf("checkpoint = %d, want 3", cp)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var page *projections.TimelinePage
	l.store.View(context.Background(), func(tx projections.Tx) error {
		page, err = projections.QueryTimeline(tx, projections.TimelineQuery{})
		return err
	})
	if len(page.Events) != 1 {
		t.Errorf("timeline has %d events, want 1", len(page.Events))
	}
}

// TestTimelineAndHistoryKnownAt checks that "as known at" applies to the
// timeline and to an issue's history: a late report recorded later is
// absent before it was recorded, and present, in its event-time place,
// after.
func TestTimelineAndHistoryKnownAt(t *testing.T) {
	l := newLog(t)
	l.add(
		ev("leak", "leak", "2025-11-20", pos("us", "army-cap", "proposes", 600000)),
		ev("e3-plan", "proposal", "2025-11-23", pos("e3", "army-cap", "proposes", 800000)),
		ev("late", "statement", "2025-11-19", pos("ua", "army-cap", "rejects", nil)),
	)
	ids := func(k projections.Knowledge) (timeline, history []string) {
		l.store.View(context.Background(), func(tx projections.Tx) error {
			page, err := projections.QueryTimeline(tx, projections.TimelineQuery{Issue: "army-cap", Knowledge: k})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Events {
				timeline = append(timeline, e.ID)
			}
			h, err := projections.QueryHistory(tx, projections.HistoryQuery{Issue: "army-cap", Knowledge: k})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range h.Entries {
				history = append(history, e.Event)
			}
			return nil
		})
		return timeline, history
	}
	before := projections.Knowledge{At: l.recordedAt(2)}
	tl, h := ids(before)
	if want := []string{"leak", "e3-plan"}; !slices.Equal(tl, want) || !slices.Equal(h, want) {
		t.Errorf("as known before the late report: timeline %v, history %v, want %v", tl, h, want)
	}
	tl, h = ids(projections.Knowledge{})
	if want := []string{"late", "leak", "e3-plan"}; !slices.Equal(tl, want) || !slices.Equal(h, want) {
		t.Errorf("now: timeline %v, history %v, want %v", tl, h, want)
	}
}

// TestPagingWhileEventsArrive: a cursor reads the next page as known when
// the first was read, so an event recorded meanwhile, after the cursor in
// event time, is not on it, and a correction that moves an event from the
// first page past the cursor does not show it twice; known_at given on the
// next page decides, and a cursor of an earlier version (without the
// sequence) reads as known now.
func TestPagingWhileEventsArrive(t *testing.T) {
	l := newLog(t)
	l.add(
		ev("a", "statement", "2025-11-20", pos("us", "army-cap", "proposes", 600000)),
		ev("b", "statement", "2025-11-21", pos("us", "army-cap", "proposes", 700000)),
		ev("c", "statement", "2025-11-23", pos("us", "army-cap", "proposes", 800000)),
	)
	// One page of each (limit 1): the events' ids and the next cursors.
	timeline := func(k projections.Knowledge, cursor string) (ids []string, next string) {
		t.Helper()
		l.store.View(context.Background(), func(tx projections.Tx) error {
			p, err := projections.QueryTimeline(tx, projections.TimelineQuery{Issue: "army-cap", Knowledge: k, Limit: 1, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range p.Events {
				ids = append(ids, e.ID)
			}
			next = p.NextCursor
			return nil
		})
		return ids, next
	}
	history := func(k projections.Knowledge, cursor string) (ids []string, next string) {
		t.Helper()
		l.store.View(context.Background(), func(tx projections.Tx) error {
			h, err := projections.QueryHistory(tx, projections.HistoryQuery{Issue: "army-cap", Knowledge: k, Limit: 1, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range h.Entries {
				ids = append(ids, e.Event)
			}
			next = h.NextCursor
			return nil
		})
		return ids, next
	}
	// The pages after cursor, until there is none.
	rest := func(page func(projections.Knowledge, string) ([]string, string), k projections.Knowledge, cursor string) []string {
		var all []string
		for range 10 {
			ids, next := page(k, cursor)
			all = append(all, ids...)
			if cursor = next; cursor == "" {
				break
			}
		}
		return all
	}
	firstT, tcur := timeline(projections.Knowledge{}, "")
	firstH, hcur := history(projections.Knowledge{}, "")
	if want := []string{"a"}; !slices.Equal(firstT, want) || !slices.Equal(firstH, want) {
		t.Fatalf("first pages: timeline %v, history %v, want %v", firstT, firstH, want)
	}
	// Recorded while the client reads the first page: a report dated
	// between b and c, and a correction that moves a past the cursor.
	fix := ev("fix-a", events.TypeCorrection, "2025-11-24")
	fix.Corrects = "a"
	fix.Amend = &events.Amend{OccurredAt: ptr(events.MustTime("2025-11-22"))}
	l.add(ev("new", "statement", "2025-11-22", pos("us", "army-cap", "rejects", nil)), fix)

	// An earlier version's cursor is the key alone: as known now.
	old := func(c string) string { return c[:len(c)-16] }
	// As known now, a (moved to the 22nd, before new by its sequence) is
	// on the first page and again on the next, and the correction is on
	// the timeline.
	now := []string{"b", "a", "new", "c"}
	for _, c := range []struct {
		name                   string
		k                      projections.Knowledge
		tcur, hcur             string
		wantTimeline, wantHist []string
	}{
		{"as when the first page was read", projections.Knowledge{}, tcur, hcur, []string{"b", "c"}, []string{"b", "c"}},
		{"known_at given decides", projections.Knowledge{At: l.recordedAt(5)}, tcur, hcur, append(now, "fix-a"), now},
		{"a cursor without its sequence", projections.Knowledge{}, old(tcur), old(hcur), append(now, "fix-a"), now},
	} {
		t.Run(c.name, func(t *testing.T) {
			tl, h := rest(timeline, c.k, c.tcur), rest(history, c.k, c.hcur)
			if !slices.Equal(tl, c.wantTimeline) || !slices.Equal(h, c.wantHist) {
				t.Errorf("the next pages: timeline %v, history %v, want %v and %v", tl, h, c.wantTimeline, c.wantHist)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestUnnamed: the issues and parties with positions that a vocabulary
// no longer has, for the projector to warn of at start.
func TestUnnamed(t *testing.T) {
	l := newLog(t)
	l.add(ev("a", "talks", "2025-11-20", pos("us", "army-cap", "proposes", 600000), pos("ua", "army-cap", "rejects", nil)),
		ev("b", "talks", "2025-11-21", pos("ua", "elections", "accepts", nil)))
	for _, tc := range []struct {
		name, vocab     string
		issues, parties []string
	}{
		{"all named", "parties: [{id: us}, {id: ua}]\nissues: [{id: army-cap}, {id: elections}]", nil, nil},
		{"an issue gone", "parties: [{id: us}, {id: ua}]\nissues: [{id: elections}]", []string{"army-cap"}, nil},
		{"parties gone", "parties: [{id: fr}]\nissues: [{id: army-cap}, {id: elections}]", nil, []string{"ua", "us"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := events.ParseVocabulary([]byte(tc.vocab + "\ntypes: [{id: talks}, {id: correction}, {id: retraction}]\nstances: [{id: proposes}]\n"))
			if err != nil {
				t.Fatal(err)
			}
			var issues, parties []string
			l.store.View(context.Background(), func(tx projections.Tx) error {
				issues, parties = projections.Unnamed(tx, v)
				return nil
			})
			if !slices.Equal(issues, tc.issues) || !slices.Equal(parties, tc.parties) {
				t.Errorf("got issues %v parties %v, want %v %v", issues, parties, tc.issues, tc.parties)
			}
		})
	}
}

// TestDiffOrder: a diff's changes come in a state answer's order, issues
// in the vocabulary's order and those it lacks last, parties by id.
func TestDiffOrder(t *testing.T) {
	v, err := events.ParseVocabulary([]byte("parties: [{id: us}]\nissues: [{id: sanctions}, {id: army-cap}]\ntypes: [{id: correction}, {id: retraction}]\nstances: [{id: proposes}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := &projections.Diff{}
	for _, c := range [][2]string{{"army-cap", "ua"}, {"army-cap", "us"}, {"gone", "us"}, {"sanctions", "eu"}, {"sanctions", "us"}} {
		d.Changes = append(d.Changes, &projections.DiffEntry{Issue: c[0], Party: c[1]})
	}
	d.Order(v)
	var got []string
	for _, c := range d.Changes {
		got = append(got, c.Issue+"/"+c.Party)
	}
	want := []string{"sanctions/eu", "sanctions/us", "army-cap/ua", "army-cap/us", "gone/us"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestTimesAtTheEdges: event times with the widest offsets fall on their
// UTC day; times before 1970 and near the end of the accepted years keep
// their order (keys flip the sign bit of nanoseconds since 1970).
func TestTimesAtTheEdges(t *testing.T) {
	l := newLog(t)
	l.start = time.Date(2201, 1, 2, 0, 0, 0, 0, time.UTC) // after every event: none is ahead
	sa := func(id, when string, v int) events.Event {
		return ev(id, "statement", when, pos("eu", "sanctions", "demands", v))
	}
	l.add(
		sa("y1945", "1945-05-08", 1),
		sa("y1969", "1969-12-31T23:59:59.999999999Z", 2),
		sa("east", "2025-11-21T00:30+14:00", 3),  // 2025-11-20T10:30Z
		sa("west", "2025-11-20T23:30-12:00", 4),  // 2025-11-21T11:30Z
		sa("y2200", "2200-12-31T23:00-12:00", 5), // 2201-01-01T11:00Z
	)
	tests := []struct {
		at   time.Time
		want string
	}{
		{day("1945-05-07"), "-"},
		{day("1945-05-08"), "demands 1"},
		{day("1969-12-31"), "demands 2"},
		{events.MustTime("1969-12-31T23:59:59Z").End(), "demands 1"},
		{day("1970-01-01"), "demands 2"},
		{day("2025-11-20"), "demands 3"},
		{events.MustTime("2025-11-21T11:29Z").End(), "demands 3"},
		{day("2025-11-21"), "demands 4"},
		{day("2200-12-31"), "demands 4"},
		{time.Date(2201, 1, 1, 11, 0, 0, 0, time.UTC), "demands 5"},
		{time.Date(2201, 1, 1, 10, 59, 0, 0, time.UTC), "demands 4"},
		{time.Time{}, "demands 5"},
	}
	for _, tt := range tests {
		if got := cell(l.state(projections.StateQuery{At: tt.at}), "sanctions", "eu"); got != tt.want {
			t.Errorf("as of %s: %q, want %q", tt.at, got, tt.want)
		}
	}
}

// TestNewestFirst pages the timeline and a history newest first, two at a
// time, over a record with a correction that moves an event, one that
// changes a position, and a retraction: as known now and before them,
// with filters and ranges.
func TestNewestFirst(t *testing.T) {
	l := newLog(t)
	l.add(
		ev("cap", "leak", "2025-11-20", pos("us", "army-cap", "proposes", 600000)),
		ev("claim", "statement", "2025-11-21", pos("ru", "language", "demands", "official language")),
		ev("cap2", "statement", "2025-11-23", pos("us", "army-cap", "proposes", 700000)),
		ev("deadline", "deadline", "2025-11-28"),
	)
	before := projections.Knowledge{At: l.recordedAt(l.seq)}
	fix := ev("deadline-fix", "correction", "2025-11-26")
	fix.Corrects, fix.Amend = "deadline", &events.Amend{OccurredAt: ptr(events.MustTime("2025-11-22"))}
	capFix := ev("cap-fix", "correction", "2025-11-26")
	newPos := []events.Position{pos("us", "army-cap", "proposes", 650000)}
	capFix.Corrects, capFix.Amend = "cap", &events.Amend{Positions: &newPos}
	ret := ev("claim-retracted", "retraction", "2025-11-27")
	ret.Corrects = "claim"
	l.add(fix, capFix, ret)

	// Each page's events as id@date, with v1 for a corrected one and x for
	// a retracted one, pages apart.
	timeline := func(q projections.TimelineQuery) [][]string {
		var pages [][]string
		q.Desc, q.Limit = true, 2
		for range 10 {
			var p *projections.TimelinePage
			err := l.store.View(context.Background(), func(tx projections.Tx) error {
				var err error
				p, err = projections.QueryTimeline(tx, q)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var page []string
			for _, e := range p.Events {
				s := fmt.Sprintf("%s@%s", e.ID, e.OccurredAt)
				if e.Version > 0 {
					s += fmt.Sprintf(" v%d", e.Version)
				}
				if e.Retracted {
					s += " x"
				}
				page = append(page, s)
			}
			pages = append(pages, page)
			if q.Cursor = p.NextCursor; q.Cursor == "" {
				break
			}
		}
		return pages
	}
	for _, c := range []struct {
		name string
		q    projections.TimelineQuery
		want [][]string
	}{
		{"now", projections.TimelineQuery{}, [][]string{
			{"claim-retracted@2025-11-27", "cap-fix@2025-11-26"},
			{"deadline-fix@2025-11-26", "cap2@2025-11-23"},
			{"deadline@2025-11-22 v1", "claim@2025-11-21 x"},
			{"cap@2025-11-20 v1"},
		}},
		{"as known before the corrections", projections.TimelineQuery{Knowledge: before}, [][]string{
			{"deadline@2025-11-28", "cap2@2025-11-23"},
			{"claim@2025-11-21", "cap@2025-11-20"},
		}},
		{"to a day", projections.TimelineQuery{To: day("2025-11-23")}, [][]string{
			{"cap2@2025-11-23", "deadline@2025-11-22 v1"},
			{"claim@2025-11-21 x", "cap@2025-11-20 v1"},
		}},
		{"from a day to a day", projections.TimelineQuery{From: events.MustTime("2025-11-21").Time, To: day("2025-11-26")}, [][]string{
			{"cap-fix@2025-11-26", "deadline-fix@2025-11-26"},
			{"cap2@2025-11-23", "deadline@2025-11-22 v1"},
			{"claim@2025-11-21 x"},
		}},
		// The correction states the position it amends to.
		{"an issue", projections.TimelineQuery{Issue: "army-cap"}, [][]string{
			{"cap-fix@2025-11-26", "cap2@2025-11-23"},
			{"cap@2025-11-20 v1"},
		}},
		{"a party, as known before", projections.TimelineQuery{Party: "us", Knowledge: before}, [][]string{
			{"cap2@2025-11-23", "cap@2025-11-20"},
		}},
		{"a type", projections.TimelineQuery{Type: "correction"}, [][]string{
			{"cap-fix@2025-11-26", "deadline-fix@2025-11-26"},
		}},
	} {
		t.Run("timeline "+c.name, func(t *testing.T) {
			if got := timeline(c.q); !slices.EqualFunc(got, c.want, slices.Equal) {
				t.Errorf("pages newest first:\n got %q\nwant %q", got, c.want)
			}
		})
	}

	// The history newest first: each entry's position, and the party's
	// before it, as corrected when the correction is known.
	history := func(k projections.Knowledge) []string {
		var out []string
		q := projections.HistoryQuery{Issue: "army-cap", Knowledge: k, Desc: true, Limit: 1}
		for range 10 {
			var h *projections.History
			err := l.store.View(context.Background(), func(tx projections.Tx) error {
				var err error
				h, err = projections.QueryHistory(tx, q)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range h.Entries {
				b := "none"
				if e.Before != nil {
					b = e.Before.Value.String()
				}
				out = append(out, fmt.Sprintf("%s %s after %s changed=%v", e.Event, e.Value.String(), b, e.Changed))
			}
			if q.Cursor = h.NextCursor; q.Cursor == "" {
				break
			}
		}
		return out
	}
	for _, c := range []struct {
		name string
		k    projections.Knowledge
		want []string
	}{
		{"now", projections.Knowledge{}, []string{"cap2 700000 after 650000 changed=true", "cap 650000 after none changed=true"}},
		{"as known before", before, []string{"cap2 700000 after 600000 changed=true", "cap 600000 after none changed=true"}},
	} {
		t.Run("history "+c.name, func(t *testing.T) {
			if got := history(c.k); !slices.Equal(got, c.want) {
				t.Errorf("history newest first:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}
