package projections

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/synth"
)

// TestClaimEntriesMatchRecords holds every claim entry of a synthetic
// negotiation (corrections and retractions included) to the event record
// it was written from: answers read claims from the index alone, and must
// show what the record says.
func TestClaimEntriesMatchRecords(t *testing.T) {
	st := synthModel(t, 11, 2000, func(seq uint64, e *events.Event) []byte {
		if seq%7 == 0 && len(e.Sources) > 0 {
			// Published times and a missing URL, which synth leaves out.
			pub := events.MustTime("2025-11-20T10:30+02:00")
			e.Sources[0].PublishedAt, e.Sources[0].URL = &pub, ""
		}
		if seq%11 == 0 && len(e.Positions) > 0 {
			e.Positions[0].Quote = `"We <will> not" – an envoy`
		}
		return nil
	})
	var n, corrected, published, escaped int
	err := st.View(context.Background(), func(tx Tx) error {
		names := pairNames(tx)
		c := tx.Bucket(BucketClaims).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			pk := k[:len(k)-claimKeyLen]
			names := names[string(pk)]
			h, err := decodeClaimHead(v)
			if err != nil {
				t.Fatal(err)
			}
			ref := claimRef{issue: names[0], party: names[1], suffix: k[len(pk):], head: h}
			got, err := ref.claim()
			if err != nil {
				t.Fatal(err)
			}
			rec, err := getRecord(tx, got.Event)
			if err != nil || rec == nil {
				t.Fatalf("record %s: %v", got.Event, err)
			}
			ver := &rec.Versions[ref.ver()]
			e := &ver.Event
			p := e.Positions[ref.pos()]
			want := Claim{Issue: p.Issue, Party: p.Party, Stance: p.Stance, Value: p.Value, Quote: p.Quote,
				Event: rec.ID, Type: e.Type, Title: e.Title, OccurredAt: e.OccurredAt, Seq: rec.Seq,
				RecordedAt: rec.RecordedAt, Sources: slices.Clone(e.Sources), CorrectedBy: ver.By}
			if ver.By != "" {
				want.CorrectedAt = &ver.RecordedAt
			}
			if !reflect.DeepEqual(jsonOf(t, got), jsonOf(t, want)) {
				t.Fatalf("claim %x:\n got %s\nwant %s", k, jsonOf(t, got), jsonOf(t, want))
			}
			// The plain flag lets answers copy the strings unescaped: it
			// must be set exactly when encoding/json would copy them.
			j := jsonOf(t, got)
			if plain := !strings.Contains(j, `\`); h.plain != plain {
				t.Fatalf("claim %x: plain flag %v, JSON %s", k, h.plain, j)
			}
			if !h.plain {
				escaped++
			}
			n++
			if got.CorrectedBy != "" {
				corrected++
			}
			if len(got.Sources) > 0 && got.Sources[0].PublishedAt != nil {
				published++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 2000 || corrected == 0 || published == 0 || escaped == 0 || escaped == n {
		t.Fatalf("compared %d claims, %d of corrected versions, %d with published times, %d escaped: too few to tell", n, corrected, published, escaped)
	}
}

// synthModel applies n events of a synthetic negotiation (a tenth of them
// corrections and retractions) to a memory store in one batch, recorded a
// second apart. edit, when not nil, may change each event, or return the
// message's data itself.
func synthModel(t *testing.T, seed uint64, n uint64, edit func(seq uint64, e *events.Event) []byte) *Mem {
	t.Helper()
	g := &synth.Generator{Vocabulary: data.Vocabulary(), Seed: seed, Amends: 10}
	st := NewMem()
	var batch []Message
	for seq := uint64(1); seq <= n; seq++ {
		e := g.Next()
		var d []byte
		if edit != nil {
			d = edit(seq, &e)
		}
		if d == nil {
			d = events.Wrap(e, "")
		}
		batch = append(batch, Message{Seq: seq, Time: synthStart.Add(time.Duration(seq) * time.Second), Data: d})
	}
	if err := st.Update(context.Background(), func(tx Tx) error { _, err := ApplyBatch(tx, batch); return err }); err != nil {
		t.Fatal(err)
	}
	return st
}

// synthStart is when synthModel's stream starts recording.
var synthStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// pairNames maps each pair's id to its issue and party.
func pairNames(tx Tx) map[string][2]string {
	out := map[string][2]string{}
	for p := range pairs(tx, nil) {
		out[string(p.id)] = [2]string{p.issue, p.party}
	}
	return out
}

// TestIssueHistoryMergesParties pages through the history of each issue
// of a synthetic negotiation, a few entries at a time, and holds it to
// the issue's claims sorted by hand: every claim believed, once, in
// event-time order, across the parties.
func TestIssueHistoryMergesParties(t *testing.T) {
	st := synthModel(t, 12, 1500, nil)
	err := st.View(context.Background(), func(tx Tx) error {
		seq := Checkpoint(tx)
		for _, issue := range data.Vocabulary().Issues {
			type entry struct{ suffix, party, event string }
			var want []entry
			for p := range pairs(tx, namePrefix(issue.ID)) {
				c := tx.Bucket(BucketClaims).Cursor()
				for k, v := c.Seek(p.id); k != nil && bytes.HasPrefix(k, p.id); k, v = c.Next() {
					if decodeValidity(v).at(seq) {
						h, err := decodeClaimHead(v)
						if err != nil {
							return err
						}
						want = append(want, entry{string(k[len(k)-claimKeyLen:]), p.party, string(h.event)})
					}
				}
			}
			slices.SortFunc(want, func(a, b entry) int { return strings.Compare(a.suffix, b.suffix) })
			var got []entry
			cursor := ""
			for pages := 0; ; pages++ {
				h, err := QueryHistory(tx, HistoryQuery{Issue: issue.ID, Limit: 7, Cursor: cursor})
				if err != nil {
					return err
				}
				for _, e := range h.Entries {
					got = append(got, entry{party: e.Party, event: e.Event})
				}
				if cursor = h.NextCursor; cursor == "" || pages > 1000 {
					break
				}
			}
			if len(got) != len(want) {
				t.Fatalf("issue %s: %d entries paged, %d claims believed", issue.ID, len(got), len(want))
			}
			for i := range want {
				if got[i].party != want[i].party || got[i].event != want[i].event {
					t.Fatalf("issue %s entry %d: %s by %s, want %s by %s", issue.ID, i, got[i].event, got[i].party, want[i].event, want[i].party)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDecodeRecordRefusesDamage feeds every truncation of a real record,
// and a few bytes of nonsense, to decodeRecord: an error each time, never
// a panic or a record made of garbage.
func TestDecodeRecordRefusesDamage(t *testing.T) {
	st := synthModel(t, 13, 50, nil)
	err := st.View(context.Background(), func(tx Tx) error {
		k, v := tx.Bucket(BucketEvents).Cursor().First()
		if k == nil {
			t.Fatal("no record")
		}
		if _, err := decodeRecord(v, true); err != nil {
			t.Fatalf("whole record: %v", err)
		}
		for n := range len(v) {
			if _, err := decodeRecord(v[:n], true); err == nil {
				t.Fatalf("record cut to %d of %d bytes decoded", n, len(v))
			}
		}
		for _, b := range [][]byte{nil, {0}, {2, 1, 'a'}, []byte(`{"id":"x"}`)} {
			if _, err := decodeRecord(b, true); err == nil {
				t.Fatalf("%q decoded", b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDecodeRecordIntoLeavesNothingBehind reads every record of a model
// with corrections and retractions into one eventRecord, in key order and
// backwards, and holds each to a record read afresh: nothing of a longer
// record read before (versions, lists, a retraction) may remain.
func TestDecodeRecordIntoLeavesNothingBehind(t *testing.T) {
	st := synthModel(t, 23, 600, nil)
	err := st.View(context.Background(), func(tx Tx) error {
		var raws [][]byte
		c := tx.Bucket(BucketEvents).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			raws = append(raws, v)
		}
		rev := slices.Clone(raws)
		slices.Reverse(rev)
		shared, names := new(eventRecord), map[string]string{}
		var multi, retracted int
		for _, raw := range append(raws, rev...) {
			want, err := decodeRecord(raw, false)
			if err != nil {
				return err
			}
			if err := decodeRecordInto(shared, raw, false, names); err != nil {
				return err
			}
			if !reflect.DeepEqual(shared, want) {
				t.Fatalf("record %s read into a used record:\n got %+v\nwant %+v", want.ID, shared, want)
			}
			if len(want.Versions) > 1 {
				multi++
			}
			if want.Retraction != nil {
				retracted++
			}
		}
		if multi == 0 || retracted == 0 {
			t.Fatalf("%d corrected and %d retracted records: too few to tell", multi, retracted)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSameMoment compares event times at the coarser precision, in UTC.
func TestSameMoment(t *testing.T) {
	day, minute, second := events.Day, events.Minute, events.Second
	at := func(s string) time.Time { return events.MustTime(s).Time }
	cases := []struct {
		a     string
		pa    events.Precision
		b     string
		pb    events.Precision
		equal bool
	}{
		{"2025-11-23", day, "2025-11-23T14:30Z", minute, true},
		{"2025-11-23", day, "2025-11-24", day, false},
		{"2025-11-23", day, "2025-12-23", day, false},
		{"2025-11-23", day, "2026-11-23", day, false},
		{"2025-11-23T23:30-02:00", minute, "2025-11-24", day, true}, // 01:30 UTC on the 24th
		{"2025-11-23T14:30Z", minute, "2025-11-23T14:30:59Z", second, true},
		{"2025-11-23T14:30Z", minute, "2025-11-23T14:31:00Z", second, false},
		{"2025-11-23T14:30:00Z", second, "2025-11-23T14:30:00.5Z", second, false},
	}
	for _, c := range cases {
		if got := sameMoment(at(c.a), c.pa, at(c.b), c.pb); got != c.equal {
			t.Errorf("sameMoment(%s, %s) = %v, want %v", c.a, c.b, got, c.equal)
		}
		if got := sameMoment(at(c.b), c.pb, at(c.a), c.pa); got != c.equal {
			t.Errorf("sameMoment(%s, %s) = %v, want %v", c.b, c.a, got, c.equal)
		}
	}
}
