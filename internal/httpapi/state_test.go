package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/synth"
)

// TestStateAnswerJSON holds the state answer's hand-written JSON to
// encoding/json's, on the states of a synthetic negotiation, with labels
// and parameters that JSON escapes.
func TestStateAnswerJSON(t *testing.T) {
	g := &synth.Generator{Vocabulary: data.Vocabulary(), Seed: 8, Amends: 10}
	st := projections.NewMem()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	err := st.Update(context.Background(), func(tx projections.Tx) error {
		var msgs []projections.Message
		for seq := uint64(1); seq <= 800; seq++ {
			msgs = append(msgs, projections.Message{Seq: seq, Time: start.Add(time.Duration(seq) * time.Second), Data: events.Wrap(g.Next(), "")})
		}
		_, err := projections.ApplyBatch(tx, msgs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, at := range []string{"", "2025-11-05", "2025-11-09T10:00:00Z", `<"odd">&`} {
		err := st.View(context.Background(), func(tx projections.Tx) error {
			q := projections.StateQuery{At: time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 3*i)}
			s, err := projections.QueryState(tx, q)
			if err != nil {
				return err
			}
			ans := stateAnswer{At: at, KnownAt: at, Seq: s.Seq, Issues: []issueAnswer{}}
			for _, is := range s.Issues {
				ans.Issues = append(ans.Issues, issueAnswer{Issue: is.Issue, Label: "Label <" + is.Issue + "> \u00e9", Positions: is.Positions})
			}
			ans.Issues = append(ans.Issues, issueAnswer{Issue: "empty", Label: "none", Positions: map[string]*projections.Cell{}})
			want, err := json.Marshal(ans)
			if err != nil {
				return err
			}
			if got := ans.appendJSON(nil); !bytes.Equal(got, want) {
				t.Fatalf("at %q:\n got %s\nwant %s", at, got, want)
			}
			if len(s.Issues) == 0 && i > 0 {
				t.Fatalf("at %q: no positions to compare", at)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
