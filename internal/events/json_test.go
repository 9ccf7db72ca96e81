package events_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/synth"
)

// canonicalCases are events whose every field encoding/json treats in a
// way of its own: omitted when empty, null when nil, escaped, formatted by
// precision, or left to encoding/json (amend, a number JSON cannot hold).
func canonicalCases() map[string]events.Event {
	at := events.Time{Time: time.Date(2025, 11, 23, 14, 30, 5, 120, time.UTC), Precision: events.Second}
	day := events.Time{Time: time.Date(2025, 11, 23, 0, 0, 0, 0, time.UTC), Precision: events.Day}
	kyiv := time.FixedZone("", 2*3600)
	minute := events.Time{Time: time.Date(2025, 11, 23, 14, 30, 0, 0, kyiv), Precision: events.Minute}
	title := "Talks"
	full := events.Event{ID: "geneva-talks", Type: "talks", OccurredAt: at, Title: "Geneva <talks> & \"more\"",
		Summary: "Ukraine’s delegation — “28 points”", Actors: []string{"us", "ua"}, People: []string{"Rubio"},
		Location: "Genève", Sources: []events.Source{{Outlet: "AP", URL: "https://apnews.com/a?b=1&c=2", PublishedAt: &day}, {Outlet: "BBC"}},
		Positions: []events.Position{
			{Party: "us", Issue: "army-cap", Stance: "proposes", Value: events.Number(600000), Quote: "a\tb\u2028c"},
			{Party: "ua", Issue: "army-cap", Stance: "rejects", Value: events.Text("800k")},
			{Party: "ru", Issue: "nato", Stance: "demands", Value: events.Number(-0.125)},
			{Party: "eu", Issue: "nato", Stance: "silent"},
		},
		Corrects: "leak"}
	return map[string]events.Event{
		"zero":             {},
		"full":             full,
		"empty lists":      {ID: "a", Type: "talks", OccurredAt: day, Title: "t", Actors: []string{}, People: []string{}, Sources: []events.Source{}, Positions: []events.Position{}},
		"minute":           {ID: "a", Type: "talks", OccurredAt: minute, Title: "t", Sources: []events.Source{{Outlet: "x"}}},
		"invalid utf-8":    {ID: "a\xff", Type: "talks", OccurredAt: at, Title: "\xc3(", Sources: []events.Source{{Outlet: "\x00"}}},
		"large number":     {ID: "a", OccurredAt: day, Positions: []events.Position{{Party: "p", Issue: "i", Value: events.Number(1e300)}}},
		"not a number":     {ID: "a", OccurredAt: day, Positions: []events.Position{{Party: "p", Issue: "i", Value: events.Number(math.Inf(1))}}},
		"year out of json": {ID: "a", OccurredAt: events.Time{Time: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC), Precision: events.Second}},
		"amend":            {ID: "c", Type: "correction", OccurredAt: day, Title: "t", Corrects: "a", Amend: &events.Amend{Title: &title, OccurredAt: &minute}},
	}
}

// TestCanonicalIsEncodingJSON holds the hand-written encoder to
// encoding/json's bytes.
func TestCanonicalIsEncodingJSON(t *testing.T) {
	for name, e := range canonicalCases() {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(e)
			if err != nil {
				// encoding/json refuses it, and Canonical must say so the
				// same way: by panicking, a bug of the caller's.
				defer func() {
					if recover() == nil {
						t.Errorf("encoding/json refuses the event (%v); Canonical did not panic", err)
					}
				}()
			}
			got := e.Canonical()
			if string(got) != string(want) {
				t.Fatalf("Canonical:\n%s\nencoding/json:\n%s", got, want)
			}
			if !e.IsCanonical(want) || e.IsCanonical(append(want, ' ')) {
				t.Error("IsCanonical disagrees with Canonical")
			}
			if pre := e.AppendCanonical([]byte("x")); string(pre) != "x"+string(want) {
				t.Errorf("AppendCanonical kept the prefix badly: %s", pre)
			}
		})
	}
}

// FuzzCanonical checks the hand-written encoder against encoding/json on
// events decoded from arbitrary JSON, the way a projector meets them.
func FuzzCanonical(f *testing.F) {
	for _, e := range canonicalCases() {
		if b, err := json.Marshal(e); err == nil {
			f.Add(string(b))
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		var e events.Event
		if json.Unmarshal([]byte(in), &e) != nil {
			return
		}
		want, err := json.Marshal(e)
		if err != nil {
			return
		}
		if got := e.Canonical(); string(got) != string(want) {
			t.Fatalf("Canonical:\n%s\nencoding/json:\n%s", got, want)
		}
	})
}

// BenchmarkCanonical writes a synthetic 1 KiB event, plain text as most
// are, and the case with every escape.
func BenchmarkCanonical(b *testing.B) {
	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 1}
	for name, e := range map[string]events.Event{"synthetic": g.Next(), "escapes": canonicalCases()["full"]} {
		var buf []byte
		b.Run(name+"/hand", func(b *testing.B) {
			for b.Loop() {
				buf = e.AppendCanonical(buf[:0])
			}
		})
		b.Run(name+"/encoding-json", func(b *testing.B) {
			for b.Loop() {
				buf, _ = json.Marshal(e)
			}
		})
	}
}

// FuzzJSONString holds AppendJSONString and JSONPlain to encoding/json on
// any bytes, valid UTF-8 or not.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "<a href=\"x\">&amp;</a>", "tab\there\nnew\x00\x1f\x7f", "Genève “28”", "\u2028\u2029", "\xff\xc3(\xe2\x82", "\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := events.AppendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s, encoding/json %s", s, got, want)
		}
		if got := events.AppendJSONString(nil, []byte(s)); string(got) != string(want) {
			t.Fatalf("%q as bytes: got %s, encoding/json %s", s, got, want)
		}
		if plain := string(want) == `"`+s+`"`; events.JSONPlain(s) != plain || events.JSONPlain([]byte(s)) != plain {
			t.Fatalf("%q: JSONPlain %v, encoding/json copies it as it is: %v", s, events.JSONPlain(s), plain)
		}
	})
}
