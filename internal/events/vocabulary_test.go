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
		{"twice", "types: [{id: talks}, {id: talks}, {id: correction}, {id: retraction}]", `types: id "talks" given twice`},
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
