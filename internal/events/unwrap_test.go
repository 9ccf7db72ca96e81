package events

import (
	"bytes"
	"slices"
	"testing"
)

// unwrapCases are envelopes the fast path must take or leave to the
// reference: what Wrap writes, and the spellings encoding/json reads
// differently from a byte scan (case, escapes, repeated members), each
// beside a member spelled exactly "data", so that a fast path without its
// guards would take them and differ from the reference.
func unwrapCases() []struct {
	in   string
	fast bool
} {
	e := Event{ID: "geneva-talks", Type: "meeting", OccurredAt: MustTime("2025-11-23"), Title: "Talks in \"Geneva\"",
		Sources: []Source{{Outlet: "Reuters", URL: "https://example.com/a?b=c&d"}}}
	data := string(e.Canonical())
	other := `{"id":"geneva-talks","title":"x"}`
	return []struct {
		in   string
		fast bool
	}{
		{string(Wrap(e, "")), true},
		{`{"specversion":"1.0","id":"geneva-talks","data":` + data + `}`, true},
		{` { "specversion" : "1.0" , "id" : "geneva-talks" , "data" : ` + data + ` } `, true},
		{`{"specversion":"1.0","id":"geneva-talks","data":` + data + `,"extra":[1,"]",{"a":"}"}],"n":-1.5e3,"t":true,"z":null}`, true},
		{`{"specversion":"1.0","id":"geneva-talks","data":` + data + `,"Data":` + other + `}`, false},
		{`{"specversion":"1.0","id":"geneva-talks","data":` + data + `,"d\u0061ta":` + other + `}`, false},
		{`{"specversion":"1.0","id":"geneva-talks","data":` + data + `,"data":` + other + `}`, false},
		{`{"specversion":"1.0","id":"geneva-talks","data":` + data, false},
		{`{"specversion":"1.0","id":"other","data":` + data + `}`, false},
		{`{"specversion":"0.3","id":"geneva-talks","data":` + data + `}`, false},
		{`[` + data + `]`, false},
	}
}

func TestUnwrapFastTakesWhatItMay(t *testing.T) {
	for i, c := range unwrapCases() {
		if _, _, _, ok := unwrapFast([]byte(c.in)); ok != c.fast {
			t.Errorf("case %d: fast path took it: %v, want %v\n%s", i, ok, c.fast, c.in)
		}
	}
}

// FuzzUnwrap holds the one-pass decoding to the two-pass reference:
// whatever the fast path accepts, the reference accepts with the same
// event and the same bytes.
func FuzzUnwrap(f *testing.F) {
	for _, c := range unwrapCases() {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e, data, canonical, ok := unwrapFast([]byte(in))
		if !ok {
			return
		}
		want, wantData, err := unwrapSlow([]byte(in))
		if err != nil {
			t.Fatalf("fast path accepted what the reference refuses (%v):\n%s", err, in)
		}
		if !bytes.Equal(data, wantData) {
			t.Fatalf("event bytes differ:\n got %s\nwant %s", data, wantData)
		}
		if !bytes.Equal(e.Canonical(), want.Canonical()) {
			t.Fatalf("events differ:\n got %s\nwant %s", e.Canonical(), want.Canonical())
		}
		if canonical != want.IsCanonical(wantData) {
			t.Fatalf("told canonical %v, IsCanonical says otherwise:\n%s", canonical, wantData)
		}
	})
}

// TestRecordedTimesReadAsRecorded: a time an earlier version let in (an
// offset of +24:00, a comma before the fraction) is refused in new input
// but still reads from the stream as it was recorded: a rebuild must not
// drop the event.
func TestRecordedTimesReadAsRecorded(t *testing.T) {
	for _, occ := range []string{"2025-11-23T10:00:00+24:00", "2025-11-23T10:00:00,5Z", "2025-11-23T10:00-00:60"} {
		raw := []byte(`{"specversion":"1.0","id":"old","source":"parley","type":"parley.event","data":{"id":"old","type":"meeting","occurred_at":"` + occ + `","title":"Old","sources":[{"outlet":"AP"}]}}`)
		e, err := Unwrap(raw)
		if err != nil {
			t.Errorf("%s: %v", occ, err)
			continue
		}
		if e.OccurredAt.Time.IsZero() {
			t.Errorf("%s read as no time", occ)
		}
		if fes := (&Vocabulary{}).Validate(&e); !slices.ContainsFunc(fes, func(f FieldError) bool { return f.Field == "occurred_at" }) {
			t.Errorf("%s: new input with it validates: %v", occ, fes)
		}
	}
}
