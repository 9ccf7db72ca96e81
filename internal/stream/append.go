package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-news/parley/internal/events"
)

// Status is the outcome of appending one event.
type Status string

// The outcomes of an append. Their names are what ingest prints and what
// POST /v1/events answers with.
const (
	Appended  Status = "appended"
	Duplicate Status = "duplicate"
	Conflict  Status = "conflict"
	Failed    Status = "failed"
)

// ErrConflict is returned for an id already appended with other content.
var ErrConflict = errors.New("id already appended with other content")

// Result is the outcome of appending one event.
type Result struct {
	ID     string
	Status Status
	Seq    uint64 // the stream sequence of the stored event
	Err    error  // why, for Conflict and Failed
}

// JetStream's error code for a failed Nats-Expected-Last-Subject-Sequence.
const errCodeWrongLastSequence = 10071

// maxInFlight bounds the publishes awaiting an acknowledgement.
const maxInFlight = 1024

// Subject is the subject of an event on the stream.
func Subject(id string) string { return EventsPrefix + id }

// Append appends events in order, pipelining the publishes. Each event is
// sent with its id as Nats-Msg-Id and with an expected last sequence of 0
// for its own subject, so that the server stores it only if no event with
// that id is stored, however long ago. An id already stored is a
// Duplicate when its content is the same and a Conflict otherwise. A
// publish whose acknowledgement is lost is retried until ctx ends; the
// retry cannot store the event twice.
func (c *Conn) Append(ctx context.Context, evs []events.Event, source string) []Result {
	results := make([]Result, len(evs))
	msgs := make([]*nats.Msg, len(evs))
	for i, e := range evs {
		msgs[i] = c.message(e, source)
		results[i].ID = e.ID
	}
	type pending struct {
		i   int
		ack jetstream.PubAckFuture
	}
	var inflight []pending
	wait := func(p pending) {
		select {
		case ack := <-p.ack.Ok():
			results[p.i] = c.settle(ctx, msgs[p.i], ack, nil, false)
		case err := <-p.ack.Err():
			results[p.i] = c.settle(ctx, msgs[p.i], nil, err, false)
		case <-ctx.Done():
			results[p.i] = Result{ID: evs[p.i].ID, Status: Failed, Err: ctx.Err()}
		}
	}
	for i := range msgs {
		for len(inflight) >= maxInFlight {
			wait(inflight[0])
			inflight = inflight[1:]
		}
		f, err := c.js.PublishMsgAsync(msgs[i])
		if err != nil {
			results[i] = c.settle(ctx, msgs[i], nil, err, false)
			continue
		}
		inflight = append(inflight, pending{i: i, ack: f})
	}
	for _, p := range inflight {
		wait(p)
	}
	return results
}

func (c *Conn) message(e events.Event, source string) *nats.Msg {
	m := nats.NewMsg(Subject(e.ID))
	m.Data = events.Wrap(e, source)
	m.Header.Set(jetstream.MsgIDHeader, e.ID)
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
	m.Header.Set(jetstream.ExpectedStreamHeader, c.cfg.Stream)
	m.Header.Set("Content-Type", events.ContentType)
	return m
}

// settle turns a publish outcome into a Result, looking up the stored
// event when the server says the id is taken, and retrying a publish whose
// outcome is unknown. retried says an earlier attempt may have stored it.
func (c *Conn) settle(ctx context.Context, m *nats.Msg, ack *jetstream.PubAck, err error, retried bool) Result {
	id := m.Header.Get(jetstream.MsgIDHeader)
	var apiErr *jetstream.APIError
	switch {
	case err == nil && !ack.Duplicate:
		return Result{ID: id, Status: Appended, Seq: ack.Sequence}
	case err == nil && ack.Duplicate,
		errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeWrongLastSequence:
		return c.compare(ctx, m, retried)
	case errors.As(err, &apiErr):
		// The server refused the message for a reason of its own (limits,
		// permissions): retrying would not help.
		return Result{ID: id, Status: Failed, Err: fmt.Errorf("append %s: %w", id, err)}
	}
	// No answer: a timeout, a lost connection, a leader election. The
	// headers make a retry safe.
	backoff := 50 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return Result{ID: id, Status: Failed, Err: fmt.Errorf("append %s: %w (last error: %v)", id, ctx.Err(), err)}
		case <-time.After(backoff):
		}
		if backoff < 2*time.Second {
			backoff *= 2
		}
		ack, err = c.js.PublishMsg(ctx, m)
		if err == nil || errors.As(err, &apiErr) {
			return c.settle(ctx, m, ack, err, true)
		}
	}
}

// compare looks up the event stored under the id and tells a duplicate
// from a conflict.
func (c *Conn) compare(ctx context.Context, m *nats.Msg, retried bool) Result {
	id := m.Header.Get(jetstream.MsgIDHeader)
	stored, err := c.stream.GetLastMsgForSubject(ctx, m.Subject)
	if err != nil {
		return Result{ID: id, Status: Failed, Err: fmt.Errorf("append %s: look up stored event: %w", id, err)}
	}
	if !events.SameData(stored.Data, m.Data) {
		return Result{ID: id, Status: Conflict, Seq: stored.Sequence,
			Err: fmt.Errorf("id %s: %w (stored at sequence %d)", id, ErrConflict, stored.Sequence)}
	}
	if retried {
		// An earlier attempt of ours stored it and its acknowledgement was
		// lost: to the caller it is appended.
		return Result{ID: id, Status: Appended, Seq: stored.Sequence}
	}
	return Result{ID: id, Status: Duplicate, Seq: stored.Sequence}
}

// Exists reports whether an event with the id is stored.
func (c *Conn) Exists(ctx context.Context, id string) (bool, error) {
	_, err := c.stream.GetLastMsgForSubject(ctx, Subject(id))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	}
	return false, fmt.Errorf("look up %s: %w", id, err)
}
