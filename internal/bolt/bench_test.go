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

// BenchmarkApply applies synthetic 1 KiB events in batches of 10,000 into
// a bbolt file without fsync, as a rebuild does: the projection's own cost,
// without the stream.
func BenchmarkApply(b *testing.B) {
	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 9, Amends: 2}
	msgs := make([]projections.Message, b.N)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range msgs {
		msgs[i] = projections.Message{Seq: uint64(i + 1), Time: start.Add(time.Duration(i) * time.Millisecond), Data: events.Wrap(g.Next(), "")}
	}
	st, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.ResetTimer()
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
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(st.Size())/float64(b.N), "file-bytes/event")
}
