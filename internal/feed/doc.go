// Package feed holds the live feeds: the Server-Sent Events stream of new
// developments (GET /v1/feed) and the Atom and JSON Feed documents for feed
// readers (GET /v1/feed.atom, GET /v1/feed.json).
//
// A Broker is fed by the projector's OnApply hook with the developments of
// each committed batch, in order. The hook only queues them: a goroutine of
// the Broker renders each development once (with the event as known now)
// and hands it to every subscribed client's bounded buffer. A client whose
// buffer is full is too slow: it is disconnected, never waited for, and it
// resumes with Last-Event-ID.
//
// # Resume without gap or duplicate
//
// Every message carries its stream sequence as its SSE id. A client that
// comes back with Last-Event-ID n is first sent the developments after n
// from the read model (projections.Developments), then subscribed, then
// sent from the read model again up to what it holds, and only then the
// live tail, skipping what it was already sent. A batch committed before
// the subscription is in the read model when it is read the second time; a
// batch committed after it is fanned out to the subscription. Reading the
// backlog before subscribing as well keeps a long backlog from filling the
// live buffer.
//
// A stream opened without an id opens with the checkpoint of its
// subscription as its id, so that a client cut off before its first
// development resumes from there rather than from the live tail.
//
// docs/feeds.md describes the endpoints, the message format and the limits.
package feed
