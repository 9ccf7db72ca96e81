package bolt_test

import (
	"context"
	"encoding/binary"
	"flag"
	"math/rand/v2"
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
		data := events.Wrap(g.Next(), "")
		// Prepared ahead, as the consumer's receiving goroutine does it.
		seq, at := uint64(i+1), start.Add(time.Duration(i)*time.Millisecond)
		msgs[i] = projections.Message{Seq: seq, Time: at, Data: data, Decoded: projections.Prepare(seq, at, data)}
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
// fsync, as a rebuild does: the apply loop's cost, without the stream and
// without the decoding and preparing that the receiving goroutine does
// (Prepare, done before the timer starts).
func BenchmarkApply(b *testing.B) {
	msgs := messages(&synth.Generator{Vocabulary: data.Vocabulary(), Seed: 9, Amends: 2}, b.N)
	st := openBench(b)
	b.ResetTimer()
	applyAll(b, st, msgs)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(st.Size())/float64(b.N), "file-bytes/event")
}

// BenchmarkPut is the engine's own cost of a write, the floor under a
// rebuild: 40-byte keys put into one bucket of a file without fsync,
// 10,000 to a transaction, in key order (a bucket the store fills to 95%,
// as an index entry's bucket) or at random (a bucket at bbolt's default
// fill), with values the size of an index entry's validity (16 B) and of a
// claim (400 B). Run it with -benchtime 1000000x to compare with a rebuild
// of a million events, which writes about 6 entries and 7 postings (in blocks) per event.
func BenchmarkPut(b *testing.B) {
	cases := []struct {
		name   string
		bucket string
		sorted bool
		value  int
	}{
		{"sorted-16B", projections.BucketTimeline, true, 16},
		{"sorted-400B", projections.BucketTimeline, true, 400},
		{"random-16B", projections.BucketEvents, false, 16},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			keys := make([][]byte, b.N)
			for i := range keys {
				k := make([]byte, 40)
				copy(k, "issue-name\x00party-name\x00")
				n := uint64(i)
				if !c.sorted {
					n = rng.Uint64()
				}
				binary.BigEndian.PutUint64(k[32:], n)
				keys[i] = k
			}
			val := make([]byte, c.value)
			st := openBench(b)
			b.ResetTimer()
			for i := 0; i < len(keys); i += 10_000 {
				err := st.Update(context.Background(), func(tx projections.Tx) error {
					bk := tx.Bucket(c.bucket)
					for _, k := range keys[i:min(i+10_000, len(keys))] {
						if err := bk.Put(k, val); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkQueryState answers a state query as the command line does
// (QueryState, cells decoded) on the query benchmarks' read model.
func BenchmarkQueryState(b *testing.B) {
	st, g, days := queryModel(b)
	at := g.Start.AddDate(0, 0, days/2)
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

// modelFile points the query benchmarks at a read model of synthetic
// events made elsewhere, such as the one `parleybench -dir DIR` leaves in
// DIR/history at a million events: go test -run '^$' -bench StateAnswer
// ./internal/bolt/ -args -bolt.model DIR/history/readmodel.db
var modelFile = flag.String("bolt.model", "", "read model `file` of synthetic events for the query benchmarks, opened read only (default: 100,000 events made here)")

// queryModel is a read model of 100,000 synthetic events for the query
// benchmarks, or the one -bolt.model names, with its generator and the
// number of days it spans.
func queryModel(b *testing.B) (*bolt.Store, *synth.Generator, int) {
	g := &synth.Generator{Vocabulary: data.Vocabulary(), Seed: 5, Amends: 2}
	if *modelFile != "" {
		st, err := bolt.Open(*modelFile, bolt.Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		var n uint64
		st.View(context.Background(), func(tx projections.Tx) error { n = projections.Checkpoint(tx); return nil })
		g.Start = synth.DefaultStart
		return st, g, int(n) / synth.PerDay
	}
	st := openBench(b)
	const n = 100_000
	applyAll(b, st, messages(g, n))
	return st, g, n / synth.PerDay
}

// BenchmarkStateAnswer answers GET /v1/state?at=T for random T on a read
// model of 100,000 synthetic events and writes its cells as the API does
// (StateReader): the cost of a state answer but HTTP and the few names the
// API writes around the cells.
func BenchmarkStateAnswer(b *testing.B) {
	st, g, days := queryModel(b)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	var size int
	var buf []byte
	for i := 0; i < b.N; i++ {
		at := g.Start.Add(time.Duration(rng.Int64N(int64(days) * int64(24*time.Hour))))
		err := st.View(context.Background(), func(tx projections.Tx) error {
			// The cells are what the API writes; the rest is a few names.
			sr := projections.NewStateReader(tx, projections.StateQuery{At: at})
			buf = buf[:0]
			for issue := range sr.Issues() {
				var err error
				if buf, _, err = sr.AppendPositions(buf, issue); err != nil {
					return err
				}
			}
			size += len(buf)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)/float64(b.N), "answer-bytes")
}

// BenchmarkTimelinePage answers GET /v1/timeline?issue=X&from=T&limit=100
// for random X and T on a read model of 100,000 synthetic events, as the
// API does (AppendTimelineJSON).
func BenchmarkTimelinePage(b *testing.B) {
	benchPage(b, func(buf []byte, tx projections.Tx, issue string, from time.Time) ([]byte, error) {
		return projections.AppendTimelineJSON(buf, tx, projections.TimelineQuery{Issue: issue, From: from, Limit: 100})
	})
}

// BenchmarkHistoryPage answers GET /v1/issues/{issue}/history?from=T&limit=100
// for random issues and T on a read model of 100,000 synthetic events, as
// the API does (AppendHistoryJSON).
func BenchmarkHistoryPage(b *testing.B) {
	benchPage(b, func(buf []byte, tx projections.Tx, issue string, from time.Time) ([]byte, error) {
		return projections.AppendHistoryJSON(buf, tx, projections.HistoryQuery{Issue: issue, From: from, Limit: 100})
	})
}

// benchPage times answer, a page of an issue from a time, for random
// issues and times, into one reused buffer.
func benchPage(b *testing.B, answer func(buf []byte, tx projections.Tx, issue string, from time.Time) ([]byte, error)) {
	st, g, days := queryModel(b)
	rng := rand.New(rand.NewPCG(1, 2))
	issues := data.Vocabulary().Issues
	b.ResetTimer()
	var size int
	var buf []byte
	for i := 0; i < b.N; i++ {
		from := g.Start.Add(time.Duration(rng.Int64N(int64(days) * int64(24*time.Hour))))
		issue := issues[rng.IntN(len(issues))].ID
		err := st.View(context.Background(), func(tx projections.Tx) error {
			var err error
			buf, err = answer(buf[:0], tx, issue, from)
			size += len(buf)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)/float64(b.N), "answer-bytes")
}
