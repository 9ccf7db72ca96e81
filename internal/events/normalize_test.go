package events_test

import (
	"strings"
	"testing"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
)

// Café and Zoë in the two forms an editor may save them in.
const (
	nfcText = "Caf\u00e9 Zo\u00eb"
	nfdText = "Cafe\u0301 Zoe\u0308"
)

// TestTextReadInNFC: every free text of an event read from outside input
// is kept in NFC, from JSON and YAML alike, so that the same words saved
// decomposed are the same event; compatibility forms stay as written.
func TestTextReadInNFC(t *testing.T) {
	ev := func(s string) string {
		return `{"id":"nfc","type":"statement","occurred_at":"2025-11-21","title":"` + s + `","summary":"` + s + `",` +
			`"people":["` + s + `"],"location":"` + s + `","sources":[{"outlet":"` + s + `","url":"https://example.org/` + s + `"}],` +
			`"positions":[{"party":"us","issue":"army-cap","stance":"proposes","value":"` + s + `","quote":"` + s + `"}]}`
	}
	corr := func(s string) string {
		return `{"id":"fix","type":"correction","occurred_at":"2025-11-22","title":"t","corrects":"nfc","sources":[{"outlet":"AP"}],` +
			`"amend":{"title":"` + s + `","people":["` + s + `"],"sources":[{"outlet":"` + s + `"}],"positions":[{"party":"us","issue":"army-cap","stance":"proposes","value":"` + s + `"}]}}`
	}
	yamlOf := func(s string) string {
		return "- id: nfc\n  type: statement\n  occurred_at: 2025-11-21\n  title: " + s + "\n  sources:\n    - outlet: " + s + "\n"
	}
	dec := events.Decoder{Vocabulary: data.Vocabulary()}
	tests := []struct {
		name   string
		in     string
		format events.Format
		want   string // the event's canonical JSON, as the stream stores it
	}{
		{"JSON decomposed", ev(nfdText), events.JSON, ""},
		{"JSON composed", ev(nfcText), events.JSON, ""},
		{"correction decomposed", corr(nfdText), events.JSON, ""},
		{"YAML decomposed", yamlOf(nfdText), events.YAML, ""},
		{"compatibility forms kept", ev("\uff35\uff33 \u00b2 \ufb01"), events.JSON, "\uff35\uff33 \u00b2 \ufb01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for rec := range dec.Decode("in", strings.NewReader(tt.in), tt.format) {
				if rec.Err != nil {
					t.Fatal(rec.Err)
				}
				got := string(rec.Event.Canonical())
				want := tt.want
				if want == "" {
					want = nfcText
				}
				if strings.Contains(got, "\u0301") || strings.Contains(got, "\u0308") || !strings.Contains(got, want) {
					t.Errorf("stored %s, want its text as %q", got, want)
				}
			}
		})
	}
}

// TestTitleLengthCountsComposed: a title at the limit in NFC is at the
// limit in NFD too, though it has more code points there.
func TestTitleLengthCountsComposed(t *testing.T) {
	dec := events.Decoder{Vocabulary: data.Vocabulary()}
	title := strings.Repeat("e\u0301", events.MaxTitle)
	for rec := range dec.Decode("in", strings.NewReader(with(`"Talks"`, `"`+title+`"`)), events.JSON) {
		if rec.Err != nil {
			t.Errorf("%d decomposed characters: %v", events.MaxTitle, rec.Err)
		}
	}
}

// TestSameDataInAnyForm: an event stored as it was sent, decomposed (before
// ingest normalized text, or by another writer), is the same event as its
// NFC form: a re-send is a duplicate, not a conflict.
func TestSameDataInAnyForm(t *testing.T) {
	env := func(title string) []byte {
		return events.Wrap(events.Event{ID: "a", Type: "statement", OccurredAt: events.MustTime("2025-11-21"), Title: title,
			Sources: []events.Source{{Outlet: "AP"}}}, "")
	}
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"same bytes", nfcText, nfcText, true},
		{"NFD stored, NFC sent", nfdText, nfcText, true},
		{"NFC stored, NFD sent", nfcText, nfdText, true},
		{"other text", nfcText, "Cafe Zoe", false},
		{"compatibility form is other text", "fi", "\ufb01", false},
	}
	for _, tt := range tests {
		if got := events.SameData(env(tt.a), env(tt.b)); got != tt.same {
			t.Errorf("%s: same = %v, want %v", tt.name, got, tt.same)
		}
	}
}
