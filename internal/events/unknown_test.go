package events_test

import (
	"strings"
	"testing"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
)

// TestUnknownFieldHidesNoOtherMistake: a record with an unknown field is
// still checked for everything else, and its error names every mistake
// at once, each with its field and line, so that a sender fixes them in
// one round. A key spelt as a field in another case ("Title") is not
// taken for the field. Only a problem that leaves the record unreadable
// (a key given twice) stops the check there.
func TestUnknownFieldHidesNoOtherMistake(t *testing.T) {
	dec := events.Decoder{Vocabulary: data.Vocabulary()}
	for _, c := range []struct {
		name, input string
		format      events.Format
		want        string
	}{
		{"yaml", `- id: geneva
  titel: Talks in Geneva
  type: statment
  occurred_at: 2025-11-31
  actors: [us, xx]
  sources: [{outlet: AP}]
`, events.YAML, `in:2: record 1 (id geneva): titel: unknown field; type "statment" (line 3): not in the vocabulary; occurred_at "2025-11-31" (line 4): not a date or time (want 2006-01-02, 2006-01-02T15:04Z or RFC 3339); title (line 1): required; actors[1] "xx" (line 5): not in the vocabulary`},
		{"yaml, nested", `- id: geneva
  type: talks
  occurred_at: 2025-11-23T25:00Z
  title: Talks
  sources:
    - outlett: AP
      url: ftp://ap.example/
`, events.YAML, `in:6: record 1 (id geneva): sources[0].outlett: unknown field; occurred_at "2025-11-23T25:00Z" (line 3): not a date or time (want 2006-01-02, 2006-01-02T15:04Z or RFC 3339); sources[0].outlet: required; sources[0].url "ftp://ap.example/" (line 7): not an absolute http or https URL`},
		{"json", `{
  "id": "geneva",
  "Title": "Talks in Geneva",
  "type": "statment",
  "occurred_at": "2025-11-23",
  "sources": [{"outlet": "AP"}],
  "positions": [{"party": "us", "issue": "army-cap", "stance": "proposes", "colour": "red"}]
}`, events.JSON, `in:3: record 1 (id geneva): Title: unknown field; positions[0].colour (line 7): unknown field; type "statment" (line 4): not in the vocabulary; title: required`},
		{"ndjson", `{"id":"ok","type":"talks","occurred_at":"2025-11-23","title":"Talks","sources":[{"outlet":"AP"}]}
{"id":"geneva","type":"statment","occurred_at":"2025-11-23","title":"Talks","actors":["xx"],"sources":[{"outlet":"AP"}],"\u0074itel":"x"}
`, events.NDJSON, `in:2: record 2 (id geneva): titel: unknown field; type "statment": not in the vocabulary; actors[0] "xx": not in the vocabulary`},
		{"a type error after it", `{"id":"geneva","titel":"x","type":"talks","occurred_at":"2025-11-23","title":5,"sources":[{"outlet":"AP"}]}`,
			events.JSON, `in:1: record 1 (id geneva): titel: unknown field; title "number": want a string`},
		{"a lone surrogate beside it", `{"id":"geneva","titel":"x","type":"talks","occurred_at":"2025-11-23","title":"T\ud800","sources":[{"outlet":"AP"}]}`,
			events.JSON, `in:1: record 1 (id geneva): titel: unknown field; \ud800 at byte 79: half of a UTF-16 surrogate pair, not a character`},
		{"a key given twice after it", `{"id":"geneva","titel":"x","type":"statment","type":"talks","occurred_at":"2025-11-23","title":"T","sources":[{"outlet":"AP"}]}`,
			events.JSON, `in:1: record 1 (id geneva): titel: unknown field; type: key given twice`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for rec := range dec.Decode("in", strings.NewReader(c.input), c.format) {
				if rec.Err != nil {
					got = append(got, rec.Err.Error())
				}
			}
			if len(got) != 1 || got[0] != c.want {
				t.Errorf("errors\n got %q\nwant %q", got, c.want)
			}
		})
	}
}
