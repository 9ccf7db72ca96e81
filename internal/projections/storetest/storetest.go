// Package storetest is the conformance suite every projections.Store must
// pass: ordered keys, cursors at both ends, rollback on error, and the
// same read model as the in-memory model for the same messages.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/projections"
)

// Run runs the suite against stores made by newStore, one per subtest.
func Run(t *testing.T, newStore func(t *testing.T) projections.Store) {
	t.Run("CursorOrder", func(t *testing.T) { testCursorOrder(t, newStore(t)) })
	t.Run("Rollback", func(t *testing.T) { testRollback(t, newStore(t)) })
	t.Run("SameAsModel", func(t *testing.T) { testSameAsModel(t, newStore(t)) })
}

func testCursorOrder(t *testing.T, s projections.Store) {
	ctx := context.Background()
	keys := [][]byte{{0x02}, {0x01, 0xff}, {0x01}, {0x03, 0x00}, {0xff}}
	err := s.Update(ctx, func(tx projections.Tx) error {
		b := tx.Bucket(projections.BucketMeta)
		for i, k := range keys {
			if err := b.Put(k, []byte{byte(i)}); err != nil {
				return err
			}
		}
		return b.Delete([]byte{0xff})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{{0x01}, {0x01, 0xff}, {0x02}, {0x03, 0x00}}
	err = s.View(ctx, func(tx projections.Tx) error {
		c := tx.Bucket(projections.BucketMeta).Cursor()
		var got [][]byte
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			got = append(got, bytes.Clone(k))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("forward = %x, want %x", got, want)
		}
		got = nil
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			got = append(got, bytes.Clone(k))
		}
		if len(got) != 4 || !bytes.Equal(got[0], want[3]) || !bytes.Equal(got[3], want[0]) {
			t.Errorf("backward = %x", got)
		}
		if k, _ := c.Seek([]byte{0x01, 0x80}); !bytes.Equal(k, []byte{0x01, 0xff}) {
			t.Errorf("Seek(01 80) = %x, want 01ff", k)
		}
		if k, _ := c.Seek([]byte{0x04}); k != nil {
			t.Errorf("Seek past the end = %x, want nil", k)
		}
		if v := tx.Bucket(projections.BucketMeta).Get([]byte{0x02}); !bytes.Equal(v, []byte{0}) {
			t.Errorf("Get(02) = %x", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testRollback(t *testing.T, s projections.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx projections.Tx) error {
		if err := tx.Bucket(projections.BucketMeta).Put([]byte("k"), []byte("v")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	s.View(ctx, func(tx projections.Tx) error {
		if v := tx.Bucket(projections.BucketMeta).Get([]byte("k")); v != nil {
			t.Errorf("rolled-back write is visible: %q", v)
		}
		return nil
	})
}

// testSameAsModel applies one random history of events, corrections and
// retractions, in random batch sizes, to the store and to the in-memory
// model, and compares the canonical dumps and a set of queries.
func testSameAsModel(t *testing.T, s projections.Store) {
	ctx := context.Background()
	model := projections.NewMem()
	rng := rand.New(rand.NewPCG(1, 2))
	msgs := RandomHistory(rng, 400)
	for i := 0; i < len(msgs); {
		n := 1 + rng.IntN(50)
		batch := msgs[i:min(i+n, len(msgs))]
		i += len(batch)
		// The model takes one message a transaction: what a batch
		// remembers from one message to the next (the present of each
		// pair, which events dated ahead make move with recorded time)
		// must not change what it writes.
		for st, batches := range map[projections.Store][][]projections.Message{s: {batch}, model: split(batch)} {
			for _, b := range batches {
				err := st.Update(ctx, func(tx projections.Tx) error {
					if err := projections.Init(tx); err != nil {
						return err
					}
					_, err := projections.ApplyBatch(tx, b)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if a, b := dump(t, s), dump(t, model); a != b {
		t.Fatalf("dump differs from the model's (%d vs %d bytes)", len(a), len(b))
	}
	// The same content walked through the store's own cursors, both ways:
	// the pages newest first step back with Prev from a Seek, which a
	// store may get wrong at a bucket's end while the dump is right.
	for _, desc := range []bool{false, true} {
		if a, b := pages(t, s, desc), pages(t, model, desc); a != b || len(a) < 10000 {
			t.Fatalf("pages (desc=%v, %d bytes) differ from the model's, or are too few:\n%.600s\nwant\n%.600s", desc, len(a), a, b)
		}
	}
}

// pages is the JSON of the timeline, and of each issue's history, a few
// entries a page, cursor after cursor, in one order.
func pages(t *testing.T, s projections.Store, desc bool) string {
	t.Helper()
	var out bytes.Buffer
	err := s.View(context.Background(), func(tx projections.Tx) error {
		st, err := projections.QueryState(tx, projections.StateQuery{})
		if err != nil {
			return err
		}
		q := projections.TimelineQuery{Desc: desc, Limit: 7}
		for range 1000 {
			p, err := projections.QueryTimeline(tx, q)
			if err != nil {
				return err
			}
			b, _ := json.Marshal(p.Events)
			out.Write(b)
			if q.Cursor = p.NextCursor; q.Cursor == "" {
				break
			}
		}
		for _, is := range st.Issues {
			q := projections.HistoryQuery{Issue: is.Issue, Desc: desc, Limit: 7}
			for range 1000 {
				h, err := projections.QueryHistory(tx, q)
				if err != nil {
					return err
				}
				b, _ := json.Marshal(h.Entries)
				out.Write(b)
				if q.Cursor = h.NextCursor; q.Cursor == "" {
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// split makes a batch of each message.
func split(msgs []projections.Message) [][]projections.Message {
	out := make([][]projections.Message, len(msgs))
	for i := range msgs {
		out[i] = msgs[i : i+1]
	}
	return out
}

func dump(t *testing.T, s projections.Store) string {
	var buf bytes.Buffer
	if err := s.View(context.Background(), func(tx projections.Tx) error { return projections.Dump(tx, &buf) }); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// RandomHistory returns n stream messages: events on random days with
// random positions, and corrections and retractions of earlier ones, with
// consecutive sequences and recorded times 90 minutes apart from the 10th
// of the month the events fall in: many are dated ahead of their
// recording, and the present passes their days as the history goes on.
func RandomHistory(rng *rand.Rand, n int) []projections.Message {
	parties := []string{"us", "ua", "ru", "e3", "eu"}
	issues := []string{"army-cap", "nato-membership", "sanctions", "elections", "territory-donetsk"}
	stances := []string{"proposes", "demands", "accepts", "rejects", "open", "conditional"}
	start := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	recorded := time.Date(2025, 11, 10, 0, 0, 0, 0, time.UTC)
	var ids []string
	var out []projections.Message
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("ev-%04d", i)
		day := start.AddDate(0, 0, rng.IntN(30))
		e := events.Event{ID: id, Type: "statement", OccurredAt: events.Time{Time: day, Precision: events.Day},
			Title: "event " + id, Sources: []events.Source{{Outlet: fmt.Sprintf("outlet-%d", rng.IntN(6))}}}
		switch r := rng.IntN(10); {
		case r == 0 && len(ids) > 0:
			e.Type, e.Corrects = events.TypeRetraction, ids[rng.IntN(len(ids))]
		case r <= 2 && len(ids) > 0:
			e.Type, e.Corrects = events.TypeCorrection, ids[rng.IntN(len(ids))]
			at := events.Time{Time: start.AddDate(0, 0, rng.IntN(30)), Precision: events.Day}
			ps := randomPositions(rng, parties, issues, stances)
			e.Amend = &events.Amend{OccurredAt: &at, Positions: &ps}
		default:
			e.Positions = randomPositions(rng, parties, issues, stances)
			ids = append(ids, id)
		}
		out = append(out, projections.Message{Seq: uint64(i + 1), Time: recorded.Add(time.Duration(i) * 90 * time.Minute),
			Subject: "parley.events." + id, Data: events.Wrap(e, "")})
	}
	return out
}

func randomPositions(rng *rand.Rand, parties, issues, stances []string) []events.Position {
	var ps []events.Position
	seen := map[[2]string]bool{}
	for range rng.IntN(4) {
		p := events.Position{Party: parties[rng.IntN(len(parties))], Issue: issues[rng.IntN(len(issues))], Stance: stances[rng.IntN(len(stances))]}
		if seen[[2]string{p.Party, p.Issue}] {
			continue
		}
		seen[[2]string{p.Party, p.Issue}] = true
		if rng.IntN(2) == 0 {
			p.Value = events.Number(float64(500000 + 50000*rng.IntN(8)))
		}
		ps = append(ps, p)
	}
	return ps
}
