// Package ingest reads events from files, standard input or HTTP bodies,
// validates them, and appends the valid ones to the stream, with one
// result per record: appended, duplicate, or rejected with the reason. A
// bad record never stops the good ones beside it.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// OK reports whether every record went in (appended or already there).
func (r *Result) OK() bool { return r.Rejected == 0 && r.Conflict == 0 && r.Failed == 0 }

// count adds up the records' statuses and counts them in the metrics.
func (res *Result) count() {
	for i := range res.Records {
		rr := &res.Records[i]
		if rr.Status == "" {
			// Read and valid, but the input ended in an error before it
			// was appended.
			rr.Status, rr.Error = Failed, "not appended: ingest stopped before this record"
		}
		field := ""
		if rr.Status == Rejected {
			field = "syntax"
			if len(rr.Errors) > 0 && rr.Errors[0].Field != "" {
				// The top-level field: "positions", not "positions[3].party",
				// so that the series stay few.
				field, _, _ = strings.Cut(rr.Errors[0].Field, "[")
				field, _, _ = strings.Cut(field, ".")
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

// Appender is the stream as ingest uses it.
type Appender interface {
	Append(ctx context.Context, evs []events.Event, source string) []stream.Result
	Exists(ctx context.Context, id string) (bool, error)
}

var _ Appender = (*stream.Conn)(nil)

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
	// Wait bounds how long one batch waits for the stream to answer;
	// past it the ingest stops with ErrUnreachable. 0 waits as long as
	// ctx lets it.
	Wait time.Duration
}

// ErrUnreachable is returned when the stream did not answer a batch
// within the Ingester's Wait.
var ErrUnreachable = errors.New("the stream did not answer")

// waitNotice is how long a batch waits before Progress is told, and how
// often after that (a variable for the tests).
var waitNotice = 5 * time.Second

// Ingest reads one input and appends its valid records in order.
func (in *Ingester) Ingest(ctx context.Context, name string, r io.Reader, f events.Format) (*Result, error) {
	res := &Result{Name: name, Records: []RecordResult{}, Checked: in.Stream == nil}
	// The counts hold on every return, an error's too: what went in before
	// it went in.
	defer res.count()
	batch := in.Batch
	if batch <= 0 {
		batch = 1000
	}
	// ids seen in this input, for corrections of events earlier in it.
	known := map[string]bool{}
	// When only checking, the first record of each id and its event, to
	// tell a repeated id as the stream would: a duplicate if the event is
	// the same, else a conflict.
	type seen struct {
		record int
		event  []byte
	}
	first := map[string]seen{}
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
			return nil
		}
		actx, cancel := ctx, context.CancelFunc(func() {})
		if in.Wait > 0 {
			actx, cancel = context.WithTimeoutCause(ctx, in.Wait, ErrUnreachable)
		}
		defer cancel()
		stopNotice := in.noticeWaiting(name)
		results := in.Stream.Append(actx, evs, in.Source)
		stopNotice()
		var unreachable error
		if ctx.Err() == nil && errors.Is(context.Cause(actx), ErrUnreachable) {
			unreachable = fmt.Errorf("%w within %s", ErrUnreachable, in.Wait)
		}
		for j, sr := range results {
			rr := &res.Records[pending[j]]
			rr.Status, rr.Seq = string(sr.Status), sr.Seq
			switch {
			case unreachable != nil && sr.Status == stream.Failed:
				// One reason for the batch, not each message's last
				// attempt's.
				rr.Error = unreachable.Error()
			case sr.Err != nil:
				rr.Error = sr.Err.Error()
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return unreachable
	}
	for rec := range in.Decoder.Decode(name, r, f) {
		rr := RecordResult{Record: rec.Index, Line: rec.Line, ID: rec.Event.ID}
		if rec.Err != nil {
			rr.ID = rec.Err.ID
			rr.Status, rr.Errors, rr.Error = Rejected, rec.Err.Fields, rec.Err.Error()
			res.Records = append(res.Records, rr)
			continue
		}
		if c := rec.Event.Corrects; c != "" && !known[c] && in.Stream != nil {
			// The event corrected may be in this batch, not yet appended.
			if err := flush(); err != nil {
				return res, err
			}
			ok, err := in.Stream.Exists(ctx, c)
			if err != nil {
				return res, fmt.Errorf("ingest %s: record %d: %w", name, rec.Index, err)
			}
			if !ok {
				fe := events.FieldError{Field: "corrects", Value: c, Reason: "no event with this id in the record", Line: rec.Line}
				re := &events.RecordError{File: name, Line: rec.Line, Record: rec.Index, ID: rec.Event.ID, Fields: []events.FieldError{fe}}
				rr.Status, rr.Errors, rr.Error = Rejected, re.Fields, re.Error()
				early[c] = append(early[c], len(res.Records))
				res.Records = append(res.Records, rr)
				continue
			}
		} else if c != "" && !known[c] {
			early[c] = append(early[c], len(res.Records))
		}
		for _, i := range early[rec.Event.ID] {
			forwards = append(forwards, forward{i, rec.Index, rec.Event.ID})
		}
		delete(early, rec.Event.ID)
		if in.Stream == nil {
			b := rec.Event.Canonical()
			if f, ok := first[rec.Event.ID]; ok {
				if string(f.event) == string(b) {
					rr.Status = Duplicate
				} else {
					rr.Status, rr.Error = Conflict, fmt.Sprintf("id %s already given to other content in record %d", rec.Event.ID, f.record)
				}
				res.Records = append(res.Records, rr)
				continue
			}
			first[rec.Event.ID] = seen{rec.Index, b}
		}
		known[rec.Event.ID] = true
		res.Records = append(res.Records, rr)
		pending = append(pending, len(res.Records)-1)
		evs = append(evs, rec.Event)
		if len(evs) >= batch {
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
			rr.Errors = []events.FieldError{{Field: "corrects", Value: fw.id, Reason: "the event it corrects is not before it: " + reason, Line: rr.Line}}
		}
		re := &events.RecordError{File: name, Line: rr.Line, Record: rr.Record, ID: rr.ID, Fields: rr.Errors}
		rr.Status, rr.Error = Rejected, re.Error()
	}
	return res, nil
}

// noticeWaiting tells Progress, every waitNotice, that a batch of the
// input name is still waiting for the stream (a server restarting, a
// cluster electing a leader), until the returned stop is called: a long
// silence would look like a hang.
func (in *Ingester) noticeWaiting(name string) (stop func()) {
	if in.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		t := time.NewTicker(waitNotice)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if in.Wait > 0 && time.Since(start) >= in.Wait {
					continue // the stop says it
				}
				msg := fmt.Sprintf("%s: waiting for the stream to answer (%s so far)", name, time.Since(start).Round(time.Second))
				if in.Wait > 0 {
					msg += fmt.Sprintf("; ingest gives up at %s", in.Wait)
				}
				if progress.IsTerminal(in.Progress) {
					// Over the progress bar's line, which redraws below.
					msg = "\r\033[K" + msg
				}
				fmt.Fprintln(in.Progress, msg)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
