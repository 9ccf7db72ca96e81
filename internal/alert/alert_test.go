package alert_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/projections"
)

func TestFilterMatch(t *testing.T) {
	dev := &projections.Development{Seq: 7, Type: "statement", Kinds: []string{"new_event", "position_change"},
		Parties: []string{"ru", "ua"}, Issues: []string{"army-cap"}}
	corr := &projections.Development{Seq: 8, Type: "correction", Kinds: []string{"correction", "timeline_revised"},
		Parties: []string{"us"}, Issues: []string{"sanctions"}}
	for _, c := range []struct {
		name string
		f    alert.Filter
		dev  *projections.Development
		want bool
	}{
		{"empty matches all", alert.Filter{}, dev, true},
		{"party", alert.Filter{Parties: []string{"ua"}}, dev, true},
		{"other party", alert.Filter{Parties: []string{"us"}}, dev, false},
		{"any of parties", alert.Filter{Parties: []string{"us", "ru"}}, dev, true},
		{"issue", alert.Filter{Issues: []string{"army-cap"}}, dev, true},
		{"other issue", alert.Filter{Issues: []string{"sanctions"}}, dev, false},
		{"type", alert.Filter{Types: []string{"statement"}}, dev, true},
		{"other type", alert.Filter{Types: []string{"proposal"}}, dev, false},
		{"change kind", alert.Filter{Changes: []string{"position_change"}}, dev, true},
		{"other kind", alert.Filter{Changes: []string{"retraction"}}, dev, false},
		{"all lists must match", alert.Filter{Parties: []string{"ru"}, Issues: []string{"sanctions"}}, dev, false},
		{"all lists match", alert.Filter{Parties: []string{"ru"}, Issues: []string{"army-cap"}, Types: []string{"statement"}, Changes: []string{"new_event"}}, dev, true},
		{"correction kind", alert.Filter{Changes: []string{"correction"}}, corr, true},
		{"revised timeline", alert.Filter{Changes: []string{"timeline_revised"}, Parties: []string{"us"}}, corr, true},
		{"no parties on development", alert.Filter{Parties: []string{"ru"}}, &projections.Development{Kinds: []string{"new_event"}}, false},
	} {
		if got := c.f.Match(c.dev); got != c.want {
			t.Errorf("%s: Match = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestFilterValidate(t *testing.T) {
	v := data.Vocabulary()
	for _, c := range []struct {
		f     alert.Filter
		field string
	}{
		{alert.Filter{}, ""},
		{alert.Filter{Parties: []string{"ru"}, Issues: []string{"army-cap"}, Types: []string{"statement"}, Changes: projections.Kinds}, ""},
		{alert.Filter{Parties: []string{"RU"}}, "filter.parties"},
		{alert.Filter{Issues: []string{"army cap"}}, "filter.issues"},
		{alert.Filter{Types: []string{"tweet"}}, "filter.types"},
		{alert.Filter{Changes: []string{"position-change"}}, "filter.changes"},
		{alert.Filter{Changes: make([]string, alert.MaxFilterValues+1)}, "filter.changes"},
	} {
		err := c.f.Validate(v)
		var fe *alert.FieldError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%+v: %v", c.f, err)
		case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field):
			t.Errorf("%+v: %v, want an error on %s", c.f, err, c.field)
		}
	}
	if err := (alert.Filter{Parties: []string{"anyone"}}).Validate(nil); err != nil {
		t.Errorf("without a vocabulary: %v", err)
	}
}

// TestKindsAreProjections: the values a filter accepts are exactly the
// projection's kinds, which subscribers' filters name: the list is pinned.
func TestKindsAreProjections(t *testing.T) {
	if want := []string{"new_event", "position_change", "correction", "retraction", "timeline_revised", "position_scheduled"}; !slices.Equal(projections.Kinds, want) {
		t.Errorf("kinds %v, want %v", projections.Kinds, want)
	}
	for _, k := range projections.Kinds {
		if err := (alert.Filter{Changes: []string{k}}).Validate(nil); err != nil {
			t.Errorf("%s refused: %v", k, err)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := alert.Backoff{Initial: 10 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.2}
	for _, c := range []struct {
		attempt uint64
		rnd     float64
		want    time.Duration
	}{
		{1, 0.5, 10 * time.Millisecond},
		{2, 0.5, 20 * time.Millisecond},
		{4, 0.5, 80 * time.Millisecond},
		{1, 0, 8 * time.Millisecond},
		{1, 0.999999, 12 * time.Millisecond},
		{20, 0.5, time.Second},
		{1000, 0.5, time.Second},
		{0, 0.5, 10 * time.Millisecond},
	} {
		got := b.Wait(c.attempt, func() float64 { return c.rnd })
		if d := got - c.want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("Wait(%d, %v) = %s, want %s", c.attempt, c.rnd, got, c.want)
		}
	}
	// The defaults reach the hour cap in under a day of attempts, and the
	// sum of waits passes 24 h within a bounded number of attempts.
	var total time.Duration
	n := uint64(0)
	for total < 24*time.Hour {
		n++
		total += alert.Backoff{}.Wait(n, func() float64 { return 0.5 })
	}
	if n > 40 {
		t.Errorf("%d attempts to cover 24 h", n)
	}
	for _, bad := range []alert.Backoff{{Initial: -1}, {Initial: time.Hour, Max: time.Minute}, {Multiplier: 0.5}, {Jitter: 1}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := alert.NewID()
		if !alert.ValidID(id) || seen[id] {
			t.Fatalf("id %q", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "sub_", "sub_abc", "sub_aaaaaaaaaaaaaaaaaaa.", "sub_AAAAAAAAAAAAAAAAAAAA", "xyz_aaaaaaaaaaaaaaaaaaaa", "sub_aaaaaaaaaa>aaaaaaaaa"} {
		if alert.ValidID(bad) {
			t.Errorf("%q valid", bad)
		}
	}
}

func TestPayloadShape(t *testing.T) {
	d := &projections.Development{Seq: 42, RecordedAt: time.Date(2025, 12, 1, 10, 0, 0, 0, time.UTC), Event: "e1", Type: "statement",
		Kinds: []string{"position_change"}, Changes: []projections.Change{{Issue: "army-cap", Party: "ru",
			Before: &projections.Position{Stance: "demands", Event: "e0"}, After: &projections.Position{Stance: "rejects", Event: "e1"}}}}
	b, err := json.Marshal(alert.NewPayload("sub_x", d, "Title"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"type":"parley.development"`, `"timestamp":"2025-12-01T10:00:00Z"`, `"subscription":"sub_x"`,
		`"title":"Title"`, `"seq":42`, `"kinds":["position_change"]`, `"before":{"stance":"demands"`, `"after":{"stance":"rejects"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("payload lacks %s: %s", want, b)
		}
	}
	if got := alert.MessageID("sub_x", 42); got != "msg_sub_x_42" {
		t.Errorf("MessageID = %q", got)
	}
}

// TestMessageIDIn: the same (subscription, seq) in another stream, or
// recorded at another time (a restored stream written on), is another
// webhook-id, and the same development the same one on every replica.
func TestMessageIDIn(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 5, time.UTC)
	base := alert.MessageIDIn("sub_x", 42, "PARLEY@A", at)
	if !strings.HasPrefix(base, "msg_sub_x_42_") || len(base) != len("msg_sub_x_42_")+12 {
		t.Errorf("MessageIDIn = %q", base)
	}
	for _, c := range []struct {
		name   string
		stream string
		at     time.Time
		same   bool
	}{
		{"the same development", "PARLEY@A", at.In(time.FixedZone("x", 3600)), true},
		{"another stream", "PARLEY@B", at, false},
		{"recorded at another time", "PARLEY@A", at.Add(time.Nanosecond), false},
	} {
		if got := alert.MessageIDIn("sub_x", 42, c.stream, c.at); (got == base) != c.same {
			t.Errorf("%s: %q beside %q", c.name, got, base)
		}
	}
}

// A subscription to Russia's position changes on the army cap hears about
// a new demand, not about a US statement.
func ExampleFilter_Match() {
	f := alert.Filter{Parties: []string{"ru"}, Issues: []string{"army-cap"}, Changes: []string{projections.KindPositionChange}}
	demand := &projections.Development{Type: "statement", Kinds: []string{"new_event", "position_change"},
		Parties: []string{"ru"}, Issues: []string{"army-cap"}}
	us := &projections.Development{Type: "statement", Kinds: []string{"new_event"},
		Parties: []string{"us"}, Issues: []string{"army-cap"}}
	fmt.Println(f.Match(demand), f.Match(us))
	// Output: true false
}
