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
	"go.yaml.in/yaml/v3"
)

// stateAnswer is GET /v1/state's body as encoding/json writes it from
// QueryState: the reference the API's answer is held to.
type stateAnswer struct {
	At      string        `json:"at,omitempty"`
	KnownAt string        `json:"known_at,omitempty"`
	Seq     uint64        `json:"seq"`
	Issues  []issueAnswer `json:"issues"`
}

type issueAnswer struct {
	Issue     string                       `json:"issue"`
	Label     string                       `json:"label"`
	Positions map[string]*projections.Cell `json:"positions"`
}

// TestStateAnswer holds the state answer, written from the claims' bytes,
// to encoding/json's of QueryState's cells, on the states of a synthetic
// negotiation at several times and points of knowledge, with parameters
// that JSON escapes, an issue the vocabulary no longer has, and the
// vocabulary's order of issues.
func TestStateAnswer(t *testing.T) {
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
	// A vocabulary that has dropped one issue and labels the rest with
	// characters JSON escapes, in an order of its own.
	full := data.Vocabulary()
	edited := *full
	edited.Issues = nil
	dropped := full.Issues[0].ID
	for i := len(full.Issues) - 1; i > 0; i-- {
		is := full.Issues[i]
		is.Label = "Label <" + is.ID + "> \u00e9"
		edited.Issues = append(edited.Issues, is)
	}
	y, err := yaml.Marshal(&edited)
	if err != nil {
		t.Fatal(err)
	}
	vocab, err := events.ParseVocabulary(y)
	if err != nil {
		t.Fatal(err)
	}
	if vocab.Issue(dropped) != nil {
		t.Fatalf("issue %s still in the vocabulary", dropped)
	}
	a := &API{Vocabulary: vocab}
	var sawDropped bool
	for i, at := range []string{"", "2025-11-05", "2025-11-09T10:00:00Z", `<"odd">&`} {
		err := st.View(context.Background(), func(tx projections.Tx) error {
			// The present first: the answer the API keeps.
			q := projections.StateQuery{}
			if i > 0 {
				q.At = time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 3*i)
			}
			if i == 2 {
				q.Knowledge.At = start.Add(400 * time.Second)
			}
			s, err := projections.QueryState(tx, q)
			if err != nil {
				return err
			}
			byID := map[string]map[string]*projections.Cell{}
			for _, is := range s.Issues {
				byID[is.Issue] = is.Positions
			}
			ref := stateAnswer{At: at, KnownAt: at, Seq: s.Seq, Issues: []issueAnswer{}}
			for _, is := range vocab.Issues {
				if ps := byID[is.ID]; ps != nil {
					ref.Issues = append(ref.Issues, issueAnswer{Issue: is.ID, Label: is.Label, Positions: ps})
				}
			}
			if ps := byID[dropped]; ps != nil {
				ref.Issues = append(ref.Issues, issueAnswer{Issue: dropped, Label: dropped, Positions: ps})
				sawDropped = true
			}
			want, err := json.Marshal(ref)
			if err != nil {
				return err
			}
			got, err := projections.AppendStateJSON(nil, projections.NewStateReader(tx, q), a.Vocabulary, at, at)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, want) {
				i := 0
				for i < min(len(got), len(want)) && got[i] == want[i] {
					i++
				}
				from := max(i-200, 0)
				t.Fatalf("at %q, from byte %d:\n got %s\nwant %s", at, from, got[from:min(i+200, len(got))], want[from:min(i+200, len(want))])
			}
			if len(s.Issues) == 0 {
				t.Fatalf("at %q: no positions to compare", at)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !sawDropped {
		t.Fatal("no position on the dropped issue: the order of issues outside the vocabulary is not tested")
	}
}
