package events_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
)

// fuzzDecode feeds arbitrary input to the decoder in one format: it must
// never panic, and every record it accepts must be valid and survive the
// trip through the stream's envelope unchanged.
func fuzzDecode(f *testing.F, format events.Format, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	for _, m := range malformed {
		if m.format == format && len(m.input) < 4096 {
			f.Add(m.input)
		}
	}
	dec := events.Decoder{Vocabulary: data.Vocabulary()}
	f.Fuzz(func(t *testing.T, in string) {
		for rec := range dec.Decode("fuzz", strings.NewReader(in), format) {
			if rec.Err != nil {
				if rec.Err.Error() == "" {
					t.Fatal("empty error")
				}
				continue
			}
			e := rec.Event
			if errs := dec.Vocabulary.Validate(&e); errs != nil {
				t.Fatalf("accepted an invalid event: %v", errs)
			}
			back, err := events.Unwrap(events.Wrap(e, ""))
			if err != nil {
				t.Fatalf("envelope round trip: %v", err)
			}
			if !bytes.Equal(back.Canonical(), e.Canonical()) {
				t.Fatalf("round trip changed the event:\n%s\n%s", e.Canonical(), back.Canonical())
			}
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	fuzzDecode(f, events.JSON, good, "["+good+","+good+"]",
		`{"id":"c","type":"correction","occurred_at":"2025-11-24T10:00:00+02:00","title":"t","sources":[{"outlet":"x"}],"corrects":"a","amend":{"positions":[{"party":"us","issue":"army-cap","stance":"proposes","value":1.5e5}]}}`)
}

func FuzzDecodeNDJSON(f *testing.F) {
	fuzzDecode(f, events.NDJSON, good+"\n"+good+"\n", good+"\n{\n"+good)
}

func FuzzDecodeYAML(f *testing.F) {
	fuzzDecode(f, events.YAML, "- id: a\n  type: talks\n  occurred_at: 2025-11-23\n  title: T\n  sources: [{outlet: AP}]\n  positions:\n    - {party: us, issue: army-cap, stance: proposes, value: 600000}\n",
		"id: a\ntype: talks\noccurred_at: 2025-11-23T10:00Z\ntitle: T\nsources: [{outlet: AP}]\n---\nid: b\n")
}

// FuzzParseTime checks that a time that parses shows back as text that
// parses to the same instant and precision.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2025-11-20", "2025-11-20T14:30Z", "2025-11-20T14:30:05.123+01:00", "1900-01-01", "2200-12-31T23:59:59Z", "2025-02-30", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := events.ParseTime(s)
		if err != nil {
			return
		}
		back, err := events.ParseTime(tm.String())
		if err != nil || !back.Time.Equal(tm.Time) || back.Precision != tm.Precision {
			t.Fatalf("%q -> %q -> %v %v", s, tm.String(), back, err)
		}
	})
}
