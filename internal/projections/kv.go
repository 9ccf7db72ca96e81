package projections

import "context"

// Tx is one transaction on the store: read-only in View, read-write in
// Update.
type Tx interface {
	// Bucket returns the named bucket. Every name in Buckets exists.
	Bucket(name string) Bucket
}

// Bucket is an ordered map of byte keys to byte values. Values returned by
// Get and by cursors are valid only for the life of the transaction.
type Bucket interface {
	Get(key []byte) []byte
	Put(key, value []byte) error
	Delete(key []byte) error
	Cursor() Cursor
}

// Cursor walks a bucket in key order. Each method returns nil keys past
// either end.
type Cursor interface {
	First() (key, value []byte)
	Last() (key, value []byte)
	Seek(seek []byte) (key, value []byte)
	Next() (key, value []byte)
	Prev() (key, value []byte)
}

// Store holds a read model.
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction, committed if fn returns
	// nil and rolled back otherwise.
	Update(ctx context.Context, fn func(Tx) error) error
}

// The buckets of the read model. docs/design.md describes their keys.
const (
	BucketMeta         = "meta"
	BucketEvents       = "events"
	BucketSeqs         = "seqs"
	BucketRecorded     = "recorded"
	BucketTimeline     = "timeline"
	BucketByIssue      = "by_issue"
	BucketByParty      = "by_party"
	BucketByType       = "by_type"
	BucketClaims       = "claims"
	BucketPairs        = "pairs"
	BucketDevelopments = "developments"
	BucketSkipped      = "skipped"
)

// Buckets lists every bucket a store must create. Stores own buckets of
// their own besides (subscriptions, outbox) under other names.
var Buckets = []string{
	BucketMeta, BucketEvents, BucketSeqs, BucketRecorded, BucketTimeline,
	BucketByIssue, BucketByParty, BucketByType, BucketClaims,
	BucketPairs, BucketDevelopments, BucketSkipped,
}
