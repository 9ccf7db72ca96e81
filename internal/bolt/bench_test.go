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

// messages makes n stream messages of synthetic 1 KiB events.
func messages(g *synth.Generator, n int) []projections.Message {
	msgs := make([]projections.Message, n)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range msgs {
		msgs[i] = projections.Message{Seq: uint64(i + 1), Time: start.Add(time.Duration(i) * time.Millisecond), Data: events.Wrap(g.Next(), "")}
	}
	return msgs
}

// applyAll applies msgs in batches of 4,000, as a rebuild does.
func applyAll(b *testing.B, st *bolt.Store, msgs []projections.Message) {
	for i := 0; i < len(msgs); i += 4000 {
		batch := msgs[i:min(i+4000, len(msgs))]
		err := st.Update(context.Background(), func(tx projections.Tx) error {
			_, err := projections.ApplyBatch(tx, batch)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func openBench(b *testing.B) *bolt.Store {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// BenchmarkApply applies synthetic 1 KiB events into a bbolt file without
// fsync, as a rebuild does: the projection's own cost, without the stream.
func BenchmarkApply(b *testing.B) {
	msgs := messages(&synth.Generator{Vocabulary: data.Vocabulary(), Seed: 9, Amends: 2}, b.N)
	st := openBench(b)
	b.ResetTimer()
	applyAll(b, st, msgs)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(st.Size())/float64(b.N), "file-bytes/event")
}

// BenchmarkQueryState answers GET /v1/state?at=T on a read model of 50,000
// synthetic events: the query's own cost, without HTTP.
func BenchmarkQueryState(b *testing.B) {
	g := &synth.Generator{Vocabulary: data.Vocabulary(), Seed: 5}
	st := openBench(b)
	applyAll(b, st, messages(g, 50000))
	at := g.Start.AddDate(0, 0, 500)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := st.View(context.Background(), func(tx projections.Tx) error {
			_, err := projections.QueryState(tx, projections.StateQuery{At: at})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
