package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
)

// TestDescendingPages holds the walks newest first to the walks oldest
// first, on a synthetic negotiation with late events, corrections and
// retractions: for random filters, ranges, points of knowledge and page
// sizes, the pages newest first, cursor after cursor, are the one page
// oldest first reversed, entry for entry (as their JSON), and the bytes
// the API writes for each page are those of the page.
func TestDescendingPages(t *testing.T) {
	st := synthModel(t, 23, 1200, varied)
	v := data.Vocabulary()
	rng := rand.New(rand.NewPCG(6, 7))
	pick := func(terms int, id func(int) string) string {
		if rng.IntN(3) == 0 {
			return ""
		}
		return id(rng.IntN(terms))
	}
	// span picks a range of event time and a point of knowledge.
	span := func() (from, to time.Time, k Knowledge) {
		if rng.IntN(2) == 0 {
			from = time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(24))
		}
		if rng.IntN(3) == 0 {
			to = time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1+rng.IntN(40))
			if to.Before(from) {
				from, to = to, from
			}
		}
		if rng.IntN(3) == 0 {
			k.At = synthStart.Add(time.Duration(rng.IntN(1300)) * time.Second)
		}
		return from, to, k
	}
	// ids names where two answers part.
	ids := func(xs []string) []string {
		var out []string
		for _, x := range xs {
			var e struct {
				ID, Event  string
				OccurredAt string `json:"occurred_at"`
				Seq        uint64
			}
			json.Unmarshal([]byte(x), &e)
			out = append(out, fmt.Sprintf("%s%s@%s#%d", e.ID, e.Event, e.OccurredAt, e.Seq))
		}
		return out
	}
	// jsons is the JSON of each of xs, in order; reversed, last first.
	jsons := func(xs any) []string {
		var raw []json.RawMessage
		b, _ := json.Marshal(xs)
		json.Unmarshal(b, &raw)
		out := make([]string, len(raw))
		for i, r := range raw {
			out[i] = string(r)
		}
		return out
	}
	reversed := func(xs any) []string {
		out := jsons(xs)
		slices.Reverse(out)
		return out
	}
	var pages, corrected, retracted, befores int
	err := st.View(context.Background(), func(tx Tx) error {
		for i := range 150 {
			q := TimelineQuery{Limit: MaxLimit,
				Issue: pick(len(v.Issues), func(i int) string { return v.Issues[i].ID }),
				Party: pick(len(v.Parties), func(i int) string { return v.Parties[i].ID }),
				Type:  pick(len(v.Types), func(i int) string { return v.Types[i].ID })}
			q.From, q.To, q.Knowledge = span()
			asc, err := QueryTimeline(tx, q)
			if err != nil {
				return err
			}
			if asc.NextCursor != "" {
				t.Fatalf("query %d: more than %d events", i, MaxLimit)
			}
			want := reversed(asc.Events)
			q.Desc, q.Limit = true, 1+rng.IntN(40)
			var got []*EventView
			for range 1300 {
				p, err := QueryTimeline(tx, q)
				if err != nil {
					return err
				}
				b, err := AppendTimelineJSON(nil, tx, q)
				if err != nil {
					return err
				}
				if wantB, _ := json.Marshal(p); string(b) != string(wantB) {
					t.Fatalf("query %d %+v: AppendTimelineJSON\n got %s\nwant %s", i, q, b, wantB)
				}
				pages++
				got = append(got, p.Events...)
				if q.Cursor = p.NextCursor; q.Cursor == "" {
					break
				}
			}
			for _, e := range got {
				if e.Version > 0 {
					corrected++
				}
				if e.Retracted {
					retracted++
				}
			}
			if g := jsons(got); !slices.Equal(g, want) {
				t.Fatalf("timeline query %d %+v: %d events newest first, want %d:\n got %v\nwant %v", i, q, len(g), len(want), ids(g), ids(want))
			}
		}
		for i := range 100 {
			q := HistoryQuery{Issue: v.Issues[rng.IntN(len(v.Issues))].ID, Limit: MaxLimit,
				Party: pick(len(v.Parties), func(i int) string { return v.Parties[i].ID })}
			q.From, q.To, q.Knowledge = span()
			asc, err := QueryHistory(tx, q)
			if err != nil {
				return err
			}
			want := reversed(asc.Entries)
			q.Desc, q.Limit = true, 1+rng.IntN(40)
			var got []*HistoryEntry
			for range 1300 {
				h, err := QueryHistory(tx, q)
				if err != nil {
					return err
				}
				b, err := AppendHistoryJSON(nil, tx, q)
				if err != nil {
					return err
				}
				if wantB, _ := json.Marshal(h); string(b) != string(wantB) {
					t.Fatalf("query %d %+v: AppendHistoryJSON\n got %s\nwant %s", i, q, b, wantB)
				}
				got = append(got, h.Entries...)
				if q.Cursor = h.NextCursor; q.Cursor == "" {
					break
				}
			}
			for _, e := range got {
				if e.Before != nil {
					befores++
				}
			}
			if g := jsons(got); !slices.Equal(g, want) {
				t.Fatalf("history query %d %+v: %d entries newest first, want %d:\n got %v\nwant %v", i, q, len(g), len(want), ids(g), ids(want))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The model must exercise what the walk back must get right.
	if pages < 300 || corrected == 0 || retracted == 0 || befores == 0 {
		t.Fatalf("too little covered: %d pages, %d corrected, %d retracted, %d entries with a position before", pages, corrected, retracted, befores)
	}
}

// TestCursorDirection: a cursor is good for the direction that issued it
// only; the other would skip, or repeat, everything on one side of it.
func TestCursorDirection(t *testing.T) {
	st := synthModel(t, 29, 200, nil)
	err := st.View(context.Background(), func(tx Tx) error {
		for _, desc := range []bool{false, true} {
			p, err := QueryTimeline(tx, TimelineQuery{Limit: 5, Desc: desc})
			if err != nil {
				return err
			}
			_, err = QueryTimeline(tx, TimelineQuery{Limit: 5, Desc: !desc, Cursor: p.NextCursor})
			if !errors.Is(err, ErrBadCursor) {
				t.Errorf("timeline cursor of desc=%v read with desc=%v: %v, want ErrBadCursor", desc, !desc, err)
			}
			// The reader is told which order the cursor belongs to.
			if want := map[bool]string{false: "page oldest first", true: "page newest first"}[desc]; err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("timeline cursor of desc=%v read with desc=%v: %v, want it to say %q", desc, !desc, err, want)
			}
			h, err := QueryHistory(tx, HistoryQuery{Issue: "army-cap", Limit: 2, Desc: desc})
			if err != nil {
				return err
			}
			if h.NextCursor == "" {
				t.Fatalf("history of army-cap has one page only")
			}
			if _, err := QueryHistory(tx, HistoryQuery{Issue: "army-cap", Limit: 2, Desc: !desc, Cursor: h.NextCursor}); !errors.Is(err, ErrBadCursor) {
				t.Errorf("history cursor of desc=%v read with desc=%v: %v, want ErrBadCursor", desc, !desc, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
