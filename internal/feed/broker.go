package feed

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/projections"
)

// maxQueued bounds the developments waiting between the projector's hook
// and the fan-out. Past it the queue is dropped rather than grown or
// waited on, and every client is cut off to resume from the read model:
// the projector never waits for the feeds.
const maxQueued = 100_000

// Broker fans the developments of each committed batch out to the SSE
// clients and serves the three feeds (Register). Its goroutine runs from
// New until Close.
type Broker struct {
	store projections.Store
	vocab *events.Vocabulary
	cfg   Config
	log   *slog.Logger
	epoch int64 // start time, in ETags: a restart may change what renders

	// The queue between Publish and the fan-out goroutine.
	qmu     sync.Mutex
	queue   [][]*projections.Development
	queued  int
	overrun bool
	wake    chan struct{}

	mu     sync.Mutex
	all    map[*client]struct{} // admitted streams, catching up or live
	subs   map[*client]struct{} // streams that take the live tail
	byAddr map[string]int
	closed bool
	hooked map[*http.Server]bool // servers whose Shutdown ends the streams

	ctx     context.Context // ends at Close
	cancel  context.CancelFunc
	stopped chan struct{}
	once    sync.Once

	dropped atomic.Uint64
	// applied is the read model's checkpoint as last published (or read
	// at start): a client resuming at or below it needs no question to
	// the stream.
	applied atomic.Uint64
}

// New returns a Broker that serves the read model in store, with filters
// checked against vocab. Close stops it.
func New(store projections.Store, vocab *events.Vocabulary, cfg Config) (*Broker, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil || vocab == nil {
		return nil, errors.New("feed: a store and a vocabulary are required")
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Broker{
		store: store, vocab: vocab, cfg: cfg, log: cfg.Logger, epoch: time.Now().Unix(),
		wake: make(chan struct{}, 1),
		all:  map[*client]struct{}{}, subs: map[*client]struct{}{}, byAddr: map[string]int{},
		hooked: map[*http.Server]bool{},
		ctx:    ctx, cancel: cancel, stopped: make(chan struct{}),
	}
	// Until a batch is published, what the read model holds.
	_ = store.View(ctx, func(tx projections.Tx) error {
		b.applied.Store(projections.Checkpoint(tx))
		return nil
	})
	go b.run()
	return b, nil
}

// Publish queues the developments of a committed batch for the SSE
// clients. It is the projector's OnApply hook and returns at once: it
// never waits for a client or for the read model.
func (b *Broker) Publish(checkpoint uint64, devs []*projections.Development) {
	b.applied.Store(checkpoint)
	if len(devs) == 0 {
		return
	}
	b.qmu.Lock()
	if b.queued+len(devs) > maxQueued {
		b.queue, b.queued, b.overrun = nil, 0, true
	} else {
		b.queue = append(b.queue, devs)
		b.queued += len(devs)
	}
	b.qmu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default: // the fan-out is already woken
	}
}

// Close disconnects every client, refuses new ones and stops the fan-out.
func (b *Broker) Close() {
	b.once.Do(func() {
		b.shutdown()
		b.cancel()
	})
	<-b.stopped
}

// shutdown ends every stream and refuses new ones. It is also registered
// with the HTTP server's Shutdown, which otherwise waits for streams that
// never end on their own.
func (b *Broker) shutdown() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for c := range b.all {
		b.dropLocked(c, ErrClosed)
	}
}

// Stats are the broker's counters.
type Stats struct {
	// Streams are the SSE streams open; Live those past their backlog.
	Streams, Live int
	// Dropped counts the clients cut off for being too slow.
	Dropped uint64
}

// Stats returns the broker's counters.
func (b *Broker) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Stats{Streams: len(b.all), Live: len(b.subs), Dropped: b.dropped.Load()}
}

func (b *Broker) run() {
	defer close(b.stopped)
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.wake:
		}
		b.qmu.Lock()
		batches, overrun := b.queue, b.overrun
		b.queue, b.queued, b.overrun = nil, 0, false
		b.qmu.Unlock()
		if overrun {
			b.log.Warn("feed fan-out fell behind the projector; clients resume from the read model")
			b.dropAll(ErrOverrun)
			continue
		}
		for _, devs := range batches {
			b.fanOut(devs)
		}
	}
}

// fanOut renders a batch once and offers it to each subscribed client
// whose filter it passes. A client with no room is cut off there and then.
func (b *Broker) fanOut(devs []*projections.Development) {
	b.mu.Lock()
	n := len(b.subs)
	b.mu.Unlock()
	if n == 0 {
		// Nobody to render for. A client that subscribes from now on reads
		// this batch, already committed, from the read model.
		return
	}
	msgs := make([]*message, 0, len(devs))
	err := b.store.View(b.ctx, func(tx projections.Tx) error {
		for _, d := range devs {
			m, err := render(tx, d)
			if err != nil {
				return err
			}
			msgs = append(msgs, m)
		}
		return nil
	})
	if err != nil {
		if b.ctx.Err() == nil {
			b.log.Error("feed fan-out", "seq", devs[0].Seq, "err", err)
		}
		// What cannot be rendered cannot be skipped either: the clients
		// resume from the read model.
		b.dropAll(err)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.subs {
		if err := c.offer(msgs, b.cfg.Buffer); err != nil {
			b.dropLocked(c, err)
		}
	}
}

func (b *Broker) dropAll(reason error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.subs {
		b.dropLocked(c, reason)
	}
}

// dropLocked cuts a client off. b.mu is held.
func (b *Broker) dropLocked(c *client, reason error) {
	if reason == ErrSlowClient && c.err() == nil {
		b.dropped.Add(1)
		b.cfg.OnSlowClient()
		b.log.Info("feed client too slow, disconnected", "addr", c.addr)
	}
	delete(b.subs, c)
	c.drop(reason)
}

// slowWrite cuts off a client whose write ran out of time: it reads too
// slowly, though not so slowly that its buffer filled first.
func (b *Broker) slowWrite(c *client) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dropLocked(c, ErrSlowClient)
}

// admit counts a new stream against the caps.
func (b *Broker) admit(addr string, f Filter) (*client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return nil, ErrClosed
	case len(b.all) >= b.cfg.MaxClients:
		return nil, ErrTooManyClients
	case b.limited(addr) && b.byAddr[addr] >= b.cfg.MaxClientsPerAddr:
		return nil, ErrTooManyFromAddr
	}
	c := &client{addr: addr, filter: f, signal: make(chan struct{}, 1), gone: make(chan struct{})}
	b.all[c] = struct{}{}
	b.byAddr[addr]++
	b.cfg.OnStreams(len(b.all))
	return c, nil
}

// limited says whether the per-address cap applies to addr.
func (b *Broker) limited(addr string) bool {
	if b.cfg.LimitLoopback {
		return true
	}
	ip, err := netip.ParseAddr(addr)
	return err != nil || !ip.Unmap().IsLoopback()
}

// subscribe starts the live tail of an admitted stream. It returns the
// checkpoint published when it did: a batch past it is published after,
// and fanned out to the client; one at or below it was fanned out before,
// or is fanned out after to no purpose, as the client started after it.
func (b *Broker) subscribe(c *client) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := c.err(); err != nil {
		return 0, err
	}
	b.subs[c] = struct{}{}
	// Under b.mu, which each fan-out holds: Publish stores the checkpoint
	// before it queues the batch.
	return b.applied.Load(), nil
}

// release forgets a stream that has ended.
func (b *Broker) release(c *client) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs, c)
	delete(b.all, c)
	if b.byAddr[c.addr]--; b.byAddr[c.addr] <= 0 {
		delete(b.byAddr, c.addr)
	}
	b.cfg.OnStreams(len(b.all))
}

// hookShutdown has the server that serves r end the streams when it shuts
// down: http.Server.Shutdown waits for handlers, and these would not
// return on their own.
func (b *Broker) hookShutdown(r *http.Request) {
	srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.hooked[srv] {
		b.hooked[srv] = true
		srv.RegisterOnShutdown(b.shutdown)
	}
}

// client is one SSE stream.
type client struct {
	addr   string
	filter Filter

	// The developments waiting to be written: appended by the fan-out,
	// taken whole by the handler. Frames are shared by every client, so a
	// slow client holds pointers, not copies.
	qmu    sync.Mutex
	q      []*message
	signal chan struct{} // has room for one wake-up

	gone   chan struct{} // closed when the broker cuts the client off
	once   sync.Once
	reason error // why, set before gone is closed

	wmu sync.Mutex
	rc  *http.ResponseController // set while the handler may write
}

// offer queues the messages that pass the client's filter, or reports it
// too slow when more than max would be waiting.
func (c *client) offer(msgs []*message, max int) error {
	c.qmu.Lock()
	n0 := len(c.q)
	for _, m := range msgs {
		if c.filter.Match(m.dev) {
			c.q = append(c.q, m)
		}
	}
	added, over := len(c.q) > n0, len(c.q) > max
	if over {
		clear(c.q[n0:]) // what the client had stays as it was
		c.q = c.q[:n0]
	}
	c.qmu.Unlock()
	if over {
		return ErrSlowClient
	}
	if !added {
		return nil
	}
	select {
	case c.signal <- struct{}{}:
	default: // already signalled
	}
	return nil
}

// take returns what is waiting and leaves spare, emptied, in its place:
// the handler swaps two slices rather than allocating.
func (c *client) take(spare []*message) []*message {
	clear(spare)
	c.qmu.Lock()
	defer c.qmu.Unlock()
	q := c.q
	c.q = spare[:0]
	return q
}

// drop cuts the client off: its handler stops, and a write it is blocked
// in (a client that reads nothing) fails at once rather than at its
// deadline. A stream ended by shutdown gets a moment more, to end its
// response as a response ends: a client that reads sees the stream close
// rather than a cut (curl's "partial transfer", a browser's network
// error) and reconnects as after any end.
func (c *client) drop(reason error) {
	c.once.Do(func() {
		c.reason = reason
		close(c.gone)
		deadline := time.Now()
		if errors.Is(reason, ErrClosed) {
			deadline = deadline.Add(closeGrace)
		}
		c.wmu.Lock()
		if c.rc != nil {
			_ = c.rc.SetWriteDeadline(deadline)
		}
		c.wmu.Unlock()
	})
}

// closeGrace is how long a stream ended by shutdown may take to end its
// response.
const closeGrace = time.Second

func (c *client) err() error {
	select {
	case <-c.gone:
		return c.reason
	default:
		return nil
	}
}

// attach and detach bracket the handler's writes.
func (c *client) attach(rc *http.ResponseController) {
	c.wmu.Lock()
	c.rc = rc
	c.wmu.Unlock()
}

func (c *client) detach() {
	c.wmu.Lock()
	c.rc = nil
	c.wmu.Unlock()
}

// deadline bounds the next write to d from now. It moves the
// connection's deadline only when less than half of d is left, as setting
// it costs more than the check; each write is thus bounded by d/2 to d.
// It refuses when the client is cut off, and works under wmu, so that
// drop's deadline is never overwritten by a later one.
func (c *client) deadline(now time.Time, until *time.Time, d time.Duration) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.err(); err != nil {
		return err
	}
	if until.Sub(now) >= d/2 {
		return nil
	}
	*until = now.Add(d)
	if err := c.rc.SetWriteDeadline(*until); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// remoteHost is the host part of a request's remote address.
func remoteHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
