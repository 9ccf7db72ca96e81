package events_test

import (
	"strings"
	"testing"

	"github.com/parley-news/parley/internal/events"
)

// TestParseVocabularyRefuses names the list and the id at fault.
func TestParseVocabularyRefuses(t *testing.T) {
	const rest = "\nparties: [{id: us}]\nissues: [{id: sanctions}]\nstances: [{id: proposes}]\n"
	for _, c := range []struct{ name, types, want string }{
		{"no correction", "types: [{id: talks}, {id: retraction}]", `types: "correction" is required`},
		{"twice", "types: [{id: talks}, {id: talks}, {id: correction}, {id: retraction}]", `types[1]: id "talks" given twice`},
		{"not a slug", "types: [{id: Talks!}, {id: correction}, {id: retraction}]", `types[0]: id "Talks!" is not a slug`},
		// The feed's SSE messages are named by type: a page's EventSource
		// would fire its own error or open handler for these.
		{"error", "types: [{id: error}, {id: correction}, {id: retraction}]", `types: "error" is the name of a browser's own EventSource event`},
		{"open", "types: [{id: open}, {id: correction}, {id: retraction}]", `types: "open" is the name`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := events.ParseVocabulary([]byte(c.types + rest)); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error saying %s", err, c.want)
			}
		})
	}
	if _, err := events.ParseVocabulary([]byte("types: [{id: talks}, {id: correction}, {id: retraction}]" + rest)); err != nil {
		t.Errorf("a good vocabulary: %v", err)
	}
}

// TestParseVocabularySaysWhere: a mistake in the file's shape names its
// line and the term's place in its list, in the words of the file, not
// the Go types it is read into.
func TestParseVocabularySaysWhere(t *testing.T) {
	const rest = "issues: [{id: sanctions}]\ntypes: [{id: correction}, {id: retraction}]\nstances: [{id: proposes}]\n"
	for _, c := range []struct{ name, in, want string }{
		{"unknown field", "parties:\n  - {id: us}\n  - {id: eu, nam: EU}\n" + rest, `line 3: parties[1].nam: unknown field`},
		{"unknown list", "parties: [{id: us}]\nparty: []\n" + rest, `line 2: party: unknown field`},
		{"not a list", "parties: {us: 1}\n" + rest, `line 1: parties: want a list`},
		{"not a text", "parties:\n  - {id: us}\n  - id: [a]\n" + rest, `line 3: parties[1].id: want a string`},
		{"syntax", "parties: [\n", `line 1: did not find expected node content`},
		{"twice", "parties:\n  - {id: us}\n  - {id: us}\n" + rest, `line 3: parties[1]: id "us" given twice (first: parties[0], line 2)`},
		{"not a slug", "parties:\n  - {id: us}\n  - {id: US}\n" + rest, `line 3: parties[1]: id "US" is not a slug`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := events.ParseVocabulary([]byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error saying %s", err, c.want)
			}
			if err != nil && (strings.Contains(err.Error(), "events.") || strings.Contains(err.Error(), "!!")) {
				t.Errorf("%v: names Go or YAML types, not the file's words", err)
			}
		})
	}
	// An anchor and its alias read as before: a vocabulary is the
	// operator's own file, not input from outside.
	if _, err := events.ParseVocabulary([]byte("parties: &p [{id: us}]\nissues: *p\ntypes: [{id: correction}, {id: retraction}]\nstances: [{id: proposes}]\n")); err != nil {
		t.Errorf("a vocabulary with an alias: %v", err)
	}
}
