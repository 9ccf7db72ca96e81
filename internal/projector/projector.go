// Package projector runs the projection: it consumes the stream from the
// read model's checkpoint, applies whatever has arrived in one bbolt
// transaction per batch (checkpoint included), and tells the live feeds
// what changed. It also rebuilds a read model from the whole stream into a
// new file, swapped in only when complete.
package projector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-news/parley/internal/metrics"
	"github.com/parley-news/parley/internal/outage"
	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/stream"
)

// Config configures a Projector.
type Config struct {
	// BatchMax bounds the messages applied in one transaction; 0 means
	// stream.DefaultBatchMax.
	BatchMax int
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// OnApply is called after each committed batch, in order, with the
	// checkpoint and the batch's developments. It runs on the apply loop:
	// it must hand off, not block.
	OnApply func(checkpoint uint64, devs []*projections.Development)
	// OnSkip is called for each message the projection could not apply.
	OnSkip func(*projections.Skipped)
	// RetryMax bounds the wait between attempts to commit a batch that
	// failed for want of room or permission on the read model's disk
	// (see Exhausted); 0 means DefaultRetryMax.
	RetryMax time.Duration
	// CheckFile, when set, tells whether the read model's file is still
	// the one open (bolt.Store.CheckFile). It is asked before each commit
	// and every second, and an error ends Run with it: commits to a file
	// removed or replaced keep nothing, and the next start opens what is
	// at the path, checks it and catches up from the stream, which lost
	// nothing.
	CheckFile func() error
}

// DefaultRetryMax is the longest wait between attempts to commit a batch
// the disk refused: short enough that applying resumes soon after room is
// made, long enough not to spin on a full disk.
const DefaultRetryMax = 30 * time.Second

// stallReminder is how often a stall that goes on is logged again.
const stallReminder = 5 * time.Minute

// Projector applies the stream to a read model.
type Projector struct {
	cfg   Config
	conn  *stream.Conn
	store projections.Store
	log   *slog.Logger

	streamID string        // the stream's identity when Run started
	applied  atomic.Uint64 // checkpoint after the last commit
	consumed atomic.Uint64 // messages applied since Run started
	head     atomic.Uint64 // the stream's last sequence, as last seen
	target   atomic.Uint64 // what must be applied to be ready
	ready    atomic.Bool
	stalled  atomic.Bool // a commit is being refused by the disk
	lost     atomic.Bool // the read model's file or stream went from under it

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on each commit
}

// New returns a projector of conn's stream into store.
func New(conn *stream.Conn, store projections.Store, cfg Config) *Projector {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = DefaultRetryMax
	}
	return &Projector{cfg: cfg, conn: conn, store: store, log: cfg.Logger, changed: make(chan struct{})}
}

// ErrAheadOfStream is returned when the read model holds more of the stream
// than the stream has: it was not built from this stream.
var ErrAheadOfStream = errors.New("read model is ahead of the stream")

// ErrOtherStream is returned when the read model was built from another
// stream than the one of that name now (deleted and created again, or
// restored from another's backup): its checkpoint numbers other events.
var ErrOtherStream = errors.New("read model was built from another stream")

// Run applies the stream from the read model's checkpoint until ctx ends.
func (p *Projector) Run(ctx context.Context) error {
	state, err := p.conn.State(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped as it started
		}
		return err
	}
	head := state.LastSeq
	var cp uint64
	var built string
	err = p.store.Update(ctx, func(tx projections.Tx) error {
		cp, built = projections.Checkpoint(tx), projections.StreamID(tx)
		if err := projections.Init(tx); err != nil {
			return err
		}
		if built == "" || (cp == 0 && built != state.ID) {
			// A new model, one from before the identity was kept, or one
			// that holds nothing of any stream yet.
			return projections.SetStreamID(tx, state.ID)
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("read checkpoint: %w", err)
	}
	// Consuming from the checkpoint would skip every event of the stream
	// up to it, for good. OpenModel rebuilds such a model; a stream
	// replaced under a running projector ends Run (watchHead).
	if cp > head {
		return fmt.Errorf("%w: checkpoint %d, stream's last message %d", ErrAheadOfStream, cp, head)
	}
	if cp > 0 && built != "" && built != state.ID {
		return fmt.Errorf("%w: built from %s, the stream now is %s", ErrOtherStream, built, state.ID)
	}
	p.streamID = state.ID
	p.applied.Store(cp)
	metrics.Checkpoint.Set(float64(cp))
	p.notify() // a WaitFor already satisfied by the checkpoint returns
	p.head.Store(head)
	p.target.Store(head)
	p.log.Info("projector starting", "checkpoint", cp, "stream_last", head)
	p.checkReady()

	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go p.watchHead(ctx, cancel)

	err = p.conn.Consume(ctx, stream.ConsumeConfig{From: cp + 1, BatchMax: p.cfg.BatchMax, Prepare: prepare}, p.apply)
	if parent.Err() != nil {
		// A stop asked for wins over a file lost at the same moment.
		return nil
	}
	if lost := context.Cause(ctx); lost != nil {
		return lost // watchHead found the file or the stream gone
	}
	return err
}

// checkFile asks CheckFile; its error, what Run ends with, says what to
// do next.
func (p *Projector) checkFile() error {
	if p.cfg.CheckFile == nil {
		return nil
	}
	err := p.cfg.CheckFile()
	if err == nil {
		return nil
	}
	p.lost.Store(true)
	return fmt.Errorf("read model at checkpoint %d: %w; start the projector again: it opens what is at the path, checks it, and catches up from the stream, which keeps every event", p.applied.Load(), err)
}

// apply commits a batch. A commit the disk refuses for want of room or
// permission (Exhausted) rolls back whole and is tried again, backing
// off, until it goes through or ctx ends: the process keeps serving the
// read model as of its last commit, not ready, rather than stopping, and
// with it, on the embedded default, the stream and the API. Other
// failures end Run as before.
func (p *Projector) apply(ctx context.Context, batch []stream.Message) error {
	wait := min(time.Second, p.cfg.RetryMax)
	stall := &outage.Log{Logger: p.log, Level: slog.LevelError, Remind: stallReminder,
		Began: "read model write refused; applying paused, reads served as of the checkpoint, retrying until the disk takes it",
		Still: "read model write still refused; applying paused",
		Ended: "read model writable again; applying resumed"}
	for {
		if err := p.checkFile(); err != nil {
			return err
		}
		err := p.commit(ctx, batch)
		if err == nil || !Exhausted(err) || ctx.Err() != nil {
			if err == nil && p.stalled.Swap(false) {
				metrics.Stalled.Set(0)
				stall.Recovered(ctx, "seq", batch[0].Seq)
			}
			return err
		}
		if !p.stalled.Swap(true) {
			metrics.Stalled.Set(1)
		}
		stall.Failed(ctx, err, "checkpoint", p.applied.Load())
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, p.cfg.RetryMax)
		// Prepared afresh: nothing of the rolled-back attempt is reused.
		for i := range batch {
			prepare(&batch[i])
		}
	}
}

// commit applies a batch in one transaction and, once it has committed,
// tells the metrics, the hooks and the waiters.
func (p *Projector) commit(ctx context.Context, batch []stream.Message) error {
	devs := make([]*projections.Development, 0, len(batch))
	var skipped []*projections.Skipped
	start := time.Now()
	err := p.store.Update(ctx, func(tx projections.Tx) error {
		devs, skipped = devs[:0], skipped[:0]
		outs, err := projections.ApplyBatch(tx, messages(batch))
		if err != nil {
			return err
		}
		for _, out := range outs {
			if out.Development != nil {
				devs = append(devs, out.Development)
			}
			if out.Skipped != nil {
				skipped = append(skipped, out.Skipped)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("apply batch %d-%d: %w", batch[0].Seq, batch[len(batch)-1].Seq, err)
	}
	last := batch[len(batch)-1].Seq
	p.applied.Store(last)
	p.consumed.Add(uint64(len(batch)))
	metrics.BatchSeconds.Observe(time.Since(start).Seconds())
	metrics.Applied.Add(float64(len(batch) - len(skipped)))
	metrics.Skipped.Add(float64(len(skipped)))
	metrics.Checkpoint.Set(float64(last))
	if last > p.head.Load() {
		p.head.Store(last)
	}
	// The metric follows each batch, as /readyz's lag does, not only the
	// head's watcher, which may be waiting on a stream being elected.
	metrics.Lag.Set(float64(p.Lag()))
	for _, s := range skipped {
		p.log.Warn("message skipped", "seq", s.Seq, "subject", s.Subject, "reason", s.Reason)
		if p.cfg.OnSkip != nil {
			p.cfg.OnSkip(s)
		}
	}
	if p.cfg.OnApply != nil {
		p.cfg.OnApply(last, devs)
	}
	p.checkReady()
	p.notify()
	return nil
}

// notify wakes every WaitFor to look at the checkpoint again.
func (p *Projector) notify() {
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// watchHead keeps the stream's last sequence fresh for the lag figure,
// and looks at the read model's file while no batch comes to do it:
// lost, it ends Run with stop. It also ends Run when the stream is no
// longer the one the read model follows: deleted and created again (a
// NATS server that lost its store, a restore), the ordered consumer
// carried on from the checkpoint in the new stream, skipped its events
// up to there and applied the rest on top of the old ones, ready all
// along. Ended, the next start rebuilds.
func (p *Projector) watchHead(ctx context.Context, stop context.CancelCauseFunc) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	behind := 0 // looks in a row that found the stream shorter than applied
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := p.checkFile(); err != nil {
				stop(err)
				return
			}
			// Read before asking: what was applied then was in the
			// stream when it answered.
			applied := p.applied.Load()
			// Bounded, so that a stream without a leader does not hold
			// the figure for the length of an election.
			hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			s, err := p.conn.State(hctx)
			cancel()
			if err == nil {
				if s.LastSeq < applied {
					behind++
				} else {
					behind = 0
				}
				if s.ID != p.streamID || behind >= behindLooks {
					p.lost.Store(true)
					stop(p.notSameStream(s, applied))
					return
				}
				if s.LastSeq > p.head.Load() {
					p.head.Store(s.LastSeq)
				}
			}
			metrics.Lag.Set(float64(p.Lag()))
		}
	}
}

// behindLooks is how many looks in a row must find the stream shorter
// than what was applied for Run to end: one answer could come from a
// stream leader just elected, before it has caught up with what it holds,
// and a stop would then rebuild for nothing.
const behindLooks = 3

// notSameStream says how the stream, as s says, is no longer the one Run
// started on, or no longer holds the applied messages.
func (p *Projector) notSameStream(s stream.State, applied uint64) error {
	const todo = "; start the projector again: it rebuilds the read model from the stream"
	if s.ID != p.streamID {
		return fmt.Errorf("%w: the stream was replaced under the running projector (was %s, now %s)%s", ErrOtherStream, p.streamID, s.ID, todo)
	}
	return fmt.Errorf("%w: checkpoint %d, stream's last message %d: the stream lost messages under the running projector%s", ErrAheadOfStream, applied, s.LastSeq, todo)
}

func (p *Projector) checkReady() {
	if !p.ready.Load() && p.applied.Load() >= p.target.Load() {
		p.ready.Store(true)
		p.log.Info("projector caught up", "checkpoint", p.applied.Load())
	}
}

// Ready reports whether the projector has caught up with the stream as it
// was when it started, and is not stalled: a read model whose commits the
// disk refuses answers from the past, and one whose file or stream was
// lost keeps nothing more.
func (p *Projector) Ready() bool { return p.ready.Load() && !p.stalled.Load() && !p.lost.Load() }

// Stalled reports whether applying is paused because the disk refuses
// the read model's commits (full, or no longer writable).
func (p *Projector) Stalled() bool { return p.stalled.Load() }

// Applied is the read model's checkpoint.
func (p *Projector) Applied() uint64 { return p.applied.Load() }

// Consumed is how many stream messages this run has applied: after a
// restart on a caught-up read model, none.
func (p *Projector) Consumed() uint64 { return p.consumed.Load() }

// Lag is how many stream messages are not applied yet, as last seen.
func (p *Projector) Lag() uint64 {
	h, a := p.head.Load(), p.applied.Load()
	if h > a {
		return h - a
	}
	return 0
}

// WaitFor blocks until the message at seq is applied or ctx ends.
func (p *Projector) WaitFor(ctx context.Context, seq uint64) error {
	for {
		p.mu.Lock()
		ch := p.changed
		p.mu.Unlock()
		if p.applied.Load() >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// messages converts a batch of the stream's messages to the projection's,
// with what prepare decoded.
func messages(batch []stream.Message) []projections.Message {
	out := make([]projections.Message, len(batch))
	for i, m := range batch {
		d, _ := m.Prepared.(*projections.Decoded)
		out[i] = projections.Message{Seq: m.Seq, Time: m.Time, Subject: m.Subject, Data: m.Data, Decoded: d}
	}
	return out
}

// prepare decodes a message's event, and works out what applying it
// writes, on the consumer's receiving goroutine.
func prepare(m *stream.Message) { m.Prepared = projections.Prepare(m.Seq, m.Time, m.Data) }
