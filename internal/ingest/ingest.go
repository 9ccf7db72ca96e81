// Package ingest reads events from files, standard input or HTTP bodies,
// validates them, and appends the valid ones to the stream, with one
// result per record: appended, duplicate, or rejected with the reason. A
// bad record never stops the good ones beside it.
package ingest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/metrics"
	"github.com/parley-news/parley/internal/progress"
	"github.com/parley-news/parley/internal/stream"
)

// Status of one record. Appended and Duplicate come from the stream; a
// record is Rejected when it is invalid, names an unknown event in
// corrects, or reuses an id for other content (Conflict).
const (
	Appended  = string(stream.Appended)
	Duplicate = string(stream.Duplicate)
	Rejected  = "rejected"
	Conflict  = string(stream.Conflict)
	Failed    = string(stream.Failed)
	// Valid is the status of a good record that was only checked.
	Valid = "valid"
)

// RecordResult is the outcome of one record.
type RecordResult struct {
	Record int    `json:"record"`
	Line   int    `json:"line,omitempty"`
	ID     string `json:"id,omitempty"`
	Status string `json:"status"`
	Seq    uint64 `json:"seq,omitempty"`
	// Errors are the field errors of a rejected record.
	Errors []events.FieldError `json:"errors,omitempty"`
	// Error says why in one line, for every status but appended and duplicate.
	Error string `json:"error,omitempty"`

	tooLarge bool // rejected by the server's payload limit, not by a field
	refused  bool // failed because the stream's user may not append
	// correctsLine is the line of the record's corrects field, where a
	// refusal of what it names points; 0 when unknown.
	correctsLine int
}

// correctsAt is the line a refusal of the record's corrects points at:
// that field's, else the record's.
func (rr *RecordResult) correctsAt() int {
	if rr.correctsLine > 0 {
		return rr.correctsLine
	}
	return rr.Line
}

// Result is the outcome of one input.
type Result struct {
	Name      string `json:"name"`
	Appended  int    `json:"appended"`
	Duplicate int    `json:"duplicate"`
	Rejected  int    `json:"rejected"`
	// Conflict counts records whose id is taken by other content: valid
	// records, told apart from invalid (Rejected) ones.
	Conflict int `json:"conflict"`
	Failed   int `json:"failed,omitempty"`
	// Checked is set when the input was only validated (no stream).
	Checked bool           `json:"checked,omitempty"`
	Records []RecordResult `json:"records"`
	// read is set once the whole input has been read: an error after
	// it left no record unread.
	read bool
}

// missesVocabulary reports whether a record was refused for an id not in
// the vocabulary.
func (r *Result) missesVocabulary() bool {
	for _, rr := range r.Records {
		for _, fe := range rr.Errors {
			if strings.HasPrefix(fe.Reason, events.NotInVocabulary) {
				return true
			}
		}
	}
	return false
}

// OK reports whether every record went in (appended or already there).
func (r *Result) OK() bool { return r.Rejected == 0 && r.Conflict == 0 && r.Failed == 0 }

// count adds up the records' statuses and counts them in the metrics.
func (res *Result) count() { res.countFrom(0) }

// countFrom counts the records from index from on.
func (res *Result) countFrom(from int) {
	for i := from; i < len(res.Records); i++ {
		rr := &res.Records[i]
		if rr.Status == "" {
			// Read and valid, but the input ended in an error before it
			// was appended.
			rr.Status, rr.Error = Failed, "not appended: ingest stopped before this record"
		}
		field := ""
		if rr.Status == Rejected {
			field = "syntax"
			if rr.tooLarge {
				field = "size"
			} else if len(rr.Errors) > 0 && rr.Errors[0].Field != "" {
				// The top-level field: "positions", not "positions[3].party",
				// so that the series stay few.
				field, _, _ = strings.Cut(rr.Errors[0].Field, "[")
				field, _, _ = strings.Cut(field, ".")
				if !events.IsField(field) {
					// An unknown field's name is whatever the sender
					// wrote: one series each would grow without end.
					field = "other"
				}
			}
		}
		if !res.Checked {
			metrics.Records.WithLabelValues(rr.Status, field).Inc()
		}
		switch rr.Status {
		case Appended, Valid:
			res.Appended++
		case Duplicate:
			res.Duplicate++
		case Rejected:
			res.Rejected++
		case Conflict:
			res.Conflict++
		default:
			res.Failed++
		}
	}
}

// FailRest completes the result of an input that stopped at a stream
// failure (cause) before its end, reading r, the same input held whole
// (a POST body), again: each record after those res holds is added as
// failed, not appended, or as rejected when it is invalid. The answer
// then covers every record, and a client resends exactly the failed ones.
func (in *Ingester) FailRest(res *Result, r io.Reader, f events.Format, cause error) {
	if res.read {
		return
	}
	last := 0
	if n := len(res.Records); n > 0 {
		last = res.Records[n-1].Record
	}
	from := len(res.Records)
	for rec := range in.Decoder.Decode(res.Name, r, f) {
		if rec.Index <= last {
			continue
		}
		rr := recordResult(rec)
		if rec.Err == nil {
			rr.Status, rr.Error = Failed, "not appended: ingest stopped before this record: "+cause.Error()
		}
		res.Records = append(res.Records, rr)
	}
	res.read = true
	res.countFrom(from)
}

// recordResult is the result of a record as read: rejected, with its
// errors, when it is invalid; else with no status yet.
func recordResult(rec events.Record) RecordResult {
	rr := RecordResult{Record: rec.Index, Line: rec.Line, ID: rec.Event.ID, correctsLine: rec.CorrectsLine}
	if rec.Err != nil {
		rr.ID = rec.Err.ID
		rr.Status, rr.Errors, rr.Error = Rejected, rec.Err.Fields, rec.Err.Error()
	}
	return rr
}

// Appender is the stream as ingest uses it.
type Appender interface {
	Append(ctx context.Context, evs []events.Event, source string) []stream.Result
	// Stored is the event stored under id, and whether there is one.
	Stored(ctx context.Context, id string) (events.Event, bool, error)
}

// checked is what a check remembers of the records it has read.
type checked struct {
	known map[string]amendTarget // each valid id, and what a correction of it needs to know
	first map[string]firstSeen   // each id's first valid record, to tell a repeat's duplicate from its conflict
}

func newChecked() *checked {
	return &checked{known: map[string]amendTarget{}, first: map[string]firstSeen{}}
}

// firstSeen is where an id was first read, and its event.
type firstSeen struct {
	input  string
	record int
	event  [sha256.Size]byte // of its canonical JSON: a large input's events are not all held
}

// amendTarget is what a correction or retraction needs to know of the
// event it names: its type, and the event it amends in turn, if any.
type amendTarget struct {
	typ, of string
}

// refusal says why the event cannot be amended: it is itself a
// correction or retraction, which the projector leaves without effect
// when named (one correction of another would leave it unclear which
// version of the original stands).
func (t amendTarget) refusal() string {
	return fmt.Sprintf("itself a %s, of %s: a correction or retraction names the original event (%s)", t.typ, t.of, t.of)
}

// reject is rr, rejected for its corrects field, naming the event c. The
// error points at the corrects field's line, as the decoder's errors
// point at their field's.
func reject(name string, rec events.Record, rr RecordResult, c, reason string) RecordResult {
	line := rr.correctsAt()
	fe := events.FieldError{Field: "corrects", Value: c, Reason: reason, Line: line}
	re := &events.RecordError{File: name, Line: line, Record: rec.Index, ID: rec.Event.ID, Fields: []events.FieldError{fe}}
	rr.Status, rr.Errors, rr.Error = Rejected, re.Fields, re.Error()
	return rr
}

var (
	_ Appender  = (*stream.Conn)(nil)
	_ Connected = (*stream.Conn)(nil)
)

// Ingester appends inputs of events to the stream.
type Ingester struct {
	// Stream to append to; nil checks the input without appending.
	Stream Appender
	// Decoder reads and validates records.
	Decoder events.Decoder
	// Source is the CloudEvents source of the events; "" means the default.
	Source string
	// Batch is how many valid records are appended together; 0 means 1000.
	Batch int
	// Progress, when set, shows how far into a large file ingest is (a
	// bar on a terminal, plain lines elsewhere), and says so while the
	// stream keeps a batch waiting.
	Progress io.Writer
	// VocabularyName, when set, names the vocabulary Decoder checks
	// against: a Files run that refused ids not in it ends by saying
	// which it was.
	VocabularyName string
	// MaxRecords, when set, bounds the records of one input, which is
	// then read whole before anything of it is appended: an input of more
	// is refused whole (ErrTooManyRecords). For inputs held in memory
	// already (a POST body); 0 appends as it reads, in batches.
	MaxRecords int
	// checked carries what a check has read from one input to the next
	// (Files): nil checks each input alone.
	checked *checked
	// Wait bounds how long ingest waits while its connection to the
	// stream is down; past it the ingest stops with ErrUnreachable. A
	// stream that is reachable but slow is waited for, with a notice on
	// Progress. 0 waits as long as ctx lets it.
	Wait time.Duration
	// Silence bounds how long ingest waits for one batch's answer while
	// connected; past it the ingest stops with ErrUnanswered. A server
	// whose store cannot write (a full disk) keeps the connection and
	// answers nothing. It should be far longer than an election or a
	// batch takes. 0 waits as long as ctx lets it.
	Silence time.Duration
	// Grace is how long the batch in flight may go on after ctx ends (an
	// interrupt) before it is given up: its records are then told as the
	// stream took them, not failed for events it stored. Nothing more is
	// read or sent. 0 gives the batch up with ctx (a POST whose client
	// went away).
	Grace time.Duration
}

// ErrUnreachable is returned when the connection to the stream stayed
// down for the Ingester's Wait.
var ErrUnreachable = errors.New("the stream could not be reached")

// ErrUnanswered is returned when the stream, connected, answered
// nothing for the Ingester's Silence.
var ErrUnanswered = fmt.Errorf("%w: connected, but no answer", ErrUnreachable)

// ErrInterrupted is returned by Files when its context ends (Ctrl-C): the
// batch in flight was let finish (Grace), nothing after it was read.
var ErrInterrupted = errors.New("interrupted")

// ErrTooManyRecords is returned for an input of more than the Ingester's
// MaxRecords, of which nothing was appended.
var ErrTooManyRecords = errors.New("too many records in one input")

// Connected is what an Appender may also tell: whether it is connected to
// the stream now. Without it, Wait never ends a run.
type Connected interface {
	Connected() bool
}

// waitNotice is how long a call to the stream waits before Progress is
// told, and how often after that; connection state is looked at every
// waitPoll. Variables for the tests.
var (
	waitNotice = 5 * time.Second
	waitPoll   = 250 * time.Millisecond
)

// Ingest reads one input and appends its valid records in order.
func (in *Ingester) Ingest(ctx context.Context, name string, r io.Reader, f events.Format) (*Result, error) {
	return in.ingest(ctx, name, r, f, nil)
}

// ingest is Ingest, telling onRecord, when set, the line of each record
// as it is read.
func (in *Ingester) ingest(ctx context.Context, name string, r io.Reader, f events.Format, onRecord func(line int)) (*Result, error) {
	res := &Result{Name: name, Records: []RecordResult{}, Checked: in.Stream == nil}
	// The counts hold on every return, an error's too: what went in before
	// it went in.
	defer res.count()
	batch := in.Batch
	if batch <= 0 {
		batch = 1000
	}
	// ids seen in this input, for corrections of events earlier in it;
	// when only checking, and the first record of each id, to tell a
	// repeated id as the stream would. A check of several inputs carries
	// them from one input to the next, as the stream carries a run's
	// appends.
	seen := in.checked
	if seen == nil || in.Stream != nil {
		seen = newChecked()
	}
	known, first := seen.known, seen.first
	// Corrections of an event not (yet) seen in this input, by the id they
	// correct, and those found to come before the event they correct: a
	// correction must follow it, and is told so when the event comes.
	early := map[string][]int{}
	type forward struct {
		correction, event int
		id                string
	}
	var forwards []forward
	var pending []int // indexes into res.Records of valid records not yet appended
	// The sequence each id of this input was appended at.
	appendedAt := map[string]uint64{}
	var evs []events.Event
	flush := func() error {
		if len(evs) == 0 {
			return nil
		}
		defer func() { pending, evs = pending[:0], evs[:0] }()
		if in.Stream == nil {
			for _, i := range pending {
				res.Records[i].Status = Valid
			}
			// Checking appends nothing, but stops when asked to all
			// the same.
			return ctx.Err()
		}
		var results []stream.Result
		actx, stop := graced(ctx, in.Grace)
		unreachable := in.await(actx, name, func(ctx context.Context) {
			results = in.Stream.Append(ctx, evs, in.Source)
		})
		stop()
		for j, sr := range results {
			rr := &res.Records[pending[j]]
			rr.Status, rr.Seq = string(sr.Status), sr.Seq
			if sr.Status == stream.Appended {
				// An id given twice in the input, in batches of their
				// own, whose first copy's answer was lost: the second
				// finds it stored and, being ours, takes it for appended.
				// One copy stored it; the other is its duplicate.
				if seq, ok := appendedAt[rr.ID]; ok && seq == sr.Seq {
					rr.Status = Duplicate
				} else {
					appendedAt[rr.ID] = sr.Seq
				}
			}
			switch {
			case errors.Is(sr.Err, stream.ErrTooLarge):
				// The record's own fault on this server, not the
				// stream's: rejected, so that neither the command's
				// advice nor a 503 asks for it to be sent again as it is.
				rr.Status, rr.Error, rr.tooLarge = Rejected, sr.Err.Error(), true
			case unreachable != nil && sr.Status == stream.Failed:
				// One reason for the batch, not each message's last
				// attempt's.
				rr.Error = unreachable.Error()
			case sr.Err != nil:
				rr.Error, rr.refused = sr.Err.Error(), errors.Is(sr.Err, stream.ErrPermission)
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return unreachable
	}
	for rec := range in.Decoder.Decode(name, r, f) {
		if err := ctx.Err(); err != nil {
			// Interrupted while reading: Grace lets a batch in flight
			// finish, not one begun after the interrupt. The records read
			// since the last batch are neither sent nor reported, so the
			// report ends where the stream's record of this input does.
			if len(pending) > 0 {
				res.Records = res.Records[:pending[0]]
			}
			return res, err
		}
		if onRecord != nil && rec.Line > 0 {
			onRecord(rec.Line)
		}
		if in.MaxRecords > 0 && rec.Index > in.MaxRecords {
			// Nothing was appended yet: the input is refused whole, and
			// no record of it is counted.
			res.Records = res.Records[:0]
			return res, fmt.Errorf("%w: more than %d", ErrTooManyRecords, in.MaxRecords)
		}
		if rec.Err != nil && rec.Err.Read != nil {
			// The input failed, not a record of it: what was read before
			// goes in, and the caller is told that the rest was not read.
			if err := flush(); err != nil {
				return res, err
			}
			err := rec.Err.Read
			if pe := (*fs.PathError)(nil); !errors.As(err, &pe) {
				err = fmt.Errorf("read: %w", err) // a file's says so already
			}
			return res, err
		}
		rr := recordResult(rec)
		if rec.Err != nil {
			res.Records = append(res.Records, rr)
			continue
		}
		if c := rec.Event.Corrects; c != "" {
			t, ok := known[c]
			if !ok && in.Stream != nil {
				// The event corrected may be in this batch, not yet
				// appended (unless the input is appended whole at its end).
				if in.MaxRecords == 0 {
					if err := flush(); err != nil {
						return res, err
					}
				}
				var lookErr error
				err := in.await(ctx, name, func(ctx context.Context) {
					var stored events.Event
					stored, ok, lookErr = in.Stream.Stored(ctx, c)
					t = amendTarget{stored.Type, stored.Corrects}
				})
				if err == nil {
					err = lookErr
				}
				if err != nil {
					// Read but not appended: reported, so that the counts
					// cover every record read.
					rr.Status, rr.Error = Failed, fmt.Sprintf("not appended: looking up %s, which it corrects: %v", c, err)
					res.Records = append(res.Records, rr)
					return res, fmt.Errorf("record %d: look up %s: %w", rec.Index, c, err)
				}
				if !ok {
					res.Records = append(res.Records, reject(name, rec, rr, c, "no event with this id in the record"))
					early[c] = append(early[c], len(res.Records)-1)
					continue
				}
			} else if !ok {
				early[c] = append(early[c], len(res.Records))
			}
			if ok && t.of != "" {
				// The projector would leave it without effect.
				res.Records = append(res.Records, reject(name, rec, rr, c, t.refusal()))
				continue
			}
		}
		for _, i := range early[rec.Event.ID] {
			forwards = append(forwards, forward{i, rec.Index, rec.Event.ID})
		}
		delete(early, rec.Event.ID)
		if in.Stream == nil {
			b := sha256.Sum256(rec.Event.Canonical())
			if f, ok := first[rec.Event.ID]; ok {
				if f.event == b {
					rr.Status = Duplicate
				} else {
					where := fmt.Sprintf("record %d", f.record)
					if f.input != name {
						where = f.input + " " + where
					}
					rr.Status, rr.Error = Conflict, fmt.Sprintf("id %s already given to other content in %s", rec.Event.ID, where)
				}
				res.Records = append(res.Records, rr)
				continue
			}
			first[rec.Event.ID] = firstSeen{name, rec.Index, b}
		}
		known[rec.Event.ID] = amendTarget{rec.Event.Type, rec.Event.Corrects}
		res.Records = append(res.Records, rr)
		pending = append(pending, len(res.Records)-1)
		evs = append(evs, rec.Event)
		if len(evs) >= batch && in.MaxRecords == 0 {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	res.read = true
	if err := flush(); err != nil {
		return res, err
	}
	// A correction before the event it corrects: refused when appending
	// (the event was not in the record yet), and so when only checking,
	// where the stream cannot be asked.
	for _, fw := range forwards {
		rr := &res.Records[fw.correction]
		if rr.Status != Rejected && rr.Status != Valid {
			continue
		}
		reason := fmt.Sprintf("it comes later in this input, in record %d: put the correction after it", fw.event)
		if rr.Status == Rejected && len(rr.Errors) > 0 {
			rr.Errors[0].Reason += "; " + reason
		} else {
			rr.Errors = []events.FieldError{{Field: "corrects", Value: fw.id, Reason: "the event it corrects is not before it: " + reason, Line: rr.correctsAt()}}
		}
		re := &events.RecordError{File: name, Line: rr.correctsAt(), Record: rr.Record, ID: rr.ID, Fields: rr.Errors}
		rr.Status, rr.Error = Rejected, re.Error()
	}
	return res, nil
}

// graced returns a context that ends grace after ctx does (at once for
// no grace), and a function that releases it.
func graced(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	if grace <= 0 {
		return ctx, func() {}
	}
	gctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, func() { cancel(context.Cause(ctx)) })
		context.AfterFunc(gctx, func() { t.Stop() })
	})
	return gctx, func() { stop(); cancel(nil) }
}

// await runs call, which talks to the stream, under a watch: every
// waitNotice Progress is told that input name is still waiting (a server
// restarting, a cluster electing a leader: a long silence would look like
// a hang), and once the connection has been down for Wait, call's context
// ends and await returns ErrUnreachable; once call has had no answer for
// Silence with the connection up, ErrUnanswered.
func (in *Ingester) await(ctx context.Context, name string, call func(context.Context)) error {
	if in.Progress == nil && in.Wait == 0 && in.Silence == 0 {
		call(ctx) // nothing to watch for (a POST, bounded by its own context)
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, _ := in.Stream.(Connected)
		start := time.Now()
		var downSince time.Time
		nextNotice := start.Add(waitNotice)
		t := time.NewTicker(waitPoll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				if in.Silence > 0 && now.Sub(start) >= in.Silence && (conn == nil || conn.Connected()) {
					cancel(ErrUnanswered)
					return
				}
				if conn != nil && in.Wait > 0 {
					switch {
					case conn.Connected():
						downSince = time.Time{}
					case downSince.IsZero():
						downSince = now
					case now.Sub(downSince) >= in.Wait:
						cancel(ErrUnreachable)
						return
					}
				}
				if now.Before(nextNotice) || in.Progress == nil {
					continue
				}
				nextNotice = now.Add(waitNotice)
				msg := fmt.Sprintf("%s: waiting for the stream to answer (%s so far)", name, roughly(now.Sub(start)))
				if !downSince.IsZero() {
					msg += fmt.Sprintf("; not connected for %s, ingest gives up at %s", roughly(now.Sub(downSince)), in.Wait)
				}
				if progress.IsTerminal(in.Progress) {
					// Over the progress bar's line, which redraws below.
					msg = "\r\033[K" + msg
				}
				fmt.Fprintln(in.Progress, msg)
			}
		}
	}()
	call(ctx)
	close(done)
	wg.Wait()
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, ErrUnanswered):
		return fmt.Errorf("%w for %s (a server whose disk is full answers nothing)", ErrUnanswered, in.Silence)
	case errors.Is(cause, ErrUnreachable):
		return fmt.Errorf("%w for %s", ErrUnreachable, in.Wait)
	}
	return nil
}

// roughly rounds a wait for a person: to the second, below one to the
// millisecond.
func roughly(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}
