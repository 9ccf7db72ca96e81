package projections_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/projections/storetest"
)

// oracle answers "what was each position as of T, as known at sequence S"
// the slow, obvious way: replay every message up to S, then look at every
// claim. The indexed read model must agree with it everywhere.
type oracle struct{ msgs []projections.Message }

type oracleVersion struct {
	from uint64
	e    events.Event
}

type oracleClaim struct {
	occ time.Time
	seq uint64
	p   events.Position
}

// claims replays the messages up to s and returns every position the
// events then believed state, each with its event's time and sequence.
func (o oracle) claims(s uint64) []oracleClaim {
	type rec struct {
		seq       uint64
		versions  []oracleVersion
		retracted bool
	}
	recs := map[string]*rec{}
	var order []string
	for _, m := range o.msgs {
		if m.Seq > s {
			break
		}
		e, err := events.Unwrap(m.Data)
		if err != nil || recs[e.ID] != nil {
			continue
		}
		recs[e.ID] = &rec{seq: m.Seq, versions: []oracleVersion{{m.Seq, e}}}
		order = append(order, e.ID)
		if e.Corrects == "" {
			continue
		}
		t := recs[e.Corrects]
		if t == nil {
			continue
		}
		cur := t.versions[len(t.versions)-1].e
		if cur.Type == events.TypeCorrection || cur.Type == events.TypeRetraction {
			continue
		}
		if e.Type == events.TypeRetraction {
			t.retracted = true
		} else {
			t.versions = append(t.versions, oracleVersion{m.Seq, cur.Amended(e.Amend)})
		}
	}
	var all []oracleClaim
	for _, id := range order {
		r := recs[id]
		e := r.versions[len(r.versions)-1].e
		if r.retracted || e.Type == events.TypeCorrection || e.Type == events.TypeRetraction {
			continue
		}
		for _, p := range e.Positions {
			all = append(all, oracleClaim{e.OccurredAt.Time, r.seq, p})
		}
	}
	return all
}

func cellOf(all []oracleClaim, issue, party string, at time.Time) (stance, value string, disputed, ok bool) {
	var top *oracleClaim
	for i := range all {
		c := &all[i]
		if c.p.Issue != issue || c.p.Party != party || c.occ.After(at) {
			continue
		}
		if top == nil || c.occ.After(top.occ) || (c.occ.Equal(top.occ) && c.seq > top.seq) {
			top = c
		}
	}
	if top == nil {
		return "", "", false, false
	}
	for _, c := range all {
		if c.p.Issue != issue || c.p.Party != party || c.occ.After(at) {
			continue
		}
		if c.occ.Format(time.DateOnly) == top.occ.Format(time.DateOnly) &&
			(c.p.Stance != top.p.Stance || !c.p.Value.Equal(top.p.Value)) {
			disputed = true
		}
	}
	return top.p.Stance, top.p.Value.String(), disputed, true
}

// TestStateMatchesBruteForce is a simulation: random histories with late
// events, corrections and retractions, queried at random event times and
// points of knowledge, against the oracle.
func TestStateMatchesBruteForce(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		msgs := storetest.RandomHistory(rng, 250)
		store := projections.NewMem()
		err := store.Update(context.Background(), func(tx projections.Tx) error {
			for _, m := range msgs {
				if _, err := projections.Apply(tx, m); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		o := oracle{msgs}
		start := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
		for q := 0; q < 150; q++ {
			at := start.AddDate(0, 0, rng.IntN(32)).Add(-time.Nanosecond)
			s := uint64(rng.IntN(len(msgs)) + 1)
			known := msgs[s-1].Time
			var st *projections.State
			store.View(context.Background(), func(tx projections.Tx) error {
				st, err = projections.QueryState(tx, projections.StateQuery{At: at, Knowledge: projections.Knowledge{At: known}})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			claims := o.claims(s)
			got := map[[2]string]*projections.Cell{}
			for _, is := range st.Issues {
				for p, c := range is.Positions {
					got[[2]string{is.Issue, p}] = c
				}
			}
			for _, issue := range []string{"army-cap", "nato-membership", "sanctions", "elections", "territory-donetsk"} {
				for _, party := range []string{"us", "ua", "ru", "e3", "eu"} {
					stance, value, disputed, ok := cellOf(claims, issue, party, at)
					c := got[[2]string{issue, party}]
					switch {
					case !ok && c != nil:
						t.Fatalf("seed %d at %s seq %d %s/%s: model has %s, oracle none", seed, at, s, issue, party, c.Stance)
					case ok && c == nil:
						t.Fatalf("seed %d at %s seq %d %s/%s: model none, oracle %s %s", seed, at, s, issue, party, stance, value)
					case ok && (c.Stance != stance || c.Value.String() != value || c.Disputed != disputed):
						t.Fatalf("seed %d at %s seq %d %s/%s: model %s %s disputed=%v, oracle %s %s disputed=%v",
							seed, at, s, issue, party, c.Stance, c.Value, c.Disputed, stance, value, disputed)
					}
				}
			}
		}
	}
}
