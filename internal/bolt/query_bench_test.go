package bolt_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/synth"
)

// BenchmarkQueryState answers GET /v1/state?at=T on a read model of 50,000
// synthetic events: the query's own cost, without HTTP.
func BenchmarkQueryState(b *testing.B) {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "q.db"), bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 5}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for n := 0; n < 50000; n += 5000 {
		batch := make([]projections.Message, 5000)
		for i := range batch {
			seq := n + i + 1
			batch[i] = projections.Message{Seq: uint64(seq), Time: start.Add(time.Duration(seq) * time.Millisecond), Data: events.Wrap(g.Next(), "")}
		}
		st.Update(context.Background(), func(tx projections.Tx) error { _, err := projections.ApplyBatch(tx, batch); return err })
	}
	at := g.Start.AddDate(0, 0, 500)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st.View(context.Background(), func(tx projections.Tx) error {
			_, err := projections.QueryState(tx, projections.StateQuery{At: at})
			return err
		})
	}
}
