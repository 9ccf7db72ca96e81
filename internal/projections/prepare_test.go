package projections_test

import (
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/synth"
)

// BenchmarkPrepare is the receiving goroutine's share of applying a
// synthetic 1 KiB event: decoding it from its envelope and working out its
// index entries and record.
func BenchmarkPrepare(b *testing.B) {
	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 9}
	msgs := make([][]byte, 1000)
	for i := range msgs {
		msgs[i] = events.Wrap(g.Next(), "")
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	i := 0
	for b.Loop() {
		projections.Prepare(uint64(i+1), at, msgs[i%len(msgs)])
		i++
	}
}
