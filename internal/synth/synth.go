// Package synth makes synthetic negotiations for tests and benchmarks:
// events of about 1 KiB drawn from a vocabulary, some late, some
// corrections and retractions of earlier ones, reproducible from a seed.
package synth

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/parley-news/parley/internal/events"
)

// PerDay is how many events the generator tells a day, on average: the
// history spans its count over PerDay days.
const PerDay = 50

// DefaultStart is the first event day when Generator.Start is zero: far
// enough back that a history of a million events (20,000 days) ends in
// 2004, dated before it is recorded, as a record is. An event dated after
// its recording states what is scheduled, which the projector tells
// apart: a history mostly of those would measure that rarer path.
var DefaultStart = time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC)

// Generator makes events. The zero value is not usable: set Vocabulary.
type Generator struct {
	Vocabulary *events.Vocabulary
	// Seed makes the sequence reproducible.
	Seed uint64
	// Start is the first event day; zero means DefaultStart.
	Start time.Time
	// Amends is the share of corrections and retractions, in percent.
	Amends int

	rng *rand.Rand
	n   int
	ids []string
}

var words = strings.Fields(`negotiators envoy draft plan ceasefire guarantees territory
withdrawal line contact sanctions assets reconstruction elections amnesty security council
proposal counter response statement talks summit deadline corridor monitoring mission`)

// Next returns the next event.
func (g *Generator) Next() events.Event {
	if g.rng == nil {
		g.rng = rand.New(rand.NewPCG(g.Seed, 0x5eed))
		if g.Start.IsZero() {
			g.Start = DefaultStart
		}
	}
	v, r := g.Vocabulary, g.rng
	g.n++
	id := fmt.Sprintf("synth-%08d", g.n)
	// Mostly in order, a tenth of them late by up to a week.
	day := g.n / PerDay
	if r.IntN(10) == 0 {
		day -= r.IntN(7)
	}
	at := g.Start.AddDate(0, 0, max(day, 0)).Add(time.Duration(r.IntN(24*60)) * time.Minute)
	e := events.Event{
		ID:         id,
		Type:       pick(r, v.Types).ID,
		OccurredAt: events.Time{Time: at, Precision: events.Minute},
		Title:      sentence(r, 8),
		Summary:    sentence(r, 45),
		Actors:     []string{pick(r, v.Parties).ID, pick(r, v.Parties).ID},
		People:     []string{"Person " + fmt.Sprint(r.IntN(100))},
		Location:   "Geneva",
		Sources: []events.Source{
			{Outlet: fmt.Sprintf("Outlet %d", r.IntN(40)), URL: fmt.Sprintf("https://news.example/%s", id)},
		},
	}
	if e.Actors[0] == e.Actors[1] {
		e.Actors = e.Actors[:1]
	}
	if len(g.ids) > 0 && r.IntN(100) < g.Amends {
		target := g.ids[r.IntN(len(g.ids))]
		if r.IntN(4) == 0 {
			e.Type, e.Corrects = events.TypeRetraction, target
		} else {
			ps := g.positions()
			e.Type, e.Corrects, e.Amend = events.TypeCorrection, target, &events.Amend{Positions: &ps}
		}
		return e
	}
	if e.Type == events.TypeCorrection || e.Type == events.TypeRetraction {
		e.Type = "statement"
	}
	e.Positions = g.positions()
	g.ids = append(g.ids, id)
	return e
}

func (g *Generator) positions() []events.Position {
	v, r := g.Vocabulary, g.rng
	var ps []events.Position
	seen := map[[2]string]bool{}
	for range 1 + r.IntN(3) {
		p := events.Position{Party: pick(r, v.Parties).ID, Issue: pick(r, v.Issues).ID, Stance: pick(r, v.Stances).ID,
			Quote: sentence(r, 12)}
		if seen[[2]string{p.Party, p.Issue}] {
			continue
		}
		seen[[2]string{p.Party, p.Issue}] = true
		if r.IntN(2) == 0 {
			p.Value = events.Number(float64(400000 + 50000*r.IntN(10)))
		}
		ps = append(ps, p)
	}
	return ps
}

// Events returns the next n events.
func (g *Generator) Events(n int) []events.Event {
	out := make([]events.Event, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

func pick(r *rand.Rand, ts []events.Term) events.Term { return ts[r.IntN(len(ts))] }

func sentence(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.String()
}
