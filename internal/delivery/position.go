package delivery

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
	"time"

	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/projections"
)

// mark is a point in the history of a stream: the development at Seq,
// recorded at At, in the stream Stream (projections.StreamID). A sequence
// alone names a development only in one stream and one history: a stream
// deleted and created again numbers from 1 again (its identity differs),
// and one restored from an older backup of itself keeps its identity but
// numbers what is appended after the restore as the lost messages were
// (recorded later than anything the backup holds). A mark covers the
// developments of its stream at or before Seq recorded no later than At.
type mark struct {
	Seq    uint64
	At     time.Time // zero: not known, written before marks had times
	Stream string    // "": not known, written before marks had streams
}

// covers reports whether d, of the same stream, is at or before m.
func (m mark) covers(d *projections.Development) bool {
	return d.Seq <= m.Seq && (m.At.IsZero() || !d.RecordedAt.After(m.At))
}

// after reports whether m is further on than o, in the same stream: the
// later recorded, or the further of two recorded at once.
func (m mark) after(o mark) bool {
	if m.At.IsZero() || o.At.IsZero() {
		return m.Seq > o.Seq
	}
	return m.At.After(o.At) || m.At.Equal(o.At) && m.Seq > o.Seq
}

// markOf is the mark of development d in the stream cur.
func markOf(d *projections.Development, cur string) mark {
	return mark{Seq: d.Seq, At: d.RecordedAt, Stream: cur}
}

// reach is how far the developments of the read model are covered by m,
// in tx: the highest sequence up to which m covers every one, and never
// less than floor (what another mark already covers, below which there
// is no need to look). In the history m was taken in, that is m.Seq at
// once; in a history written on after a restore, it is where the two part.
func reach(tx projections.Tx, m mark, floor uint64) (uint64, error) {
	if m.Seq <= floor {
		return floor, nil
	}
	s := m.Seq
	err := projections.DevelopmentsThrough(tx, m.Seq, func(d *projections.Development) bool {
		if d.Seq <= floor || m.covers(d) {
			return false
		}
		s = d.Seq - 1 // recorded after m: not covered, nor is any after it
		return true
	})
	return max(s, floor), err
}

// startMark is where a subscription starts in the stream cur, whose last
// development is at last: after After in the stream it was created on;
// in another (the stream replaced after it was made), after what was
// recorded before it was made, by time alone, since that stream's
// sequences say nothing of the subscription's. A subscription made
// before its stream was kept starts at After in any.
func startMark(sub *alert.Subscription, cur string, last uint64) mark {
	if sub.Stream == "" || sub.Stream == cur {
		return mark{Seq: sub.After, At: sub.AfterAt, Stream: cur}
	}
	return mark{Seq: last, At: sub.CreatedAt, Stream: cur}
}

// ownStream reports whether cur is the stream sub was created on (or
// sub is older than that record, and any is taken for it).
func ownStream(sub *alert.Subscription, cur string) bool {
	return sub.Stream == "" || sub.Stream == cur
}

// posValue is the value of pos.<id> in the KV bucket: the last
// development published for the subscription, and High, the highest
// sequence ever published for it in that stream, which a history written
// on after a restore may reuse (MessageIDIn then tells its alerts apart).
// A value written before marks had streams is the bare sequence.
type posValue struct {
	Seq    uint64    `json:"seq"`
	At     time.Time `json:"at"`
	Stream string    `json:"stream"`
	High   uint64    `json:"high"`
}

func encodePos(m mark, high uint64) []byte {
	b, _ := json.Marshal(posValue{Seq: m.Seq, At: m.At, Stream: m.Stream, High: high})
	return b
}

func decodePos(v []byte) (m mark, high uint64, ok bool) {
	if n, err := strconv.ParseUint(string(v), 10, 64); err == nil {
		return mark{Seq: n}, n, true
	}
	var p posValue
	if err := json.Unmarshal(v, &p); err != nil {
		return mark{}, 0, false
	}
	return mark{Seq: p.Seq, At: p.At, Stream: p.Stream}, max(p.High, p.Seq), true
}

// The alert_scanned value: the sequence (8 bytes), then the time
// recorded (8, Unix nanoseconds) and the stream; the sequence alone when
// written before.
func encodeScanned(m mark) []byte {
	b := binary.BigEndian.AppendUint64(nil, m.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(m.At.UnixNano()))
	return append(b, m.Stream...)
}

func decodeScanned(v []byte) (mark, bool) {
	switch {
	case len(v) == 8:
		return mark{Seq: binary.BigEndian.Uint64(v)}, true
	case len(v) >= 16:
		return mark{Seq: binary.BigEndian.Uint64(v), At: time.Unix(0, int64(binary.BigEndian.Uint64(v[8:]))).UTC(),
			Stream: string(v[16:])}, true
	}
	return mark{}, false
}

// in reports whether m applies in the stream cur: it was taken there, or
// before streams were kept (taken then as of sub's own stream).
func (m mark) in(cur string, sub *alert.Subscription) bool {
	if m.Stream == "" {
		return ownStream(sub, cur)
	}
	return m.Stream == cur
}
