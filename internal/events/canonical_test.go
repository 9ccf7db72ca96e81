package events_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/synth"
)

// TestDecodeCanonical reads back the canonical JSON of the encoder's cases
// and of the seed timeline: the same event encoding/json reads, or a
// refusal for the cases it leaves to encoding/json.
func TestDecodeCanonical(t *testing.T) {
	var cases []string
	for _, e := range canonicalCases() {
		if b, err := json.Marshal(e); err == nil {
			cases = append(cases, string(b))
		}
	}
	dec := events.Decoder{Vocabulary: data.Vocabulary()}
	fsys, names := data.Timeline()
	for _, name := range names {
		f, err := fsys.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		for rec := range dec.Decode(name, f, events.YAML) {
			cases = append(cases, string(rec.Event.Canonical()))
		}
		f.Close()
	}
	for _, in := range cases {
		// What encoding/json reads from it writes it again, but an amend,
		// which decodeCanonical leaves to encoding/json.
		var e events.Event
		take := json.Unmarshal([]byte(in), &e) == nil && e.Amend == nil && string(e.Canonical()) == in
		got, ok := events.DecodeCanonical([]byte(in))
		if ok != take {
			t.Errorf("took it: %v, want %v\n%s", ok, take, in)
		}
		if ok {
			sameAsEncodingJSON(t, in, got)
		}
	}
	for _, in := range []string{
		`{"id":"a","type":"talks","occurred_at":"2025-11-23","title":"t","sources":null}`,
		`{"id":"a","type":"talks","occurred_at":"2025-11-23T00:00:00Z","title":"t","sources":null}`,
		`{"id":"a","type":"talks","occurred_at":"2025-11-23","title":"\u003c\"\\\n","sources":[]}`,
	} {
		if _, ok := events.DecodeCanonical([]byte(in)); !ok {
			t.Errorf("refused %s", in)
		}
	}
	// Valid JSON for encoding/json, but not as the encoder writes it.
	for _, in := range []string{
		`{"id":"a","type":"talks","occurred_at":"2025-11-23","title":"t","sources":null} `,
		`{"id":"a", "type":"talks","occurred_at":"2025-11-23","title":"t","sources":null}`,
		`{"type":"talks","id":"a","occurred_at":"2025-11-23","title":"t","sources":null}`,
		`{"ID":"a","type":"talks","occurred_at":"2025-11-23","title":"t","sources":null}`,
		`{"id":"a","type":"talks","occurred_at":"2025-11-23","title":"t","actors":[],"sources":null}`,
		`{"id":"a","type":"talks","occurred_at":"2025-11-23","title":"t","sources":[],"positions":[]}`,
		`{"id":"\u0061","type":"talks","occurred_at":"2025-11-23","title":"t","sources":null}`,
		`{"id":"a","type":"talks","occurred_at":"2025-11-23","title":"t","sources":[{"outlet":"x","url":""}]}`,
		`{"id":"a","type":"talks","occurred_at":"2025-11-23","title":"t","sources":null,"positions":[{"party":"p","issue":"i","stance":"s","value":1e3}]}`,
		`{"id":"a","type":"talks","occurred_at":"2025-11-23","title":"t","sources":null,"positions":[{"party":"p","issue":"i","stance":"s","value":null}]}`,
		`{"id":"a","type":"talks","occurred_at":"2025-11-23","title":"t	","sources":null}`,
		`{"id":"a","type":"talks","occurred_at":"2025-11-23","title":"` + "\xff" + `","sources":null}`,
		`{"id":"a","type":"talks","occurred_at":"2025-11-23","title":"t","sources":null,"extra":1}`,
		`{"id":"a","type":"talks","occurred_at":"2025-11-23","title":"t","sources":[{"outlet":"x"},]}`,
	} {
		if _, ok := events.DecodeCanonical([]byte(in)); ok {
			t.Errorf("took %s", in)
		}
	}
}

func sameAsEncodingJSON(t *testing.T, in string, got events.Event) {
	t.Helper()
	var want events.Event
	if err := json.Unmarshal([]byte(in), &want); err != nil {
		t.Fatalf("took what encoding/json refuses (%v):\n%s", err, in)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read\n%#v\nencoding/json read\n%#v\nfrom %s", got, want, in)
	}
}

// FuzzDecodeCanonical holds decodeCanonical to encoding/json: whatever it
// takes, encoding/json reads as the same event.
func FuzzDecodeCanonical(f *testing.F) {
	for _, e := range canonicalCases() {
		if b, err := json.Marshal(e); err == nil {
			f.Add(string(b))
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		if got, ok := events.DecodeCanonical([]byte(in)); ok {
			sameAsEncodingJSON(t, in, got)
		}
	})
}

// BenchmarkDecode reads a synthetic 1 KiB event, as a rebuild reads most,
// and the encoder's case with every escape.
func BenchmarkDecode(b *testing.B) {
	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 1}
	for name, e := range map[string]events.Event{"synthetic": g.Next(), "escapes": canonicalCases()["full"]} {
		in := e.Canonical()
		b.Run(name+"/canonical", func(b *testing.B) {
			for b.Loop() {
				if _, ok := events.DecodeCanonical(in); !ok {
					b.Fatal("refused")
				}
			}
		})
		b.Run(name+"/encoding-json", func(b *testing.B) {
			for b.Loop() {
				var e events.Event
				if err := json.Unmarshal(in, &e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestNegativeZeroIsZero: -0 and 0 are one value, and one canonical form,
// so that sending the same event with either is a duplicate, not a
// conflict.
func TestNegativeZeroIsZero(t *testing.T) {
	var a, b events.Value
	if err := a.UnmarshalJSON([]byte("-0")); err != nil {
		t.Fatal(err)
	}
	if err := b.UnmarshalJSON([]byte("0")); err != nil {
		t.Fatal(err)
	}
	ja, _ := a.MarshalJSON()
	jb, _ := b.MarshalJSON()
	if !a.Equal(b) || string(ja) != string(jb) {
		t.Errorf("-0 is %s, 0 is %s", ja, jb)
	}
}

// TestLowerCaseTimes: RFC 3339 allows a lower-case t and z, and a space
// for the T, read as the capitals and shown back with them; YAML's space
// before the offset is read as none.
func TestLowerCaseTimes(t *testing.T) {
	for in, want := range map[string]string{
		"2025-11-20 10:00:00 +14:00": "2025-11-20T10:00:00+14:00",
		"2025-11-20T10:00 -05:00":    "2025-11-20T10:00-05:00",
		"2025-11-20 10:00:00 Z":      "2025-11-20T10:00:00Z",
		"2025-11-20t14:30:05z":       "2025-11-20T14:30:05Z",
		"2025-11-20t14:30z":          "2025-11-20T14:30Z",
		"2025-11-20t14:30:05+01:00":  "2025-11-20T14:30:05+01:00",
		"2025-11-20 14:30:05Z":       "2025-11-20T14:30:05Z",
		"2025-11-20 14:30+01:00":     "2025-11-20T14:30+01:00",
		"2025-11-20 14:30:05.5z":     "2025-11-20T14:30:05.5Z",
	} {
		got, err := events.ParseTime(in)
		if err != nil || got.String() != want {
			t.Errorf("%s: %v %v, want %s", in, got, err, want)
		}
	}
}
