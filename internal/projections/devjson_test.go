package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/synth"
)

// TestDevelopmentJSON holds the hand-written encoding to encoding/json's,
// on odd strings and values and on every development of a synthetic
// negotiation with late events, corrections and retractions.
func TestDevelopmentJSON(t *testing.T) {
	at := time.Date(2025, 11, 25, 9, 0, 0, 123456789, time.UTC)
	cases := []struct {
		name string
		d    Development
	}{
		{"minimal", Development{Seq: 1, RecordedAt: at, Event: "e", Type: "statement"}},
		{"odd strings", Development{Seq: 2, RecordedAt: at.In(time.FixedZone("X", 3600)), Event: `a"b\c`, Type: "<t>&",
			Kinds: []string{}, Corrects: "é", Issues: []string{"ü\u2028"}, Parties: []string{"\x01", "\xff"},
			Note: "line\nbreak"}},
		{"changes", Development{Seq: 3, RecordedAt: at, Event: "e", Type: "t", Kinds: []string{KindNewEvent, KindTimelineRevised},
			Changes: []Change{
				{Issue: "i", Party: "p", Before: nil, After: &Position{Stance: "s", Value: events.Number(1.5), Event: "e"}},
				{Issue: "i", Party: "q", AsOf: "2025-11-24", Before: &Position{Stance: "s", Value: events.Text("a<b"), Event: "e", Disputed: true}, After: nil},
			},
			Revised: &Revision{From: "2025-11-24"}}},
		{"revised to", Development{Seq: 4, RecordedAt: at, Event: "e", Type: "t", Revised: &Revision{From: "a", To: "b"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { sameJSON(t, &c.d) })
	}

	g := &synth.Generator{Vocabulary: data.Vocabulary(), Seed: 3, Amends: 10}
	st := NewMem()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var n int
	for seq := uint64(1); seq <= 3000; {
		var batch []Message
		for range 100 {
			batch = append(batch, Message{Seq: seq, Time: start.Add(time.Duration(seq) * time.Second), Data: events.Wrap(g.Next(), "")})
			seq++
		}
		err := st.Update(context.Background(), func(tx Tx) error {
			outs, err := ApplyBatch(tx, batch)
			for _, o := range outs {
				if o.Development != nil {
					sameJSON(t, o.Development)
					n++
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 2900 {
		t.Fatalf("only %d developments compared", n)
	}
}

func sameJSON(t *testing.T, d *Development) {
	t.Helper()
	want, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.appendJSON(nil); !bytes.Equal(got, want) {
		t.Fatalf("development %d:\n got %s\nwant %s", d.Seq, got, want)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// varied gives synthetic events what an encoder must get right: dates
// without a time, a source's publication time with an offset, and a quote
// with quotation marks, HTML characters and a line separator.
func varied(seq uint64, e *events.Event) []byte {
	if seq%5 == 0 {
		y, m, d := e.OccurredAt.Time.Date()
		e.OccurredAt = events.Time{Time: time.Date(y, m, d, 0, 0, 0, 0, time.UTC), Precision: events.Day}
	}
	if seq%7 == 0 && len(e.Sources) > 0 {
		pub := events.MustTime("2025-11-20T10:30+02:00")
		e.Sources[0].PublishedAt = &pub
	}
	if seq%11 == 0 && len(e.Positions) > 0 {
		e.Positions[0].Quote = "\"We <will> not\" – an envoy\u2028"
	}
	return nil
}

// TestHistoryJSON holds AppendHistoryJSON, written from the claims' bytes,
// to encoding/json's of QueryHistory's page, over random pages of every
// issue's history: with and without a party, a range, a point of
// knowledge, and following the cursors.
func TestHistoryJSON(t *testing.T) {
	st := synthModel(t, 19, 1500, varied)
	v := data.Vocabulary()
	rng := rand.New(rand.NewPCG(8, 9))
	var pages, entries, firsts int
	var buf []byte
	err := st.View(context.Background(), func(tx Tx) error {
		for i := range 200 {
			q := HistoryQuery{Issue: v.Issues[rng.IntN(len(v.Issues))].ID, Limit: 1 + rng.IntN(60)}
			if rng.IntN(2) == 0 {
				q.Party = v.Parties[rng.IntN(len(v.Parties))].ID
			}
			if rng.IntN(3) == 0 {
				q.From = synthStart.AddDate(0, 0, rng.IntN(20)-10)
			}
			if rng.IntN(3) == 0 {
				q.Knowledge.At = synthStart.Add(time.Duration(rng.IntN(1500)) * time.Second)
			}
			for range 4 {
				h, err := QueryHistory(tx, q)
				if err != nil {
					return err
				}
				want, err := json.Marshal(h)
				if err != nil {
					return err
				}
				// Appended after bytes already there, into a buffer
				// reused from the query before, as the API does.
				buf, err = AppendHistoryJSON(append(buf[:0], "before"...), tx, q)
				if err != nil {
					return err
				}
				if got := buf[6:]; string(buf[:6]) != "before" || !bytes.Equal(got, want) {
					t.Fatalf("query %d %+v:\n got %s\nwant %s", i, q, buf, want)
				}
				pages++
				entries += len(h.Entries)
				for _, e := range h.Entries {
					if e.Before == nil {
						firsts++
					}
				}
				if h.NextCursor == "" {
					break
				}
				q.Cursor = h.NextCursor
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d pages, %d entries compared (%d firsts)", pages, entries, firsts)
	if entries < 2000 || firsts == 0 {
		t.Fatalf("compared %d entries, %d without a position before: too few to tell", entries, firsts)
	}
}

// TestStateReaderJSON holds StateReader's cells, written from the claim
// entries' bytes, to encoding/json's of QueryState's cells, issue by
// issue, at many times and points of knowledge, with disputes (claims of a
// whole day against claims of a minute of it), corrections, published
// times and quotes with characters JSON escapes.
func TestStateReaderJSON(t *testing.T) {
	st := synthModel(t, 29, 1500, varied)
	var cells, disputed int
	err := st.View(context.Background(), func(tx Tx) error {
		for i := range 60 {
			q := StateQuery{At: time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i/2)}
			if i%2 == 1 {
				q.Knowledge.At = synthStart.Add(time.Duration(i*20) * time.Second)
			}
			if i == 59 {
				q = StateQuery{}
			}
			s, err := QueryState(tx, q)
			if err != nil {
				return err
			}
			want := map[string]*IssueState{}
			for j := range s.Issues {
				want[s.Issues[j].Issue] = &s.Issues[j]
			}
			r := NewStateReader(tx, q)
			if r.Seq() != s.Seq {
				t.Fatalf("query %d: seq %d, want %d", i, r.Seq(), s.Seq)
			}
			for issue := range r.Issues() {
				got, n, err := r.AppendPositions(nil, issue)
				if err != nil {
					return err
				}
				var exp []byte
				if is := want[issue]; is != nil {
					for j, p := range slices.Sorted(maps.Keys(is.Positions)) {
						if j > 0 {
							exp = append(exp, ',')
						}
						cell, err := json.Marshal(is.Positions[p])
						if err != nil {
							return err
						}
						exp = append(append(events.AppendJSONString(exp, p), ':'), cell...)
						cells++
						if is.Positions[p].Disputed {
							disputed++
						}
					}
					if n != len(is.Positions) {
						t.Fatalf("query %d issue %s: %d cells, want %d", i, issue, n, len(is.Positions))
					}
					delete(want, issue)
				}
				if !bytes.Equal(got, exp) {
					t.Fatalf("query %d issue %s:\n got %s\nwant %s", i, issue, got, exp)
				}
			}
			if len(want) > 0 {
				t.Fatalf("query %d: issues %v not read", i, slices.Collect(maps.Keys(want)))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d cells compared, %d disputed", cells, disputed)
	if cells < 1000 || disputed == 0 {
		t.Fatalf("compared %d cells, %d disputed: too few to tell", cells, disputed)
	}
}
