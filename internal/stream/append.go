package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

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

// ErrTooLarge marks a Failed event larger than the server takes (its
// max_payload): sending it again cannot help, a smaller one can.
var ErrTooLarge = errors.New("event too large for the server")

// ErrPermission marks a Failed event the server refused this
// connection's user to publish (errors.Is): sending it again as the same
// user cannot help; as a user that may append events can.
var ErrPermission = nats.ErrPermissionViolation

// Result is the outcome of appending one event.
type Result struct {
	ID     string
	Status Status
	Seq    uint64 // the stream sequence of the stored event
	Err    error  // why, for Conflict and Failed
}

// JetStream's error code for a failed Nats-Expected-Last-Subject-Sequence.
const errCodeWrongLastSequence = 10071

// JetStream's error code for a message whose Nats-Msg-Id another publish
// is storing at this moment: on a cluster, until that publish's proposal
// is applied. The outcome is not known yet, so it is asked again.
const errCodeDuplicateInProcess = 10158

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
// retry cannot store the event twice, and finds the event stored by its
// own first attempt (Appended) or by another append (Duplicate) by the
// AttemptHeader on the stored message. There is one result per event, in
// order, whatever happens: when ctx ends, the events not sent fail.
func (c *Conn) Append(ctx context.Context, evs []events.Event, source string) []Result {
	results := make([]Result, len(evs))
	valid, at := make([]events.Event, 0, len(evs)), make([]int, 0, len(evs))
	for i, e := range evs {
		if !events.ValidID(e.ID) {
			// Its subject would have an empty token or a wildcard: the
			// server would never acknowledge it, and the publish would be
			// retried until ctx ended.
			results[i] = Result{ID: e.ID, Status: Failed, Err: fmt.Errorf("append %q: %w", e.ID, ErrInvalidID)}
			continue
		}
		valid, at = append(valid, e), append(at, i)
	}
	for j, r := range c.append(ctx, valid, source) {
		results[at[j]] = r
	}
	return results
}

// ErrInvalidID is the error of an event whose id is not one (see
// events.ValidID). Ingest refuses such events before they reach Append.
var ErrInvalidID = errors.New("not an event id")

func (c *Conn) append(ctx context.Context, evs []events.Event, source string) []Result {
	msgs := c.messages(evs, source)
	if len(msgs) < 2 {
		return c.appendEach(ctx, msgs, false)
	}
	results := make([]Result, 0, len(evs))
	for i := 0; i < len(msgs); {
		// A batch ends at AtomicBatch messages or AtomicBatchBytes.
		n, size := 0, 0
		for i+n < len(msgs) && n < AtomicBatch && (n == 0 || size+len(msgs[i+n].Data) <= AtomicBatchBytes) {
			size += len(msgs[i+n].Data)
			n++
		}
		batch := msgs[i : i+n]
		i += n
		rs, err := c.appendAtomic(ctx, batch)
		var apiErr *jetstream.APIError
		if err != nil && !errors.As(err, &apiErr) && c.publishRefused() {
			// Unanswered because refused: one by one, and the batches
			// after it, would be too.
			for _, m := range msgs[i-n:] {
				results = append(results, c.refusedResult(m))
			}
			break
		}
		if err != nil {
			// The batch was refused whole (a duplicate or a taken id in
			// it), never committed, or its outcome is unknown: append one
			// by one, which tells each record's fate. retried marks the
			// unknown case, in which finding our own event stored means it
			// was appended.
			rs = c.appendEach(ctx, batch, !errors.As(err, &apiErr) && !errors.Is(err, errBatchNotSent))
		}
		results = append(results, rs...)
		if err := ctx.Err(); err != nil {
			// Every event gets its result: those not sent failed.
			for _, m := range msgs[i:] {
				results = append(results, Result{ID: m.Header.Get(jetstream.MsgIDHeader), Status: Failed, Err: err})
			}
			break
		}
	}
	return results
}

// messages are the messages of one append of evs, each marked with a
// token of its own (AttemptHeader) that its retries keep: a retry that
// finds its event stored tells by it whether an earlier attempt of its
// own stored it (appended) or another append did (duplicate).
func (c *Conn) messages(evs []events.Event, source string) []*nats.Msg {
	msgs := make([]*nats.Msg, len(evs))
	for i, e := range evs {
		msgs[i] = c.NewMessage(e, source)
		msgs[i].Header.Set(AttemptHeader, nuid.Next())
	}
	return msgs
}

// AttemptHeader marks the message of one append of an event, the same on
// each of its retries.
const AttemptHeader = "Parley-Append-Id"

// appendEach appends events one message each, pipelining the publishes.
// The messages whose publish gets no answer (a leader election, a lost
// connection), or finds a twin being stored, are sent again together,
// pipelined, once a backoff has passed, until each is answered or ctx
// ends: after a failover the whole rest of a batch goes again at the
// stream's pace, not one message per backoff.
func (c *Conn) appendEach(ctx context.Context, msgs []*nats.Msg, retried bool) []Result {
	results := make([]Result, len(msgs))
	// again[i] says an earlier attempt of message i may have stored it.
	again := make([]bool, len(msgs))
	todo := make([]int, len(msgs))
	for i := range msgs {
		again[i], todo[i] = retried, i
	}
	lastErr := make(map[int]error)
	backoff := 50 * time.Millisecond
	for {
		todo = c.publishEach(ctx, msgs, todo, results, again, lastErr)
		if len(todo) == 0 {
			return results
		}
		select {
		case <-ctx.Done():
			for _, i := range todo {
				id := msgs[i].Header.Get(jetstream.MsgIDHeader)
				results[i] = Result{ID: id, Status: Failed, Err: fmt.Errorf("append %s: %w (last error: %v)", id, ctx.Err(), lastErr[i])}
			}
			return results
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// publishEach publishes the messages of msgs at the indexes todo,
// pipelined, and settles each answered one into results. It returns the
// indexes to send again: no answer (again is set for them: that attempt
// may have stored it), or a twin in process.
func (c *Conn) publishEach(ctx context.Context, msgs []*nats.Msg, todo []int, results []Result, again []bool, lastErr map[int]error) []int {
	type pending struct {
		i   int
		ack jetstream.PubAckFuture
	}
	var (
		inflight []pending
		retry    []int
		lookUps  []int // taken ids: the stored event tells duplicate from conflict
	)
	outcome := func(i int, ack *jetstream.PubAck, err error) {
		var apiErr *jetstream.APIError
		answered := err == nil || errors.As(err, &apiErr)
		if !answered && c.publishRefused() {
			results[i] = c.refusedResult(msgs[i])
			return
		}
		if !answered && !errors.Is(err, nats.ErrMaxPayload) || apiErr != nil && apiErr.ErrorCode == errCodeDuplicateInProcess {
			// No answer (a timeout, a lost connection, a leader election:
			// this attempt may have stored it, and the headers make
			// sending it again safe), or a twin being stored (one earlier
			// in the pipeline, or an earlier attempt of ours: again says
			// which): asked again once it is.
			again[i] = again[i] || !answered
			lastErr[i] = err
			retry = append(retry, i)
			return
		}
		if taken(ack, err) {
			lookUps = append(lookUps, i)
			return
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			// The client refused it before sending: it can never go in,
			// and asking again would wait out ctx for nothing.
			id := msgs[i].Header.Get(jetstream.MsgIDHeader)
			results[i] = Result{ID: id, Status: Failed, Err: fmt.Errorf("append %s: %d bytes of event, over the server's max_payload of %d: %w: %w",
				id, len(msgs[i].Data), c.nc.MaxPayload(), ErrTooLarge, err)}
			return
		}
		results[i] = c.settle(msgs[i], ack, err)
	}
	wait := func(p pending) {
		select {
		case ack := <-p.ack.Ok():
			outcome(p.i, ack, nil)
		case err := <-p.ack.Err():
			outcome(p.i, nil, err)
		case <-ctx.Done():
			again[p.i] = true
			lastErr[p.i] = ctx.Err()
			retry = append(retry, p.i)
		}
	}
	for _, i := range todo {
		for len(inflight) >= maxInFlight {
			wait(inflight[0])
			inflight = inflight[1:]
		}
		if ctx.Err() != nil {
			lastErr[i] = ctx.Err()
			retry = append(retry, i)
			continue
		}
		f, err := c.js.PublishMsgAsync(msgs[i])
		if err != nil {
			outcome(i, nil, err)
			continue
		}
		inflight = append(inflight, pending{i: i, ack: f})
	}
	for _, p := range inflight {
		wait(p)
	}
	c.compareAll(ctx, msgs, lookUps, results, again)
	slices.Sort(retry)
	return retry
}

// compareAll looks up the stored event of each taken id among msgs (at
// indexes todo), several at once: an input sent again is all duplicates,
// and one look-up at a time made that four times slower than appending
// it the first time.
func (c *Conn) compareAll(ctx context.Context, msgs []*nats.Msg, todo []int, results []Result, again []bool) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(len(todo), lookUpsInFlight) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = c.compare(ctx, msgs[i], again[i])
			}
		}()
	}
	for _, i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
}

// lookUpsInFlight bounds the look-ups of stored events made at once.
const lookUpsInFlight = 32

// NewMessage is the message Append sends for one event: its CloudEvent
// and the headers that make the append idempotent. Append adds its
// AttemptHeader; the benchmark's raw publish adds one too, so that it
// sends the same bytes.
func (c *Conn) NewMessage(e events.Event, source string) *nats.Msg {
	m := nats.NewMsg(Subject(e.ID))
	m.Data = events.Wrap(e, source)
	m.Header.Set(jetstream.MsgIDHeader, e.ID)
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
	m.Header.Set(jetstream.ExpectedStreamHeader, c.cfg.Stream)
	m.Header.Set("Content-Type", events.ContentType)
	return m
}

// taken reports whether an answered publish (an acknowledgement, or err an
// API error) says the id is taken: a duplicate of the window, or an event
// already stored under its subject. compare then tells which it is.
func taken(ack *jetstream.PubAck, err error) bool {
	var apiErr *jetstream.APIError
	return err == nil && ack.Duplicate || errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeWrongLastSequence
}

// settle turns an answered publish whose id was not taken into a Result:
// appended, or refused.
func (c *Conn) settle(m *nats.Msg, ack *jetstream.PubAck, err error) Result {
	id := m.Header.Get(jetstream.MsgIDHeader)
	if err == nil {
		return Result{ID: id, Status: Appended, Seq: ack.Sequence}
	}
	// The server refused the message for a reason of its own (limits,
	// permissions): sending it again would not help.
	return Result{ID: id, Status: Failed, Err: fmt.Errorf("append %s: %w", id, err)}
}

// publishRefused reports whether the server sent this connection a
// permissions violation for publishing an event. The server refuses such a
// publish on the connection and never answers it: without this, the
// append would be asked again until its caller gave up, and told as a
// stream out of reach. The events' subjects share one permission (the
// projector's user of deploy/nats/accounts.conf may publish none), so a
// refusal of one is a refusal of all.
func (c *Conn) publishRefused() bool {
	return c.refused(`Publish to "`+EventsPrefix) != nil
}

// refusedResult is the result of an event whose publish was refused. It
// names the event's own subject: the connection's error names the last
// one refused, perhaps another event's.
func (c *Conn) refusedResult(m *nats.Msg) Result {
	id := m.Header.Get(jetstream.MsgIDHeader)
	return Result{ID: id, Status: Failed, Err: fmt.Errorf("append %s: %w to publish to %q: this user may not append events (on a secured cluster, appends go through the ingest)",
		id, nats.ErrPermissionViolation, m.Subject)}
}

// compare looks up the event stored under the id and tells a duplicate
// from a conflict.
func (c *Conn) compare(ctx context.Context, m *nats.Msg, retried bool) Result {
	id := m.Header.Get(jetstream.MsgIDHeader)
	stored, err := c.lastFor(ctx, m.Subject)
	if err != nil {
		return Result{ID: id, Status: Failed, Err: fmt.Errorf("append %s: look up stored event: %w", id, err)}
	}
	if !events.SameData(stored.Data, m.Data) {
		return Result{ID: id, Status: Conflict, Seq: stored.Sequence,
			Err: fmt.Errorf("id %s: %w (stored at sequence %d)", id, ErrConflict, stored.Sequence)}
	}
	if retried && stored.Header.Get(AttemptHeader) == m.Header.Get(AttemptHeader) {
		// An earlier attempt of ours stored it and its acknowledgement was
		// lost: to the caller it is appended. Stored by another append
		// (before a batch whose refusal was lost), it is a duplicate.
		return Result{ID: id, Status: Appended, Seq: stored.Sequence}
	}
	return Result{ID: id, Status: Duplicate, Seq: stored.Sequence}
}

// Stored returns the event stored under id, and whether there is one (a
// message there that is not an event counts as none).
func (c *Conn) Stored(ctx context.Context, id string) (events.Event, bool, error) {
	m, err := c.lastFor(ctx, Subject(id))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return events.Event{}, false, nil
	case err != nil:
		return events.Event{}, false, fmt.Errorf("look up %s: %w", id, err)
	}
	e, err := events.Unwrap(m.Data)
	if err != nil {
		// Not an event the projector can apply (it skips the message),
		// so not one that can be corrected.
		return events.Event{}, false, nil
	}
	return e, true, nil
}

// lookupTimeout bounds one try of a look-up: a request sent to a server
// that dies on it is never answered.
const lookupTimeout = 5 * time.Second

// lastFor returns the message stored under subject, or an error that is
// jetstream.ErrMsgNotFound when there is none. A look-up that gets no
// answer (a stream leader being elected, a server gone) is tried again,
// backing off, until ctx ends, as an append is.
func (c *Conn) lastFor(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error) {
	var m *jetstream.RawStreamMsg
	answered, err := askAgain(ctx, func(ctx context.Context) (err error) {
		m, err = c.stream.GetLastMsgForSubject(ctx, subject)
		return err
	}, func(err error) bool { return err == nil || !unanswered(err) }, nil)
	if !answered {
		return nil, fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
	}
	return m, err
}

// unanswered reports whether a look-up failed without the stream saying
// anything: no answer in time, no server, or JetStream unavailable (503)
// while it elects a leader.
func unanswered(err error) bool {
	if errors.Is(err, jetstream.ErrMsgNotFound) || errors.Is(err, nats.ErrConnectionClosed) {
		return false
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code == 503
	}
	return true
}

// batchCommitWait is how long a batch waits for the answer to its
// commit. A variable for the tests.
var batchCommitWait = 10 * time.Second

// errBatchNotSent marks a batch that failed before its commit was sent,
// of which nothing can have been stored.
var errBatchNotSent = errors.New("batch not sent")

// AtomicBatch is the size of the atomic batches Append sends: JetStream
// stores a batch with one write (one fsync with sync_interval: always)
// rather than one per message. The server's limit is 1,000.
const AtomicBatch = 500

// AtomicBatchBytes bounds a batch's payload, so that a batch of large
// events stays well within the server's limits.
const AtomicBatchBytes = 4 << 20

// batchAck is the server's answer to a batch's commit.
type batchAck struct {
	Stream  string              `json:"stream"`
	Seq     uint64              `json:"seq"`
	BatchID string              `json:"batch"`
	Count   int                 `json:"count"`
	Error   *jetstream.APIError `json:"error,omitempty"`
}

// appendAtomic sends the events as one JetStream atomic batch (ADR-50):
// all are stored, in order and contiguous, or none is. The headers of each
// message are those of a single append, so a batch holding an id that is
// already stored is refused whole, and the caller falls back to appending
// one by one.
func (c *Conn) appendAtomic(ctx context.Context, msgs []*nats.Msg) ([]Result, error) {
	id := nuid.Next()
	inbox := c.nc.NewRespInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w: %w", id, errBatchNotSent, err)
	}
	defer sub.Unsubscribe()
	for i, orig := range msgs {
		// A copy: the headers of a batch must not stay on the message if it
		// is sent again alone.
		m := nats.NewMsg(orig.Subject)
		m.Data = orig.Data
		for k, v := range orig.Header {
			m.Header[k] = v
		}
		m.Header.Set("Nats-Batch-Id", id)
		m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		if i == len(msgs)-1 {
			m.Header.Set("Nats-Batch-Commit", "1")
			m.Reply = inbox
		}
		if err := c.nc.PublishMsg(m); err != nil {
			// No commit went out: the server stores nothing of the batch.
			return nil, fmt.Errorf("batch %s: publish %s: %w: %w", id, orig.Header.Get(jetstream.MsgIDHeader), errBatchNotSent, err)
		}
	}
	wait, cancel := context.WithTimeout(ctx, batchCommitWait)
	defer cancel()
	reply, err := sub.NextMsgWithContext(wait)
	if err != nil {
		return nil, fmt.Errorf("batch %s: commit: %w", id, err)
	}
	var ack batchAck
	if err := json.Unmarshal(reply.Data, &ack); err != nil {
		return nil, fmt.Errorf("batch %s: commit answer: %w", id, err)
	}
	if ack.Error != nil {
		return nil, ack.Error
	}
	if ack.Count != len(msgs) || ack.Seq < uint64(len(msgs)) {
		return nil, fmt.Errorf("batch %s: committed %d of %d messages", id, ack.Count, len(msgs))
	}
	out := make([]Result, len(msgs))
	first := ack.Seq - uint64(len(msgs)) + 1
	for i, m := range msgs {
		out[i] = Result{ID: m.Header.Get(jetstream.MsgIDHeader), Status: Appended, Seq: first + uint64(i)}
	}
	return out, nil
}
