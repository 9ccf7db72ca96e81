package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
)

// TestTimelineJSON holds AppendTimelineJSON to the JSON of QueryTimeline's
// page, on a synthetic negotiation with late events, corrections and
// retractions (some of events whose stored JSON is not canonical), for
// random filters, ranges, points of knowledge, page sizes and cursors.
func TestTimelineJSON(t *testing.T) {
	v := data.Vocabulary()
	respelled := map[string]bool{}
	st := synthModel(t, 21, 1200, func(seq uint64, e *events.Event) []byte {
		if seq%9 != 0 {
			return nil
		}
		// Another producer's spelling of the same event: spaces in its
		// JSON, which the stream keeps as they came.
		respelled[e.ID] = true
		return bytes.Replace(events.Wrap(*e, ""), []byte(`"data":{"id":`), []byte(`"data":{ "id" :`), 1)
	})
	start := synthStart
	rng := rand.New(rand.NewPCG(4, 5))
	pick := func(ids []string) string {
		if rng.IntN(3) == 0 {
			return ""
		}
		return ids[rng.IntN(len(ids))]
	}
	var issues, parties, types []string
	for _, x := range v.Issues {
		issues = append(issues, x.ID)
	}
	for _, x := range v.Parties {
		parties = append(parties, x.ID)
	}
	for _, x := range v.Types {
		types = append(types, x.ID)
	}
	var slowPaths, pages, corrected, retracted int
	var buf []byte
	err := st.View(context.Background(), func(tx Tx) error {
		for i := range 400 {
			q := TimelineQuery{Issue: pick(issues), Party: pick(parties), Type: pick(types), Limit: 1 + rng.IntN(40)}
			if rng.IntN(2) == 0 {
				q.From = time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(24)) // synth's first day on
			}
			if rng.IntN(3) == 0 {
				q.To = q.From.AddDate(0, 0, 1+rng.IntN(10))
			}
			if rng.IntN(3) == 0 {
				q.Knowledge.At = start.Add(time.Duration(rng.IntN(1300)) * time.Second)
			}
			for page := 0; page < 5; page++ {
				want, err := QueryTimeline(tx, q)
				if err != nil {
					return err
				}
				wantJSON, err := json.Marshal(want)
				if err != nil {
					return err
				}
				// Appended after bytes already there, into a buffer
				// reused from the query before, as the API does.
				buf, err = AppendTimelineJSON(append(buf[:0], "before"...), tx, q)
				if err != nil {
					return err
				}
				if got := buf[:6]; string(got) != "before" {
					t.Fatalf("query %d: the bytes before the answer became %q", i, got)
				}
				if got := buf[6:]; !bytes.Equal(got, wantJSON) {
					t.Fatalf("query %d %+v page %d:\n got %s\nwant %s", i, q, page, got, wantJSON)
				}
				pages++
				for _, ev := range want.Events {
					if respelled[ev.ID] && ev.Version == 0 {
						slowPaths++
					}
					if ev.Version > 0 {
						corrected++
					}
					if ev.Retracted {
						retracted++
					}
				}
				if q.Cursor = want.NextCursor; q.Cursor == "" {
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d pages compared, %d events shown from JSON that was not canonical, %d corrected, %d retracted", pages, slowPaths, corrected, retracted)
	if pages < 400 || slowPaths == 0 || corrected == 0 || retracted == 0 {
		t.Fatalf("%d pages compared, %d events from JSON that was not canonical: too few to tell", pages, slowPaths)
	}
}
