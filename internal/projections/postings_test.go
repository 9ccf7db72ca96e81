package projections

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestPostings writes random postings of a few prefixes (the timeline's
// empty one among them) into a packed bucket, in batches of random
// sizes and in a random order, and holds the bucket, read through
// postingCursor, to the same entries kept sorted by hand: every walk both
// ways, a seek to every key and between keys, Get, and the latest key
// before a time. Two other batchings of the same postings must write
// the same bytes.
func TestPostings(t *testing.T) {
	prefixes := [][]byte{nil, namePrefix("a"), namePrefix("ab"), namePrefix("b")}
	type entry struct{ k, v []byte }
	rng := rand.New(rand.NewPCG(3, 4))
	var all []entry
	for seq := uint64(1); seq <= 3000; seq++ {
		prefix := prefixes[rng.IntN(len(prefixes))]
		// Mostly in order, some late, a few versions of one event.
		occ := time.Unix(int64(seq)*60, 0)
		if rng.IntN(10) == 0 {
			occ = time.Unix(int64(rng.IntN(int(seq)+1))*60, 0)
		}
		for ver := range uint16(1 + rng.IntN(2)) {
			v := make([]byte, validityLen)
			validity{from: seq, to: forever}.encode(v)
			all = append(all, entry{entryKey(prefix, occ, seq, ver), v})
		}
	}
	write := func(order []entry, batch func() int) *Mem {
		st := NewMem()
		for i := 0; i < len(order); {
			n := min(batch(), len(order)-i)
			err := st.Update(context.Background(), func(tx Tx) error {
				w := newPostingWriter(tx.Bucket(BucketByIssue))
				for _, e := range order[i : i+n] {
					if err := w.Put(e.k, e.v); err != nil {
						return err
					}
					// A close later in the same batch, as a correction.
					if e.k[len(e.k)-1] == 1 {
						old := w.Get(e.k)
						if old == nil {
							t.Fatalf("posting %x not found right after its put", e.k)
						}
						v := slices.Clone(old)
						vd := decodeValidity(v)
						vd.to = vd.from + 1
						vd.encode(v)
						if err := w.Put(e.k, v); err != nil {
							return err
						}
					}
				}
				return w.flush()
			})
			if err != nil {
				t.Fatal(err)
			}
			i += n
		}
		return st
	}
	shuffled := slices.Clone(all)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	models := []*Mem{
		write(all, func() int { return 1 + rng.IntN(50) }),
		write(all, func() int { return 4000 }),
		write(shuffled, func() int { return 1 + rng.IntN(700) }),
	}
	want := make([]entry, len(all))
	for i, e := range all {
		v := slices.Clone(e.v)
		if e.k[len(e.k)-1] == 1 {
			vd := decodeValidity(v)
			vd.to = vd.from + 1
			vd.encode(v)
		}
		want[i] = entry{e.k, v}
	}
	slices.SortFunc(want, func(a, b entry) int { return bytes.Compare(a.k, b.k) })

	var dumps [][]byte
	for mi, st := range models {
		var out bytes.Buffer
		err := st.View(context.Background(), func(tx Tx) error {
			if err := Dump(tx, &out); err != nil {
				return err
			}
			c := cursorOf(tx, BucketByIssue)
			var got []entry
			for k, v := c.First(); k != nil; k, v = c.Next() {
				got = append(got, entry{slices.Clone(k), slices.Clone(v)})
			}
			if !slices.EqualFunc(got, want, func(a, b entry) bool { return bytes.Equal(a.k, b.k) && bytes.Equal(a.v, b.v) }) {
				t.Fatalf("model %d: walked %d postings forward, want %d, or they differ", mi, len(got), len(want))
			}
			i := len(want) - 1
			for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
				if i < 0 || !bytes.Equal(k, want[i].k) {
					t.Fatalf("model %d: backward walk at %d: %x", mi, i, k)
				}
				i--
			}
			if i != -1 {
				t.Fatalf("model %d: backward walk ended %d short", mi, i+1)
			}
			for j := 0; j < 2000; j++ {
				var seek []byte
				switch x := want[rng.IntN(len(want))].k; j % 3 {
				case 0:
					seek = x
				case 1:
					seek = append(slices.Clone(x), 0) // just after it
				default:
					seek = prefixes[rng.IntN(len(prefixes))]
				}
				at, _ := slices.BinarySearchFunc(want, seek, func(e entry, s []byte) int { return bytes.Compare(e.k, s) })
				k, v := c.Seek(seek)
				switch {
				case at == len(want) && k != nil:
					t.Fatalf("model %d: seek %x gave %x, want the end", mi, seek, k)
				case at < len(want) && (!bytes.Equal(k, want[at].k) || !bytes.Equal(v, want[at].v)):
					t.Fatalf("model %d: seek %x gave %x, want %x", mi, seek, k, want[at].k)
				}
				// A step each way from a seek lands where the walk does.
				if at > 0 && at < len(want) {
					if k, _ := c.Prev(); !bytes.Equal(k, want[at-1].k) {
						t.Fatalf("model %d: prev after seek %x gave %x, want %x", mi, seek, k, want[at-1].k)
					}
					if k, _ := c.Next(); !bytes.Equal(k, want[at].k) {
						t.Fatalf("model %d: next after prev gave %x, want %x", mi, k, want[at].k)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		dumps = append(dumps, out.Bytes())
	}
	for i := 1; i < len(dumps); i++ {
		if !bytes.Equal(dumps[0], dumps[i]) {
			t.Errorf("batching %d wrote other bytes than batching 0 (%d against %d bytes of dump)", i, len(dumps[i]), len(dumps[0]))
		}
	}
	// Blocks are neither one posting each nor all in one.
	err := models[0].View(context.Background(), func(tx Tx) error {
		n := 0
		c := tx.Bucket(BucketByIssue).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			n++
		}
		if n < len(want)/100 || n > len(want)/8 {
			t.Errorf("%d postings in %d blocks: want blocks of about 32", len(want), n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLatestBefore holds postingWriter.latestBefore, what tells a late
// event, to the latest timeline key at or before a time, over what the
// bucket held before the batch and what the batch put.
func TestLatestBefore(t *testing.T) {
	st := NewMem()
	put := func(w *postingWriter, mins ...int64) {
		for _, m := range mins {
			v := make([]byte, validityLen)
			validity{from: uint64(m), to: forever}.encode(v)
			if err := w.Put(entryKey(nil, time.Unix(m*60, 0), uint64(m), 0), v); err != nil {
				t.Fatal(err)
			}
		}
	}
	err := st.Update(context.Background(), func(tx Tx) error {
		w := newPostingWriter(tx.Bucket(BucketTimeline))
		put(w, 10, 20, 30)
		return w.flush()
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(context.Background(), func(tx Tx) error {
		w := newPostingWriter(tx.Bucket(BucketTimeline))
		put(w, 25, 40)
		for _, c := range []struct {
			at   int64
			want int64 // 0: none
		}{{5, 0}, {10, 10}, {24, 20}, {25, 25}, {29, 25}, {35, 30}, {99, 40}} {
			got, ok := w.latestBefore(timeKey(time.Unix(c.at*60, 0)))
			switch {
			case c.want == 0 && ok:
				t.Errorf("at %d: %v, want none", c.at, keyTime(got))
			case c.want != 0 && (!ok || got != timeKey(time.Unix(c.want*60, 0))):
				t.Errorf("at %d: %v (%v), want %d", c.at, keyTime(got), ok, c.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
