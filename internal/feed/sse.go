package feed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/parley-news/parley/internal/httpapi"
	"github.com/parley-news/parley/internal/projections"
)

// Backlog paging: a read transaction renders at most pageSize messages and
// reads at most scanMax developments, so that no transaction stays open
// while a client is written to (a long bbolt read stalls the projector's
// file growth).
const (
	pageSize = 256
	scanMax  = 4096
	// maxCoalesce bounds the live messages written under one deadline
	// and flushed together.
	maxCoalesce = 64
)

var keepAlive = []byte(": keep-alive\n\n")

// serveSSE serves GET /v1/feed.
func (b *Broker) serveSSE(w http.ResponseWriter, r *http.Request) {
	p := params{httpapi.RequestParams(r)}
	p.Only("party", "issue", "type", "last_event_id")
	f := b.filter(&p)
	after, by, resume := p.lastEventID(r.Header.Get("Last-Event-ID"))
	if p.Err == nil && resume && after > b.applied.Load() && b.cfg.LastSeq != nil {
		// Past what this replica applied: asked of the stream, since the
		// replica that sent the id may be ahead of this one.
		if last, err := b.cfg.LastSeq(r.Context()); err == nil && after > last {
			p.Fail(by, strconv.FormatUint(after, 10), fmt.Sprintf("past the stream's last message (%d): not an id this feed sent", last))
		}
	}
	if p.Err != nil {
		writeProblem(w, http.StatusBadRequest, p.Err.Error(), p.Err.Param)
		return
	}
	c, err := b.admit(remoteHost(r.RemoteAddr), f)
	if err != nil {
		b.cfg.OnRefused(refusal(err))
	}
	switch {
	case errors.Is(err, ErrClosed) || err != nil && acceptsStream(r):
		// Shutting down, or full: come back (to this replica once
		// restarted, or another, or once a place is free), rather than a
		// 503 or 429 on which EventSource would give up for good.
		httpapi.RetryStream(w, err.Error())
		return
	case err != nil:
		// A client that did not ask for an event stream (a script, curl)
		// reads the status.
		w.Header().Set("Retry-After", "5")
		writeProblem(w, http.StatusTooManyRequests, err.Error(), "")
		return
	}
	defer b.release(c)
	b.hookShutdown(r)
	s := &sseStream{b: b, c: c, w: w, rc: http.NewResponseController(w), ctx: r.Context(), method: r.Method, last: after}
	s.serve(resume)
}

// acceptsStream says whether the request asked for an event stream, as
// EventSource always does.
func acceptsStream(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// refusal is the reason label of a stream not admitted.
func refusal(err error) string {
	switch {
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, ErrTooManyFromAddr):
		return "address"
	}
	return "full"
}

// sseStream is one client's stream, run by its handler.
type sseStream struct {
	b      *Broker
	c      *client
	w      http.ResponseWriter
	rc     *http.ResponseController
	ctx    context.Context
	method string
	// last is the sequence the client has everything up to (sent, or not
	// matching its filter): only later ones go out.
	last      uint64
	lastWrite time.Time // when the client was last written to
	until     time.Time // the connection's write deadline
}

func (s *sseStream) serve(resume bool) {
	// The stream reads nothing after its request: no read deadline of the
	// server's (ReadTimeout) may end it.
	_ = s.rc.SetReadDeadline(time.Time{})
	s.c.attach(s.rc)
	defer s.c.detach()
	// A new client is subscribed before it has the headers: once it has
	// them, it gets every development committed from then on, that is
	// after the checkpoint of its subscription, which the stream's opening
	// gives it as its id. A client cut off before any development came
	// (a quiet hour, then a proxy or a replica restarting) thus resumes
	// from there, rather than from the live tail of its new stream.
	if !resume {
		cp, err := s.b.subscribe(s.c)
		if err != nil {
			writeProblem(s.w, http.StatusServiceUnavailable, err.Error(), "")
			return
		}
		s.last = cp
	}
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx would buffer the stream
	h.Set("X-Content-Type-Options", "nosniff")
	s.w.WriteHeader(http.StatusOK)
	if s.method == http.MethodHead {
		return // the headers are the whole answer; a stream would send nothing, forever
	}
	open := "retry: " + strconv.FormatInt(s.b.cfg.Retry.Milliseconds(), 10) + "\n"
	if !resume {
		// An id with no data: EventSource takes it as its last id and
		// dispatches no event.
		open += "id: " + strconv.FormatUint(s.last, 10) + "\n"
	}
	if s.write([]byte(open+"\n")) != nil {
		return
	}
	if resume {
		// A resuming client reads its backlog before it subscribes, so that
		// a long one does not fill its live buffer; then again after, for
		// what was committed in between.
		if s.catchUp() != nil {
			return
		}
		if _, err := s.b.subscribe(s.c); err != nil || s.catchUp() != nil {
			return
		}
	}
	s.live()
}

// catchUp sends what the read model holds after s.last, page by page,
// until it has nothing more.
func (s *sseStream) catchUp() error {
	for {
		msgs, next, err := s.b.backlog(s.ctx, s.c.filter, s.last)
		if err != nil {
			return err
		}
		if next == s.last {
			return nil
		}
		if len(msgs) > 0 {
			frames := make([][]byte, len(msgs))
			for i, m := range msgs {
				frames[i] = m.frame
			}
			if err := s.write(frames...); err != nil {
				return err
			}
		} else if err := s.c.err(); err != nil {
			return err
		}
		s.last = next
	}
}

// live sends the live tail until the client leaves or is cut off.
func (s *sseStream) live() {
	// A keep-alive goes out after KeepAlive of silence, counted from the
	// last write: a ticker that skipped the tick after a write left the
	// stream silent for up to twice as long.
	ka := s.b.cfg.KeepAlive
	quiet := time.NewTimer(ka - time.Since(s.lastWrite))
	defer quiet.Stop()
	var msgs []*message
	frames := make([][]byte, 0, maxCoalesce)
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.c.gone:
			return
		case <-quiet.C:
			if idle := time.Since(s.lastWrite); idle < ka {
				quiet.Reset(ka - idle)
				continue
			}
			if s.write(keepAlive) != nil {
				return
			}
			quiet.Reset(ka)
		case <-s.c.signal:
			msgs = s.c.take(msgs)
			for _, m := range msgs {
				if m.dev.Seq <= s.last {
					continue // sent from the backlog
				}
				s.last = m.dev.Seq
				if frames = append(frames, m.frame); len(frames) == maxCoalesce {
					if s.write(frames...) != nil {
						return
					}
					frames = frames[:0]
				}
			}
			if len(frames) > 0 && s.write(frames...) != nil {
				return
			}
			frames = frames[:0]
		}
	}
}

// write writes frames and flushes them, under a write deadline.
func (s *sseStream) write(frames ...[]byte) error {
	now := time.Now()
	if err := s.c.deadline(now, &s.until, s.b.cfg.WriteTimeout); err != nil {
		return err
	}
	s.lastWrite = now
	for _, f := range frames {
		if _, err := s.w.Write(f); err != nil {
			return s.failed(err)
		}
	}
	return s.failed(s.rc.Flush())
}

// failed counts a write that ran out of time as a slow client, unless
// the broker has already cut it off.
func (s *sseStream) failed(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) && s.c.err() == nil {
		s.b.slowWrite(s.c)
	}
	return err
}

// backlog renders up to a page of the developments after seq that pass f,
// and returns them with the last sequence it read (seq when there was
// nothing after it).
func (b *Broker) backlog(ctx context.Context, f Filter, seq uint64) ([]*message, uint64, error) {
	var (
		msgs []*message
		next = seq
		n    int
		rerr error
	)
	err := b.store.View(ctx, func(tx projections.Tx) error {
		return projections.Developments(tx, seq, func(d *projections.Development) bool {
			n++
			next = d.Seq
			if f.Match(d) {
				m, err := render(tx, d)
				if err != nil {
					rerr = err
					return false
				}
				msgs = append(msgs, m)
			}
			return len(msgs) < pageSize && n < scanMax
		})
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return nil, seq, err
	}
	return msgs, next, nil
}
