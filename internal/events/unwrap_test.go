package events

import (
	"bytes"
	"testing"
)

// unwrapSeeds are envelopes the fast path must take or leave to the
// reference: what Wrap writes, and the spellings encoding/json reads
// differently from a byte scan (case, escapes, repeated members).
func unwrapSeeds() []string {
	e := Event{ID: "geneva-talks", Type: "meeting", OccurredAt: MustTime("2025-11-23"), Title: "Talks in \"Geneva\"",
		Sources: []Source{{Outlet: "Reuters", URL: "https://example.com/a?b=c&d"}}}
	w := string(Wrap(e, ""))
	data := string(e.Canonical())
	return []string{
		w,
		`{"specversion":"1.0","id":"geneva-talks","data":` + data + `}`,
		` { "specversion" : "1.0" , "id" : "geneva-talks" , "data" : ` + data + ` } `,
		`{"specversion":"1.0","id":"geneva-talks","Data":` + data + `}`,
		`{"specversion":"1.0","id":"geneva-talks","d\u0061ta":` + data + `}`,
		`{"specversion":"1.0","id":"geneva-talks","data":` + data + `,"data":{"id":"geneva-talks","title":"x"}}`,
		`{"specversion":"1.0","id":"geneva-talks","data":` + data + `,"extra":[1,"]",{"a":"}"}],"n":-1.5e3,"t":true,"z":null}`,
		`{"specversion":"1.0","id":"geneva-talks","data":` + data,
		`{"specversion":"1.0","id":"other","data":` + data + `}`,
		`[` + data + `]`,
	}
}

func TestUnwrapFastTakesWhatWrapWrites(t *testing.T) {
	e := Event{ID: "a", Type: "statement", OccurredAt: MustTime("2025-11-23T10:30+02:00")}
	if _, _, ok := unwrapFast(Wrap(e, "")); !ok {
		t.Fatal("the fast path left an envelope Wrap wrote to the slow one")
	}
}

// FuzzUnwrap holds the one-pass decoding to the two-pass reference:
// whatever the fast path accepts, the reference accepts with the same
// event and the same bytes.
func FuzzUnwrap(f *testing.F) {
	for _, s := range unwrapSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e, data, ok := unwrapFast([]byte(in))
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
	})
}
