package ingest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/ingest"
	"github.com/parley-news/parley/internal/natstest"
)

// TestCorrectsRefusalPointsAtTheField: a refusal of what a correction's
// corrects names (an event not in the record, one that is itself a
// correction, one later in the input) gives the line of the corrects
// field, not the record's first, in YAML and in JSON, checking and
// appending.
func TestCorrectsRefusalPointsAtTheField(t *testing.T) {
	const target = `- id: target
  type: statement
  occurred_at: 2025-11-21
  title: Target
  sources: [{outlet: AP}]
`
	const fix = `- id: fix
  type: correction
  occurred_at: 2025-11-22
  title: Fix
  sources: [{outlet: AP}]
  corrects: target
  amend: {title: Fixed}
`
	fixOf := func(id, names string) string {
		return `- id: ` + id + `
  type: correction
  occurred_at: 2025-11-24
  title: Re-fix
  sources: [{outlet: AP}]
  corrects: ` + names + `
  amend: {title: Fixed again}
`
	}
	for _, c := range []struct {
		name      string
		appending bool
		format    events.Format
		input     string
		want      string // the one refusal
	}{
		{"yaml, no such event", true, events.YAML, target + fixOf("fix-missing", "missing"),
			`in:11: record 2 (id fix-missing): corrects "missing": no event with this id in the record`},
		{"yaml, a correction of a correction, appending", true, events.YAML, target + fix + fixOf("fix2", "fix"),
			`in:18: record 3 (id fix2): corrects "fix": itself a correction, of target: a correction or retraction names the original event (target)`},
		{"yaml, a correction of a correction, checking", false, events.YAML, target + fix + fixOf("fix2", "fix"),
			`in:18: record 3 (id fix2): corrects "fix": itself a correction, of target: a correction or retraction names the original event (target)`},
		{"yaml, before its event, checking", false, events.YAML, fixOf("early", "target") + target,
			`in:6: record 1 (id early): corrects "target": the event it corrects is not before it: it comes later in this input, in record 2: put the correction after it`},
		{"yaml, before its event, appending", true, events.YAML, fixOf("early", "target") + target,
			`in:6: record 1 (id early): corrects "target": no event with this id in the record; it comes later in this input, in record 2: put the correction after it`},
		{"json array", true, events.JSON, `[
  {"id": "target", "type": "statement", "occurred_at": "2025-11-21", "title": "Target", "sources": [{"outlet": "AP"}]},
  {
    "id": "fix-missing",
    "type": "correction",
    "occurred_at": "2025-11-22",
    "title": "Fix",
    "sources": [{"outlet": "AP"}],
    "corrects": "missing",
    "amend": {"title": "Fixed"}
  }
]`, `in:9: record 2 (id fix-missing): corrects "missing": no event with this id in the record`},
		{"json object", true, events.JSON, `{
  "id": "self-fix",
  "type": "correction",
  "occurred_at": "2025-11-22",
  "title": "Fix",
  "sources": [{"outlet": "AP"}],
  "corrects": "later",
  "amend": {"title": "Fixed"}
}`, `in:7: record 1 (id self-fix): corrects "later": no event with this id in the record`},
		{"ndjson", true, events.NDJSON, `{"id":"target","type":"statement","occurred_at":"2025-11-21","title":"Target","sources":[{"outlet":"AP"}]}

{"id":"fix-missing","type":"correction","occurred_at":"2025-11-22","title":"Fix","sources":[{"outlet":"AP"}],"corrects":"missing","amend":{"title":"Fixed"}}`,
			`in:3: record 2 (id fix-missing): corrects "missing": no event with this id in the record`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ing := &ingest.Ingester{Decoder: events.Decoder{Vocabulary: data.Vocabulary()}}
			if c.appending {
				ing.Stream = natstest.Conn(t, natstest.Server(t))
			}
			res, err := ing.Ingest(context.Background(), "in", strings.NewReader(c.input), c.format)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, rr := range res.Records {
				if rr.Status == ingest.Rejected {
					got = append(got, rr.Error)
				}
			}
			if len(got) != 1 || got[0] != c.want {
				t.Errorf("refusals\n got %q\nwant %q", got, c.want)
			}
		})
	}
}
