package console_test

import (
	"strings"
	"testing"

	"github.com/parley-news/parley/internal/console"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/projections"
)

// TestStateKeepsEveryParty: a party with a position that the vocabulary
// lacks still gets its column, after the vocabulary's own, as the JSON
// answer keeps it.
func TestStateKeepsEveryParty(t *testing.T) {
	v, err := events.ParseVocabulary([]byte(`
parties: [{id: us}, {id: ua}]
issues: [{id: army-cap}]
types: [{id: talks}, {id: correction}, {id: retraction}]
stances: [{id: proposes}, {id: rejects}]
`))
	if err != nil {
		t.Fatal(err)
	}
	cell := func(stance string) *projections.Cell {
		return &projections.Cell{Claim: projections.Claim{Stance: stance}}
	}
	st := &projections.State{Seq: 3, Issues: []projections.IssueState{
		{Issue: "army-cap", Positions: map[string]*projections.Cell{"ua": cell("rejects"), "zz": cell("proposes"), "mercosur": cell("rejects")}},
		{Issue: "gone-issue", Positions: map[string]*projections.Cell{"us": cell("proposes")}},
	}}
	var b strings.Builder
	if err := console.State(&b, st, v); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	for i, want := range [][]string{
		{"ISSUE", "US", "UA", "MERCOSUR", "ZZ"},
		{"army-cap", "-", "rejects", "rejects", "proposes"},
		{"gone-issue", "proposes", "-", "-", "-"},
	} {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("line %d: %q, want %q", i, got, want)
		}
	}
}
