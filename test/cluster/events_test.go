//go:build cluster

package cluster_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
)

// corpus is a set of NDJSON files of generated events and what ingesting
// them must leave in the stream.
type corpus struct {
	Files []string
	// Want is, for each event that must be stored, the hash of its data.
	Want map[string][32]byte
	// Invalid are ids of records rejected by validation: never stored.
	Invalid map[string]bool
	// Expected totals over all files, as ingest prints them.
	Appended, Duplicate, Rejected, Conflict int
}

// writeCorpus writes n events over files NDJSON files in dir, their ids
// and file names starting with prefix, drawn from
// the shipped vocabulary, about 1 KiB each. Among them: invalid records
// (an unknown party), records repeated as they were (duplicates), records
// that reuse an id for other content (conflicts) and corrections
// of events of earlier files, which ingest checks against the stream.
func writeCorpus(t *testing.T, dir, prefix string, n, files int) corpus {
	t.Helper()
	v := data.Vocabulary()
	r := rand.New(rand.NewPCG(42, 1))
	c := corpus{Want: map[string][32]byte{}, Invalid: map[string]bool{}}
	words := strings.Fields(`negotiators envoy draft plan ceasefire guarantees territory withdrawal
line contact sanctions assets reconstruction elections amnesty security council proposal counter
response statement talks summit deadline corridor monitoring mission delegation memorandum annex`)
	sentence := func(k int) string {
		var b strings.Builder
		for i := range k {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[r.IntN(len(words))])
		}
		return b.String()
	}
	types := []string{"leak", "delivery", "talks", "proposal", "response", "statement", "deadline", "incident"}
	start := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	var stored []events.Event // every stored event so far, for duplicates, conflicts and corrections
	var originals []int       // the indexes in stored of those that are no correction
	perFile := (n + files - 1) / files
	made := 0
	for f := range files {
		path := filepath.Join(dir, fmt.Sprintf("%sevents-%02d.ndjson", prefix, f))
		fh, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(fh)
		write := func(e events.Event) {
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(b)
			w.WriteByte('\n')
		}
		firstOfFile, originalsOfFile := len(stored), len(originals)
		for i := 0; i < perFile && made < n; i++ {
			made++
			at := start.Add(time.Duration(made) * 17 * time.Minute)
			e := events.Event{
				ID:         fmt.Sprintf("%sev-%07d", prefix, made),
				Type:       types[r.IntN(len(types))],
				OccurredAt: events.Time{Time: at, Precision: events.Minute},
				Title:      sentence(8),
				Summary:    sentence(70),
				Actors:     []string{v.Parties[r.IntN(len(v.Parties))].ID},
				People:     []string{fmt.Sprintf("Envoy %d", r.IntN(50))},
				Location:   "Geneva",
				Sources: []events.Source{
					{Outlet: "Reuters", URL: fmt.Sprintf("https://example.org/news/%d", made)},
					{Outlet: "Kyiv Independent"},
				},
				Positions: []events.Position{{
					Party:  v.Parties[r.IntN(len(v.Parties))].ID,
					Issue:  v.Issues[r.IntN(len(v.Issues))].ID,
					Stance: v.Stances[r.IntN(len(v.Stances))].ID,
					Value:  events.Number(float64(r.IntN(1000) * 1000)),
					Quote:  sentence(12),
				}},
			}
			switch {
			case made%997 == 0:
				e.ID = fmt.Sprintf("%sbad-%07d", prefix, made)
				e.Actors = []string{"atlantis"}
				c.Invalid[e.ID] = true
				c.Rejected++
				write(e)
				continue
			case made%1499 == 0 && len(stored) > firstOfFile:
				write(stored[firstOfFile+r.IntN(len(stored)-firstOfFile)])
				c.Duplicate++
				continue
			case made%1999 == 0 && len(stored) > firstOfFile:
				other := stored[firstOfFile+r.IntN(len(stored)-firstOfFile)]
				other.Title = "Conflicting " + other.Title
				write(other)
				c.Conflict++
				continue
			case made%101 == 0 && originalsOfFile > 0:
				// A correction of an event of an earlier file: ingest asks
				// the stream whether it is there, and what it is (one that
				// is itself a correction is refused).
				target := stored[originals[r.IntN(originalsOfFile)]]
				title := "Corrected: " + target.Title
				e.Type, e.Corrects, e.Amend, e.Positions = events.TypeCorrection, target.ID, &events.Amend{Title: &title}, nil
			}
			if errs := v.Validate(&e); errs != nil {
				t.Fatalf("generated event %s is invalid: %v", e.ID, errs)
			}
			write(e)
			if e.Type != events.TypeCorrection {
				originals = append(originals, len(stored))
			}
			stored = append(stored, e)
			c.Want[e.ID] = sha256.Sum256(e.Canonical())
			c.Appended++
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := fh.Close(); err != nil {
			t.Fatal(err)
		}
		c.Files = append(c.Files, path)
	}
	return c
}
