package events_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
)

const good = `{"id":"ok","type":"talks","occurred_at":"2025-11-23","title":"Talks","sources":[{"outlet":"AP"}]}`

// yamlRest is the rest of a good YAML event after its id and any field
// under test: an error of such a field is its only one.
const yamlRest = "  type: talks\n  occurred_at: 2025-11-23\n  title: Talks\n  sources: [{outlet: AP}]\n"

// with replaces the first occurrence of old in the good event.
func with(old, new string) string { return strings.Replace(good, old, new, 1) }

// malformed are inputs users send by mistake or on purpose, each with the
// exact error they are shown. None may crash the decoder or yield an event.
var malformed = []struct {
	name, input string
	format      events.Format
	want        string
}{
	{"empty", ``, events.JSON, `in:1: record 1: empty input: want a JSON object or array of objects`},
	{"empty array", `[ ]`, events.JSON, `in:1: record 1: empty input: no events in it`},
	// A YAML body or .json file sent as JSON is told where YAML goes.
	{"YAML declared JSON", "id: ok\ntitle: Talks\n", events.AnyJSON, `in:1: record 1: invalid JSON: invalid character 'i' looking for beginning of value (read as JSON, it starts with neither "{" nor "[": YAML goes in a .yaml file or an application/yaml body)`},
	{"empty declared JSON", "\n", events.AnyJSON, `in:1: record 1: empty input: want a JSON object or array of objects`},
	{"YAML list declared JSON", "- id: ok\n  title: Talks\n", events.AnyJSON, `in:1: record 1: invalid JSON: invalid character ' ' in numeric literal (read as JSON, it starts with neither "{" nor "[": YAML goes in a .yaml file or an application/yaml body)`},
	{"empty YAML", ``, events.YAML, `in:1: record 1: empty input: no events in it`},
	{"YAML of comments", "# nothing yet\n---\n", events.YAML, `in:1: record 1: empty input: no events in it`},
	{"blank NDJSON", "\n\n", events.NDJSON, `in:1: record 1: empty input: no events in it`},
	{"truncated object", `{"id":"ok","type":"talks"`, events.JSON, `in:1: record 1: truncated JSON`},
	{"truncated string", `{"id":"ok`, events.JSON, `in:1: record 1: truncated JSON`},
	{"not an object", `"just a string"`, events.JSON, `in:1: record 1: want a JSON object`},
	{"number", `42`, events.JSON, `in:1: record 1: want a JSON object`},
	{"trailing garbage", good + ` xyz`, events.JSON, `in:1: record 1: invalid JSON: invalid character 'x' looking for beginning of value`},
	{"two objects", good + good, events.JSON, `in:1: record 1 (id ok): more than one JSON value (use NDJSON, one object a line)`},
	{"lines ended by CR alone", good + "\r" + good + "\r", events.NDJSON, `in:1: record 1 (id ok): more than one JSON value, separated by a carriage return (CR) alone: end each line with LF or CRLF`},
	// The good record before the garbage is still valid.
	{"array with garbage", `[` + good + `, nope]`, events.JSON, `in:1: record 2: invalid JSON: invalid character 'o' in literal null (expecting 'u'); nothing after it was read`},
	{"array with garbage on line 3", "[\n" + good + ",\n nope]", events.JSON, `in:3: record 2: invalid JSON: invalid character 'o' in literal null (expecting 'u'); nothing after it was read`},
	{"truncated array", "[\n" + good + ",\n" + `{"id":"ok"`, events.JSON, `in:3: record 2: truncated JSON`},
	{"title is a number", with(`"Talks"`, `5`), events.JSON, `in:1: record 1 (id ok): title "number": want a string`},
	{"sources not a list", with(`[{"outlet":"AP"}]`, `{"outlet":"AP"}`), events.JSON, `in:1: record 1 (id ok): sources "object": want a list`},
	{"actors list of numbers", with(`"title"`, `"actors":[1],"title"`), events.JSON, `in:1: record 1 (id ok): actors "number": want a string`},
	{"unknown field", with(`"title"`, `"titel":"x","title"`), events.JSON, `in:1: record 1 (id ok): titel: unknown field`},
	{"duplicate key", with(`"title"`, `"id":"again","title"`), events.JSON, `in:1: record 1: id: key given twice`},
	{"duplicate nested key", with(`{"outlet":"AP"}`, `{"outlet":"AP","outlet":"BBC"}`), events.JSON, `in:1: record 1 (id ok): sources[0].outlet: key given twice`},
	{"deep nesting", with(`"title"`, `"amend":`+strings.Repeat(`[`, 40)+strings.Repeat(`]`, 40)+`,"title"`), events.JSON, `in:1: record 1 (id ok): nested deeper than 16 levels`},
	{"invalid UTF-8", with(`Talks`, "Talk\xff"), events.JSON, `in:1: record 1: invalid UTF-8 at byte 66`},
	{"NUL byte raw", with(`Talks`, "Ta\x00lks"), events.JSON, `in:1: record 1: invalid JSON: invalid character '\x00' in string literal`},
	{"NUL byte escaped", with(`Talks`, `Ta\u0000lks`), events.JSON, `in:1: record 1 (id ok): title "Ta\x00lks": control character U+0000`},
	{"missing id", with(`"id":"ok",`, ``), events.JSON, `in:1: record 1: id: required`},
	{"id with path characters", with(`"ok"`, `"../../etc/passwd"`), events.JSON, `in:1: record 1: id "../../etc/passwd": not an id: want a lower-case slug [a-z0-9][a-z0-9._-]{0,127}, without two dots in a row or a dot at the end`},
	{"id with slash", with(`"ok"`, `"a/b"`), events.JSON, `in:1: record 1: id "a/b": not an id: want a lower-case slug [a-z0-9][a-z0-9._-]{0,127}, without two dots in a row or a dot at the end`},
	{"id upper case", with(`"ok"`, `"OK"`), events.JSON, `in:1: record 1: id "OK": not an id: want a lower-case slug [a-z0-9][a-z0-9._-]{0,127}, without two dots in a row or a dot at the end`},
	{"id too long", with(`"ok"`, `"`+strings.Repeat("a", 129)+`"`), events.JSON, `in:1: record 1: id "` + strings.Repeat("a", 64) + `… (129 characters)": not an id: want a lower-case slug [a-z0-9][a-z0-9._-]{0,127}, without two dots in a row or a dot at the end`},
	{"id with NATS wildcard", with(`"ok"`, `"a.>"`), events.JSON, `in:1: record 1: id "a.>": not an id: want a lower-case slug [a-z0-9][a-z0-9._-]{0,127}, without two dots in a row or a dot at the end`},
	// Two dots in a row or a dot at the end would make an empty token of the
	// event's subject, which the stream could never acknowledge.
	{"id with two dots in a row", with(`"ok"`, `"geneva..talks"`), events.JSON, `in:1: record 1: id "geneva..talks": not an id: want a lower-case slug [a-z0-9][a-z0-9._-]{0,127}, without two dots in a row or a dot at the end`},
	{"id ending in a dot", with(`"ok"`, `"geneva-talks."`), events.JSON, `in:1: record 1: id "geneva-talks.": not an id: want a lower-case slug [a-z0-9][a-z0-9._-]{0,127}, without two dots in a row or a dot at the end`},
	{"unknown type", with(`"talks"`, `"invasion"`), events.JSON, `in:1: record 1 (id ok): type "invasion": not in the vocabulary`},
	{"missing occurred_at", with(`"occurred_at":"2025-11-23",`, ``), events.JSON, `in:1: record 1 (id ok): occurred_at: required`},
	{"occurred_at a number", with(`"2025-11-23"`, `20251123`), events.JSON, `in:1: record 1 (id ok): occurred_at "20251123": want a date or time in a string`},
	{"month 13", with(`2025-11-23`, `2025-13-01`), events.JSON, `in:1: record 1 (id ok): occurred_at "2025-13-01": not a date or time (want 2006-01-02, 2006-01-02T15:04Z or RFC 3339)`},
	{"february 30", with(`2025-11-23`, `2025-02-30`), events.JSON, `in:1: record 1 (id ok): occurred_at "2025-02-30": not a date or time (want 2006-01-02, 2006-01-02T15:04Z or RFC 3339)`},
	{"year 0001", with(`2025-11-23`, `0001-01-01`), events.JSON, `in:1: record 1 (id ok): occurred_at "0001-01-01": year 1 out of range 1900-2200`},
	{"year 9999", with(`2025-11-23`, `9999-12-31T23:59:59Z`), events.JSON, `in:1: record 1 (id ok): occurred_at "9999-12-31T23:59:59Z": year 9999 out of range 1900-2200`},
	{"US date", with(`2025-11-23`, `11/23/2025`), events.JSON, `in:1: record 1 (id ok): occurred_at "11/23/2025": not a date or time (want 2006-01-02, 2006-01-02T15:04Z or RFC 3339)`},
	{"offset +24:00", with(`2025-11-23`, `2025-11-23T10:00:00+24:00`), events.JSON, `in:1: record 1 (id ok): occurred_at "2025-11-23T10:00:00+24:00": offset +24:00 out of range (-23:59 to +23:59)`},
	{"leap second", with(`2025-11-23`, `2016-12-31T23:59:60Z`), events.JSON, `in:1: record 1 (id ok): occurred_at "2016-12-31T23:59:60Z": not a date or time (want 2006-01-02, 2006-01-02T15:04Z or RFC 3339): a leap second (:60) cannot be kept: write :59`},
	{"24:00", with(`2025-11-23`, `2025-11-23T24:00Z`), events.JSON, `in:1: record 1 (id ok): occurred_at "2025-11-23T24:00Z": not a date or time (want 2006-01-02, 2006-01-02T15:04Z or RFC 3339): 24:00 is not a time of day: write 00:00 of the next day`},
	{"no offset", with(`2025-11-23`, `2025-11-23T10:00:00`), events.JSON, `in:1: record 1 (id ok): occurred_at "2025-11-23T10:00:00": not a date or time (want 2006-01-02, 2006-01-02T15:04Z or RFC 3339): add the offset, Z for UTC or as +01:00: a time without one could be of any zone`},
	{"no offset in a source", with(`"outlet":"AP"`, `"outlet":"AP","published_at":"2025-11-23 10:00"`), events.JSON, `in:1: record 1 (id ok): sources[0].published_at "2025-11-23 10:00": not a date or time (want 2006-01-02, 2006-01-02T15:04Z or RFC 3339): add the offset, Z for UTC or as +01:00: a time without one could be of any zone`},
	{"year before 1900", with(`2025-11-23`, `1899-12-31`), events.JSON, `in:1: record 1 (id ok): occurred_at "1899-12-31": year 1899 out of range 1900-2200`},
	{"year after 2200", with(`2025-11-23`, `2201-01-01T00:00Z`), events.JSON, `in:1: record 1 (id ok): occurred_at "2201-01-01T00:00Z": year 2201 out of range 1900-2200`},
	{"offset minute 60", with(`2025-11-23`, `2025-11-23T10:00-00:60`), events.JSON, `in:1: record 1 (id ok): occurred_at "2025-11-23T10:00-00:60": offset -00:60 out of range (-23:59 to +23:59)`},
	{"an unpaired surrogate", with(`Talks`, `Talks \ud800 here`), events.JSON, `in:1: record 1 (id ok): \ud800 at byte 68: half of a UTF-16 surrogate pair, not a character`},
	{"a low surrogate alone", with(`Talks`, `Talks \udc00`), events.JSON, `in:1: record 1 (id ok): \udc00 at byte 68: half of a UTF-16 surrogate pair, not a character`},
	{"ten digits of a fraction", with(`2025-11-23`, `2025-11-23T10:00:00.1234567891Z`), events.JSON, `in:1: record 1 (id ok): occurred_at "2025-11-23T10:00:00.1234567891Z": 10 digits of a second's fraction: at most 9 (nanoseconds) are kept`},
	{"comma fraction", with(`2025-11-23`, `2025-11-23T10:00:00,5Z`), events.JSON, `in:1: record 1 (id ok): occurred_at "2025-11-23T10:00:00,5Z": a comma in the time: write fractions of a second after a point (10:00:00.5)`},
	{"empty title", with(`"Talks"`, `""`), events.JSON, `in:1: record 1 (id ok): title: required`},
	{"blank title", with(`"Talks"`, `"   "`), events.JSON, `in:1: record 1 (id ok): title "   ": blank`},
	{"title over 200", with(`"Talks"`, `"`+strings.Repeat("é", 201)+`"`), events.JSON, `in:1: record 1 (id ok): title "` + strings.Repeat("é", 64) + `… (201 characters)": longer than 200 characters`},
	{"10 MiB title", with(`"Talks"`, `"`+strings.Repeat("x", 10<<20)+`"`), events.JSON, `in:1: record 1 (id ok): title "` + strings.Repeat("x", 64) + `… (10485760 characters)": longer than 200 characters`},
	{"title with newline", with(`"Talks"`, `"Ta\nlks"`), events.JSON, `in:1: record 1 (id ok): title "Ta\nlks": control character U+000A`},
	{"summary over 4000", with(`"title"`, `"summary":"`+strings.Repeat("s", 4001)+`","title"`), events.JSON, `in:1: record 1 (id ok): summary "` + strings.Repeat("s", 64) + `… (4001 characters)": longer than 4000 characters`},
	{"no sources", with(`[{"outlet":"AP"}]`, `[]`), events.JSON, `in:1: record 1 (id ok): sources: at least one source is required`},
	{"source without outlet", with(`{"outlet":"AP"}`, `{"url":"https://ap.org/x"}`), events.JSON, `in:1: record 1 (id ok): sources[0].outlet: required`},
	{"javascript url", with(`{"outlet":"AP"}`, `{"outlet":"AP","url":"javascript:alert(1)"}`), events.JSON, `in:1: record 1 (id ok): sources[0].url "javascript:alert(1)": not an absolute http or https URL`},
	{"relative url", with(`{"outlet":"AP"}`, `{"outlet":"AP","url":"/news"}`), events.JSON, `in:1: record 1 (id ok): sources[0].url "/news": not an absolute http or https URL`},
	{"bad published_at", with(`{"outlet":"AP"}`, `{"outlet":"AP","published_at":"yesterday"}`), events.JSON, `in:1: record 1 (id ok): sources[0].published_at "yesterday": not a date or time (want 2006-01-02, 2006-01-02T15:04Z or RFC 3339)`},
	{"unknown party", with(`"title"`, `"actors":["atlantis"],"title"`), events.JSON, `in:1: record 1 (id ok): actors[0] "atlantis": not in the vocabulary`},
	{"position unknown issue and stance", with(`"title"`, `"positions":[{"party":"us","issue":"moon","stance":"loves"}],"title"`), events.JSON, `in:1: record 1 (id ok): positions[0].issue "moon": not in the vocabulary; positions[0].stance "loves": not in the vocabulary`},
	{"title of a zero-width space", with(`"Talks"`, `"\u200b"`), events.JSON, `in:1: record 1 (id ok): title "\u200b": blank`},
	{"title of direction marks", with(`"Talks"`, `"\u200f\u200e"`), events.JSON, `in:1: record 1 (id ok): title "\u200f\u200e": blank`},
	{"title with a right-to-left override", with(`"Talks"`, `"\u202eevil\u202c title"`), events.JSON, `in:1: record 1 (id ok): title "\u202eevil\u202c title": bidirectional control U+202E: the text would read otherwise than it is written`},
	{"title with a line separator", with(`"Talks"`, `"a\u2028b"`), events.JSON, `in:1: record 1 (id ok): title "a\u2028b": control character U+2028`},
	{"position value out of range", with(`"title"`, `"positions":[{"party":"us","issue":"army-cap","stance":"proposes","value":1e309}],"title"`), events.JSON, `in:1: record 1 (id ok): positions[0].value "1e309": number out of range`},
	{"yaml position value out of range", "- id: ok\n  type: talks\n  occurred_at: 2025-11-23\n  title: Talks\n  sources: [{outlet: AP}]\n  positions: [{party: us, issue: army-cap, stance: proposes, value: 1e309}]\n", events.YAML, `in:6: record 1 (id ok): positions[0].value "1e309": number out of range`},
	{"position value with more digits than a number keeps", with(`"title"`, `"positions":[{"party":"us","issue":"army-cap","stance":"proposes","value":12345678901234567890123}],"title"`), events.JSON, `in:1: record 1 (id ok): positions[0].value "12345678901234567890123": a number would not keep it as written (too many digits, or too small): give it as text`},
	{"position value too small to tell from 0", with(`"title"`, `"positions":[{"party":"us","issue":"army-cap","stance":"proposes","value":0.1e-400}],"title"`), events.JSON, `in:1: record 1 (id ok): positions[0].value "0.1e-400": a number would not keep it as written (too many digits, or too small): give it as text`},
	{"yaml position value with more digits than a number keeps", "- id: ok\n  type: talks\n  occurred_at: 2025-11-23\n  title: T\n  sources: [{outlet: AP}]\n  positions: [{party: us, issue: army-cap, stance: proposes, value: 9007199254740993}]\n", events.YAML, `in:6: record 1 (id ok): positions[0].value "9007199254740993": a number would not keep it as written (too many digits, or too small): give it as text`},
	{"position value an object", with(`"title"`, `"positions":[{"party":"us","issue":"army-cap","stance":"proposes","value":{"n":1}}],"title"`), events.JSON, `in:1: record 1 (id ok): positions[0].value "{\"n\":1}": want a number or a short text`},
	{"two positions same pair", with(`"title"`, `"positions":[{"party":"us","issue":"army-cap","stance":"proposes"},{"party":"us","issue":"army-cap","stance":"rejects"}],"title"`), events.JSON, `in:1: record 1 (id ok): positions[1] "us on army-cap": same party and issue as positions[0]: one event states one position per party and issue`},
	{"corrects on a plain event", with(`"title"`, `"corrects":"x","title"`), events.JSON, `in:1: record 1 (id ok): corrects "x": only a correction or a retraction corrects an event`},
	{"correction without target", with(`"talks"`, `"correction"`), events.JSON, `in:1: record 1 (id ok): corrects: required for a correction: the id of the event it amends; amend: required for a correction: the corrected fields`},
	{"correction of itself", with(`"talks"`, `"retraction","corrects":"ok"`), events.JSON, `in:1: record 1 (id ok): corrects "ok": an event cannot correct itself`},
	{"amend on a retraction", with(`"talks"`, `"retraction","corrects":"x","amend":{"title":"y"}`), events.JSON, `in:1: record 1 (id ok): amend: only a correction amends an event`},
	{"amend with bad date", with(`"talks"`, `"correction","corrects":"x","amend":{"occurred_at":"soon"}`), events.JSON, `in:1: record 1 (id ok): amend.occurred_at "soon": not a date or time (want 2006-01-02, 2006-01-02T15:04Z or RFC 3339)`},
	{"amend unknown field", with(`"talks"`, `"correction","corrects":"x","amend":{"id":"y"}`), events.JSON, `in:1: record 1 (id ok): amend.id: unknown field; amend: required for a correction: the corrected fields`},
	{"ndjson bad line", "{\n", events.NDJSON, `in:1: record 1: truncated JSON`},
	{"yaml syntax", "- id: ok\n  title: [unclosed\n", events.YAML, `in:2: record 1: invalid YAML: did not find expected ',' or ']'; nothing of this document was read`},
	{"yaml tab in an indentation", "- id: ok\n  type: talks\n  occurred_at: 2025-11-18\n\ttitle: T\n", events.YAML, `in:4: record 1: invalid YAML: found a tab character that violates indentation; nothing of this document was read`},
	{"yaml unclosed flow mapping", "- {id: ok,\n\n", events.YAML, `in:1: record 1: invalid YAML: did not find expected node content; nothing of this document was read`},
	{"yaml unknown field", "- id: ok\n  colour: red\n" + yamlRest, events.YAML, `in:2: record 1 (id ok): colour: unknown field`},
	{"yaml duplicate key", "- id: ok\n  id: again\n", events.YAML, `in:2: record 1 (id ok): id: key given twice`},
	{"yaml alias bomb", "- &a id: ok\n  title: *a\n", events.YAML, `in:2: record 1 (id ok): title: YAML aliases are not accepted in events`},
	{"yaml not a mapping", "- just text\n", events.YAML, `in:1: record 1: want a mapping of event fields`},
	{"yaml list for title", "- id: ok\n  title: [a, b]\n", events.YAML, `in:2: record 1 (id ok): title: want a string`},
	// The record is named by its own id, not by a key spelt otherwise.
	{"id spelt otherwise beside it", with(`"id":"ok"`, `"id":"real-2","Id":"real-1"`), events.JSON, `in:1: record 1 (id real-2): Id: unknown field`},
	// An empty list item is refused, as JSON's null is.
	{"yaml null in a list", "- id: ok\n  type: talks\n  occurred_at: 2025-11-23\n  title: T\n  people: [a, ~]\n  sources: [{outlet: AP}]\n", events.YAML, `in:5: record 1 (id ok): people[1]: required (an empty item)`},
	// An unknown key is named shortened: it is echoed in answers and logs.
	{"long unknown key", with(`"title"`, `"`+strings.Repeat("k", 100)+`":"x","title"`), events.JSON, `in:1: record 1 (id ok): ` + strings.Repeat("k", 64) + `…: unknown field`},
	{"long unknown key, yaml", "- id: ok\n  " + strings.Repeat("é", 40) + ": red\n" + yamlRest, events.YAML, `in:2: record 1 (id ok): ` + strings.Repeat("é", 32) + `…: unknown field`},
}

func TestMalformedInputs(t *testing.T) {
	dec := events.Decoder{Vocabulary: data.Vocabulary()}
	if len(malformed) < 40 {
		t.Fatalf("only %d malformed inputs", len(malformed))
	}
	for _, tt := range malformed {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for rec := range dec.Decode("in", strings.NewReader(tt.input), tt.format) {
				if rec.Err == nil {
					if rec.Event.ID != "ok" || rec.Index != 1 || !strings.HasPrefix(tt.input, "[") {
						t.Fatalf("record %d decoded as a valid event %q", rec.Index, rec.Event.ID)
					}
					continue
				}
				if rec.Line == 0 {
					t.Errorf("record %d has no line: %v", rec.Index, rec.Err)
				}
				got = append(got, rec.Err.Error())
			}
			if len(got) == 0 || got[0] != tt.want {
				t.Errorf("error\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestDecodeReadsPastABadYAMLDocument reads every document of a YAML
// stream, each record with its line in the file, when one document
// between them cannot be read.
func TestDecodeReadsPastABadYAMLDocument(t *testing.T) {
	const in = `# events
---
id: a1
type: talks
occurred_at: 2025-11-23
title: One
sources: [{outlet: AP}]
--- # the second
id: a2
title: [unclosed
...
---
# the third
id: a3
type: talks
occurred_at: 2025-11-23
title: Three
sources: [{outlet: AP}]
---
- {id: a4, type: talks, occurred_at: 2025-11-23, title: Four, sources: [{outlet: AP}]}
- {id: a5, type: talks, occurred_at: 2025-11-23, title: Five, sources: [{outlet: AP}], colour: red}
`
	want := []struct {
		id, err string
		line    int
	}{
		{"a1", "", 3},
		{"", "in:10: record 2: invalid YAML: did not find expected ',' or ']'; nothing of this document was read", 10}, // the "[" left open
		{"a3", "", 14},
		{"a4", "", 20},
		{"", "in:21: record 5 (id a5): colour: unknown field", 21},
	}
	dec := events.Decoder{Vocabulary: data.Vocabulary()}
	var got []events.Record
	for rec := range dec.Decode("in", strings.NewReader(in), events.YAML) {
		got = append(got, rec)
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		r := got[i]
		switch {
		case w.err == "" && (r.Err != nil || r.Event.ID != w.id):
			t.Errorf("record %d: %q %v, want %s", i+1, r.Event.ID, r.Err, w.id)
		case w.err != "" && (r.Err == nil || r.Err.Error() != w.err):
			t.Errorf("record %d: %v, want %s", i+1, r.Err, w.err)
		case r.Line != w.line:
			t.Errorf("record %d on line %d, want %d", i+1, r.Line, w.line)
		}
	}
}

// TestDecodeSkipsAByteOrderMark reads an input that starts with a UTF-8
// byte order mark in every format.
func TestDecodeSkipsAByteOrderMark(t *testing.T) {
	dec := events.Decoder{Vocabulary: data.Vocabulary()}
	for _, f := range []events.Format{events.Auto, events.AnyJSON, events.JSON, events.NDJSON, events.YAML} {
		n := 0
		for rec := range dec.Decode("in", strings.NewReader("\ufeff"+good+"\n"), f) {
			if rec.Err != nil || rec.Event.ID != "ok" || rec.Line != 1 {
				t.Errorf("format %d: %+v %v", f, rec.Event.ID, rec.Err)
			}
			n++
		}
		if n != 1 {
			t.Errorf("format %d: %d records", f, n)
		}
	}
}

// TestDecodeReadsPastABadYAMLItem reads the other items of a list whose
// one item yaml.v3 cannot read, each with its line in the file.
func TestDecodeReadsPastABadYAMLItem(t *testing.T) {
	const in = `# the shipped files are lists like this one
- id: b1
  type: talks
  occurred_at: 2025-11-23
  title: One
  sources: [{outlet: AP}]

- id: b2
  title: [unclosed
  sources: [{outlet: AP}]
- id: b3
  type: talks
  occurred_at: 2025-11-23
  title: "Three: a colon"
  sources:
    - outlet: AP
`
	dec := events.Decoder{Vocabulary: data.Vocabulary()}
	var got []string
	for rec := range dec.Decode("in", strings.NewReader(in), events.YAML) {
		if rec.Err != nil {
			got = append(got, rec.Err.Error())
			continue
		}
		got = append(got, fmt.Sprintf("%s@%d", rec.Event.ID, rec.Line))
	}
	want := []string{"b1@2", "in:9: record 2: invalid YAML: did not find expected ',' or ']'; nothing of this item was read", "b3@11"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

// TestDecodeTellsWhatItCannotRead: what an input holds past a JSON array
// is an error, not lost; NDJSON sent as Auto (stdin, application/json) is
// read line by line even when its first line is broken or longer than
// the look ahead, so its other records go in.
func TestDecodeTellsWhatItCannotRead(t *testing.T) {
	ev := func(id string) string {
		return `{"id":"` + id + `","type":"statement","occurred_at":"2025-11-21","title":"T","sources":[{"outlet":"AP"}]}`
	}
	var sources []string
	for i := range 40 {
		sources = append(sources, fmt.Sprintf(`{"outlet":"Outlet %d","url":"https://example.com/%s"}`, i, strings.Repeat("a", 1900)))
	}
	wide := `{"id":"wide","type":"statement","occurred_at":"2025-11-21","title":"T","sources":[` + strings.Join(sources, ",") + `]}`
	tests := []struct {
		name   string
		input  string
		format events.Format
		valid  []string // ids decoded as valid, in order
		errs   int      // records with errors
	}{
		{"two arrays", "[" + ev("a") + "]\n[" + ev("b") + "]\n", events.JSON, []string{"a"}, 1},
		{"an array and text", "[" + ev("a") + "] trailing", events.Auto, []string{"a"}, 1},
		{"ndjson with a broken first line", ev("a")[:40] + "\n" + ev("b") + "\n" + ev("c") + "\n", events.Auto, []string{"b", "c"}, 1},
		{"ndjson with a first line past the look ahead", wide + "\n" + ev("b") + "\n", events.Auto, []string{"wide", "b"}, 0},
		{"a pretty-printed object", "{\n  \"id\": \"p\", \"type\": \"statement\", \"occurred_at\": \"2025-11-21\",\n  \"title\": \"T\",\n  \"sources\": [\n    {\"outlet\": \"AP\"}\n  ]\n}\n", events.Auto, []string{"p"}, 0},
	}
	dec := events.Decoder{Vocabulary: data.Vocabulary()}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var valid []string
			errs := 0
			for rec := range dec.Decode("in", strings.NewReader(tt.input), tt.format) {
				if rec.Err != nil {
					errs++
					if rec.Line == 0 {
						t.Errorf("error without a line: %v", rec.Err)
					}
					continue
				}
				valid = append(valid, rec.Event.ID)
			}
			if !slices.Equal(valid, tt.valid) || errs != tt.errs {
				t.Errorf("valid %q and %d errors, want %q and %d", valid, errs, tt.valid, tt.errs)
			}
		})
	}
}

// TestNDJSONFieldErrorsHaveTheirLine: a field at fault in an NDJSON
// record is on the record's line, and says so.
func TestNDJSONFieldErrorsHaveTheirLine(t *testing.T) {
	in := good + "\n" + with(`"2025-11-23"`, `"2025-13-01"`) + "\n"
	dec := events.Decoder{Vocabulary: data.Vocabulary()}
	for rec := range dec.Decode("in", strings.NewReader(in), events.NDJSON) {
		if rec.Err == nil {
			continue
		}
		if f := rec.Err.Fields[0]; f.Field != "occurred_at" || f.Line != 2 {
			t.Errorf("field error %+v, want occurred_at on line 2", f)
		}
	}
}

// TestFieldErrorsHaveTheirLine: a record spread over lines, in a JSON
// array, a JSON object or YAML, names the line of each field at fault,
// and its message says the lines that are not the record's own.
func TestFieldErrorsHaveTheirLine(t *testing.T) {
	array := `[
  {"id": "bad-one", "type": "talks",
   "occurred_at": "2025-13-18",
   "title": "Bad", "actors": ["us"], "sources": [{"outlet": "Reuters"}]},
  {
    "id": "bad-two",
    "type": "talkz",
    "occurred_at": "2025-11-18",
    "title": "Bad",
    "actors": ["us",
      "usx"],
    "sources": [{"outlet": "Reuters", "url": "ftp://x"}]
  }
]`
	object := `{
  "id": "bad-three",
  "type": "talks", "occurred_at": "2025-11-18", "title": "Bad",
  "actors": ["us"],
  "positions": [{"issue": "army-cap", "party": "ua", "stance": "accepts"},
                {"issue": "army-cap", "party": "zz", "stance": "accepts"}],
  "sources": [{"outlet": "Reuters"}]
}`
	yml := `- id: bad-four
  type: talkz
  occurred_at: 2025-11-18
  title: Bad
  actors:
    - us
    - usx
  sources:
    - outlet: Reuters
`
	tests := []struct {
		name   string
		in     string
		format events.Format
		want   [][]string // per rejected record, "field@line" of each error
		msg    string     // a part of the last record's message
	}{
		{"array", array, events.JSON, [][]string{{"occurred_at@3"}, {"type@7", "actors[1]@11", "sources[0].url@12"}},
			`type "talkz": not in the vocabulary; actors[1] "usx" (line 11): `},
		{"object", object, events.JSON, [][]string{{"positions[1].party@6"}}, `positions[1].party "zz": `},
		{"yaml", yml, events.YAML, [][]string{{"type@2", "actors[1]@7"}}, `actors[1] "usx" (line 7): `},
	}
	dec := events.Decoder{Vocabulary: data.Vocabulary()}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [][]string
			var msg string
			for rec := range dec.Decode("in", strings.NewReader(tt.in), tt.format) {
				if rec.Err == nil {
					t.Fatalf("record %d accepted", rec.Index)
				}
				var at []string
				for _, f := range rec.Err.Fields {
					at = append(at, fmt.Sprintf("%s@%d", f.Field, f.Line))
				}
				got, msg = append(got, at), rec.Err.Error()
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("errors at %v, want %v", got, tt.want)
			}
			if !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q, want it to contain %q", msg, tt.msg)
			}
		})
	}
}

// TestLargeYAMLReadByItem: a YAML list read an item at a time (as one
// over a MiB is) gives the same records, lines and errors as read whole,
// on the shipped timeline and on lists with bad items.
func TestLargeYAMLReadByItem(t *testing.T) {
	inputs := map[string]string{}
	files, err := filepath.Glob("../../data/timeline/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("timeline files: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(f)] = string(b)
	}
	inputs["bad item"] = "- id: b1\n  type: talks\n  occurred_at: 2025-11-23\n  title: One\n  sources: [{outlet: AP}]\n- id: b2\n  title: [unclosed\n- id: b3\n  type: talkz\n  occurred_at: 2025-11-23\n  title: T\n  sources: [{outlet: AP}]\n"
	inputs["two documents"] = "- id: d1\n  type: talks\n  occurred_at: 2025-11-23\n  title: One\n  sources: [{outlet: AP}]\n---\n# second\n- id: d2\n  type: talks\n  occurred_at: 2025-11-24\n  title: |\n    Two\n    - not an item\n  sources: [{outlet: AP}]\n"
	// Items that do not parse alone, and a document end marker.
	inputs["quoted value over a line"] = "- id: q1\n  type: talks\n  occurred_at: 2025-11-23\n  title: \"One,\n- continued\"\n  sources: [{outlet: AP}]\n- id: q2\n  type: talks\n  occurred_at: 2025-11-23\n  title: Two\n  sources: [{outlet: AP}]\n"
	inputs["alias of an earlier item"] = "- id: a1\n  type: talks\n  occurred_at: 2025-11-23\n  title: One\n  sources: &ap [{outlet: AP}]\n- id: a2\n  type: talks\n  occurred_at: 2025-11-23\n  title: Two\n  sources: *ap\n"
	inputs["document end"] = "- id: e1\n  type: talks\n  occurred_at: 2025-11-23\n  title: One\n  sources: [{outlet: AP}]\n...\n- id: e2\n  type: talks\n  occurred_at: 2025-11-23\n  title: Two\n  sources: [{outlet: AP}]\n"
	dec := events.Decoder{Vocabulary: data.Vocabulary()}
	read := func(in string) []string {
		var got []string
		for rec := range dec.Decode("in", strings.NewReader(in), events.YAML) {
			if rec.Err != nil {
				got = append(got, fmt.Sprintf("%d@%d %s", rec.Index, rec.Line, rec.Err.Error()))
				continue
			}
			got = append(got, fmt.Sprintf("%d@%d %s", rec.Index, rec.Line, rec.Event.Canonical()))
		}
		return got
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			whole := read(in)
			undo := events.SetYAMLWhole(0)
			byItem := read(in)
			undo()
			if len(whole) == 0 || !slices.Equal(whole, byItem) {
				t.Errorf("read whole:\n%s\nread by item:\n%s", strings.Join(whole, "\n"), strings.Join(byItem, "\n"))
			}
		})
	}
}

// TestDecodeRefusesOnlyTheBadPart: in a YAML list, a byte that is not
// UTF-8 refuses its item, not the file; objects a line each in a YAML
// input (NDJSON named .yaml) are read a line at a time, each with its
// result, where YAML would stop after the first; so are they in a file
// named .json, as in a body declared JSON; a JSON object laid out on
// several unindented lines is one object, not NDJSON.
func TestDecodeRefusesOnlyTheBadPart(t *testing.T) {
	item := func(id, title string) string {
		return "- id: " + id + "\n  type: talks\n  occurred_at: 2025-11-23\n  title: " + title + "\n  sources: [{outlet: AP}]\n"
	}
	line := func(id string) string {
		return `{"id":"` + id + `","type":"talks","occurred_at":"2025-11-23","title":"T","sources":[{"outlet":"AP"}]}` + "\n"
	}
	for _, c := range []struct {
		name   string
		input  string
		format events.Format
		want   []string // each record: its id, or its error
	}{
		{"a Latin-1 byte in one item", item("c1", "One") + item("c2", "Caf\xe9") + item("c3", "Three"), events.YAML,
			[]string{"c1", "in:9: record 2: invalid UTF-8 at column 13; nothing of this item was read", "c3"}},
		{"NDJSON in a YAML input", line("n1") + "{\"id\":\"n2\",\n" + line("n3"), events.YAML,
			[]string{"n1", "in:2: record 2: invalid YAML: did not find expected node content; nothing of this item was read", "n3"}},
		{"NDJSON in a .json file", line("j1") + "{bad\n" + line("j3"), events.FormatOf("in.json"),
			[]string{"j1", "in:2: record 2: invalid JSON: invalid character 'b'", "j3"}},
		{"one unindented JSON object", "{\"id\":\"ok\",\"type\":\"talks\",\"occurred_at\":\"2025-11-23\",\"title\":\"T\",\n\"sources\":[\n{\"outlet\":\"AP\"}]}\n", events.AnyJSON,
			[]string{"ok"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dec := events.Decoder{Vocabulary: data.Vocabulary()}
			var got []string
			for rec := range dec.Decode("in", strings.NewReader(c.input), c.format) {
				if rec.Err != nil {
					got = append(got, rec.Err.Error())
				} else {
					got = append(got, rec.Event.ID)
				}
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// TestNumbersKeptAsWritten: numbers a float64 holds as written are taken,
// however they are spelt.
func TestNumbersKeptAsWritten(t *testing.T) {
	dec := events.Decoder{Vocabulary: data.Vocabulary()}
	for _, n := range []string{"600000", "6e5", "600000.0", "0.1", "-0", "1e22", "0.000001", "9007199254740992", "123456789012345.6"} {
		in := with(`"title"`, `"positions":[{"party":"us","issue":"army-cap","stance":"proposes","value":`+n+`}],"title"`)
		for rec := range dec.Decode("in", strings.NewReader(in), events.JSON) {
			if rec.Err != nil {
				t.Errorf("%s: %v", n, rec.Err)
			}
		}
	}
}

// TestEscapesKept: escapes that stand for characters are read as they
// are, a surrogate pair and an escaped backslash before a u among them.
func TestEscapesKept(t *testing.T) {
	dec := events.Decoder{Vocabulary: data.Vocabulary()}
	for title, want := range map[string]string{`Talks \ud83d\ude00`: "Talks \U0001F600", `C:\\ud800`: `C:\ud800`, `\u00e9t\u00e9`: "été"} {
		for rec := range dec.Decode("in", strings.NewReader(with(`Talks`, title)), events.JSON) {
			if rec.Err != nil || rec.Event.Title != want {
				t.Errorf("%s: %q %v, want %q", title, rec.Event.Title, rec.Err, want)
			}
		}
	}
}
