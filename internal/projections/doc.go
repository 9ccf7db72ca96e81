// Package projections turns the stream of events into Parley's read model
// and answers questions of it: each party's position on each issue as of
// any event time and as known at any recorded time, the timeline, an
// issue's history, the difference between two times, and the developments
// that feeds and alerts carry.
//
// The read model lives in an ordered key-value store reached through the
// small Tx, Bucket and Cursor interfaces: bbolt in the service (package
// bolt), Mem in tests. Apply and the queries are plain functions of a
// transaction, so the whole projection is tested without NATS or a file,
// and every store passes the same conformance suite (storetest).
//
// # Two clocks
//
// Every index entry carries the stream sequences between which it was
// believed: from the sequence that recorded it to the one that corrected or
// retracted it. A query "as known at R" turns R into the last sequence
// recorded by then and skips entries not believed at that sequence; a
// query "as of T" seeks the event-time ordered keys to T. Both are index
// look-ups, never a replay.
package projections
