package delivery

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/projections"
)

// TestReach: how far a mark covers the developments a read model holds,
// in the history it was taken in, in one written on after a restore from
// an older backup (same sequences, recorded later), and by time alone.
func TestReach(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "readmodel.db"), bolt.Options{Buckets: Buckets})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(seq uint64) time.Time { return t0.Add(time.Duration(seq) * time.Minute) }
	// Developments at 1..4 and 6..8 (5 is a message that made none).
	err = st.Update(ctx, func(tx projections.Tx) error {
		if err := projections.Init(tx); err != nil {
			return err
		}
		for _, seq := range []uint64{1, 2, 3, 4, 6, 7, 8} {
			b, _ := json.Marshal(&projections.Development{Seq: seq, RecordedAt: at(seq), Event: "e", Type: "statement"})
			if err := tx.Bucket(projections.BucketDevelopments).Put(binary.BigEndian.AppendUint64(nil, seq), b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		m     mark
		floor uint64
		want  uint64
	}{
		{"same history, at a development", mark{Seq: 4, At: at(4)}, 0, 4},
		{"same history, at a message without one", mark{Seq: 5, At: at(5)}, 0, 5},
		{"a replica behind the mark", mark{Seq: 20, At: at(20)}, 0, 20},
		{"written on after a restore: 7 and 8 are new", mark{Seq: 20, At: at(6)}, 0, 6},
		{"every development new", mark{Seq: 20, At: t0}, 0, 0},
		{"what the floor covers, to the next development", mark{Seq: 20, At: at(3)}, 4, 5},
		{"below the floor", mark{Seq: 2, At: at(2)}, 6, 6},
		{"before times were kept: the sequence alone", mark{Seq: 7}, 0, 7},
		{"by time alone, to the last development", mark{Seq: 8, At: at(6).Add(time.Second)}, 0, 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got uint64
			err := st.View(ctx, func(tx projections.Tx) error {
				var err error
				got, err = reach(tx, c.m, c.floor)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("reach(%+v, %d) = %d, want %d", c.m, c.floor, got, c.want)
			}
		})
	}
}

// TestMarkEncodings: the values of pos.<id> and alert_scanned, and the
// bare sequence written before marks had a stream and a time.
func TestMarkEncodings(t *testing.T) {
	m := mark{Seq: 42, At: time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC), Stream: "PARLEY@2026-01-01T00:00:00Z"}
	for _, c := range []struct {
		name     string
		v        []byte
		want     mark
		wantHigh uint64
		ok       bool
	}{
		{"written now", encodePos(m, 50), m, 50, true},
		{"written before", []byte("17"), mark{Seq: 17}, 17, true},
		{"not understood", []byte("x"), mark{}, 0, false},
	} {
		got, high, ok := decodePos(c.v)
		if ok != c.ok || high != c.wantHigh || got.Seq != c.want.Seq || !got.At.Equal(c.want.At) || got.Stream != c.want.Stream {
			t.Errorf("%s: decodePos(%s) = %+v %d %v, want %+v %d %v", c.name, c.v, got, high, ok, c.want, c.wantHigh, c.ok)
		}
	}
	for _, c := range []struct {
		name string
		v    []byte
		want mark
		ok   bool
	}{
		{"written now", encodeScanned(m), m, true},
		{"written before", binary.BigEndian.AppendUint64(nil, 9), mark{Seq: 9}, true},
		{"cut short", []byte{1, 2, 3}, mark{}, false},
	} {
		got, ok := decodeScanned(c.v)
		if ok != c.ok || got.Seq != c.want.Seq || !got.At.Equal(c.want.At) || got.Stream != c.want.Stream {
			t.Errorf("%s: decodeScanned = %+v %v, want %+v %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// TestStartMark: a subscription starts after After in the stream it was
// made on (or in any, when it is older than that record), and in
// another after what was recorded before it was made.
func TestStartMark(t *testing.T) {
	made := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	sub := &alert.Subscription{After: 30, AfterAt: made.Add(-time.Hour), CreatedAt: made, Stream: "PARLEY@A"}
	old := &alert.Subscription{After: 30, CreatedAt: made}
	for _, c := range []struct {
		name string
		sub  *alert.Subscription
		cur  string
		want mark
	}{
		{"its own stream", sub, "PARLEY@A", mark{Seq: 30, At: made.Add(-time.Hour), Stream: "PARLEY@A"}},
		{"another stream", sub, "PARLEY@B", mark{Seq: 12, At: made, Stream: "PARLEY@B"}},
		{"made before streams were kept", old, "PARLEY@B", mark{Seq: 30, Stream: "PARLEY@B"}},
	} {
		if got := startMark(c.sub, c.cur, 12); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
