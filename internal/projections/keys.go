package projections

import (
	"encoding/binary"
	"math"
	"time"
)

// Keys are built so that byte order is the order queries walk: event time,
// then stream sequence, then version and position. Times are nanoseconds
// since 1970 with the sign bit flipped, so that dates before 1970 sort
// first.

const sep = 0x00 // between a name (issue, party, type) and what follows

func putU64(b []byte, v uint64) { binary.BigEndian.PutUint64(b, v) }
func u64(b []byte) uint64       { return binary.BigEndian.Uint64(b) }

func u64Key(v uint64) []byte {
	b := make([]byte, 8)
	putU64(b, v)
	return b
}

// timeKey is the sortable form of an instant.
func timeKey(t time.Time) uint64 { return uint64(t.UnixNano()) ^ (1 << 63) }

func keyTime(k uint64) time.Time { return time.Unix(0, int64(k^(1<<63))).UTC() }

// entryKey is occurred(8) seq(8) version(2): one version of one event on
// an event-time ordered index.
const entryKeyLen = 18

func entryKey(prefix []byte, occ time.Time, seq uint64, ver uint16) []byte {
	k := make([]byte, len(prefix)+entryKeyLen)
	n := copy(k, prefix)
	putU64(k[n:], timeKey(occ))
	putU64(k[n+8:], seq)
	binary.BigEndian.PutUint16(k[n+16:], ver)
	return k
}

// pairIDLen is the length of a pair's id (a uint32, big-endian), which
// prefixes its claims' keys in place of its names: a state answer seeks a
// couple of hundred pairs' claims, and a short prefix makes each seek
// compare a few bytes where the names took dozens, and the claims bucket
// smaller.
const pairIDLen = 4

// claimKey is occurred(8) seq(8) version(2) position(2).
const claimKeyLen = 20

func claimKey(prefix []byte, occ time.Time, seq uint64, ver, pos uint16) []byte {
	k := make([]byte, len(prefix)+claimKeyLen)
	n := copy(k, prefix)
	putU64(k[n:], timeKey(occ))
	putU64(k[n+8:], seq)
	binary.BigEndian.PutUint16(k[n+16:], ver)
	binary.BigEndian.PutUint16(k[n+18:], pos)
	return k
}

func namePrefix(names ...string) []byte {
	var b []byte
	for _, n := range names {
		b = append(b, n...)
		b = append(b, sep)
	}
	return b
}

// afterTime is the smallest key of the prefix past every entry at or before
// the instant: a cursor seeks to it and steps back to find the latest
// entry as of that instant.
func afterTime(prefix []byte, t time.Time) []byte {
	return appendAfterTime(append(make([]byte, 0, len(prefix)+9), prefix...), t)
}

// appendAfterTime appends to a prefix what afterTime puts after it.
func appendAfterTime(k []byte, t time.Time) []byte {
	tk := timeKey(t)
	if tk == math.MaxUint64 {
		return append(k, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	}
	return binary.BigEndian.AppendUint64(k, tk+1)
}

func atTime(prefix []byte, t time.Time) []byte {
	k := make([]byte, len(prefix)+8)
	n := copy(k, prefix)
	putU64(k[n:], timeKey(t))
	return k
}

// Validity is the span of stream sequences during which an index entry was
// believed: from the sequence that recorded it up to, not including, the
// one that corrected or retracted it.
type validity struct{ from, to uint64 }

const validityLen = 16

const forever = math.MaxUint64

func (v validity) at(seq uint64) bool { return v.from <= seq && seq < v.to }

func (v validity) encode(b []byte) {
	putU64(b, v.from)
	putU64(b[8:], v.to)
}

func decodeValidity(b []byte) validity {
	if len(b) < validityLen {
		return validity{}
	}
	return validity{from: u64(b), to: u64(b[8:])}
}

// concat returns a new slice of a then b. bbolt keeps the key and value
// slices of a Put until the commit, so keys never share a backing array.
func concat(a, b []byte) []byte {
	k := make([]byte, len(a)+len(b))
	copy(k, a)
	copy(k[len(a):], b)
	return k
}
