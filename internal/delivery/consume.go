package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"
)

// consumer hands the alerts of one subscription's durable consumer to a
// watermill router, one at a time, and acknowledges each as the router
// says.
//
// watermill-nats' subscriber did this until it crashed a process on
// shutdown: it closed its output channel from one goroutine while
// another could be sending on it ("send on closed channel", in a NATS
// client goroutine, where nothing recovers). Here the one goroutine that
// sends on the channel is the one that closes it.
type consumer struct {
	cons jetstream.Consumer
	// ackWait is how long the router may take with an alert; past it,
	// JetStream redelivers the alert anyway.
	ackWait time.Duration
	// nakDelay is how long JetStream holds an alert the router failed,
	// by the attempt that failed.
	nakDelay func(attempt uint64) time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	cancels []context.CancelFunc
	closed  bool
	wg      sync.WaitGroup
}

var _ message.Subscriber = (*consumer)(nil)

// Subscribe starts handing over the consumer's alerts; topic is only a
// name. The channel closes when ctx is cancelled or the consumer closed.
func (c *consumer) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("consumer closed")
	}
	// One alert in flight: the consumer allows no more unacknowledged.
	it, err := c.cons.Messages(jetstream.PullMaxMessages(1), jetstream.WithMessagesErrOnMissingHeartbeat(true))
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", topic, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	c.cancels = append(c.cancels, cancel)
	out := make(chan *message.Message)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(out)
		defer c.drain(it)
		for {
			m, err := it.Next(jetstream.NextContext(ctx))
			if errors.Is(err, jetstream.ErrNoHeartbeat) && ctx.Err() == nil {
				// The server went quiet: a network blip, or the consumer is
				// gone between two pulls, which no status message tells.
				// Gone, this subscription's router ends, and is started
				// again (with a new consumer) by the matcher.
				if _, ierr := c.cons.Info(ctx); !errors.Is(ierr, jetstream.ErrConsumerNotFound) {
					continue // the iterator pulls again
				}
				err = jetstream.ErrConsumerNotFound
			}
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					c.log.Warn("alert consumer stopped", "topic", topic, "err", err)
				}
				return
			}
			if !c.handOver(ctx, m, out) {
				return
			}
		}
	}()
	return out, nil
}

// handOver gives one alert to the router and settles it with JetStream:
// acknowledged, or held for the backoff when the router failed it. It
// returns false when ctx ended first; the alert is then given back at
// once, to this process's next router or another replica.
func (c *consumer) handOver(ctx context.Context, jm jetstream.Msg, out chan<- *message.Message) bool {
	m, err := unmarshaler{}.Unmarshal(jm)
	if err != nil {
		// Not an alert this code wrote: keeping it would stall the
		// subscription behind it for good.
		c.log.Error("alert not readable: dropped", "subject", jm.Subject(), "err", err)
		if err := jm.Term(); err != nil {
			c.log.Warn("alert not readable, and not dropped", "subject", jm.Subject(), "err", err)
		}
		return true
	}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.SetContext(mctx)
	select {
	case out <- m:
	case <-ctx.Done():
		c.giveBack(jm)
		return false
	}
	timeout := time.NewTimer(c.ackWait)
	defer timeout.Stop()
	ack := func() {
		// Acknowledged even when a stop has begun: the alert was
		// delivered, and sending it again is what the ack prevents.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := jm.DoubleAck(actx); err != nil {
			c.log.Warn("alert delivered, its acknowledgement failed: it will be delivered again", "id", m.UUID, "err", err)
		}
	}
	select {
	case <-m.Acked():
		ack()
		return true
	case <-m.Nacked():
		if ctx.Err() != nil {
			// The router failed it because it is stopping, not because
			// the receiver did: no backoff.
			c.giveBack(jm)
			return false
		}
		var attempt uint64 = 1
		if md, err := jm.Metadata(); err == nil {
			attempt = md.NumDelivered
		}
		if err := jm.NakWithDelay(c.nakDelay(attempt)); err != nil {
			c.log.Warn("alert failed, and could not be held for its backoff", "id", m.UUID, "err", err)
		}
		return true
	case <-timeout.C:
		// JetStream redelivers it: its ack wait is the same.
		return true
	case <-ctx.Done():
		// The router may have acknowledged it as the stop came: select
		// picks at random among ready cases.
		select {
		case <-m.Acked():
			ack()
		default:
			c.giveBack(jm)
		}
		return false
	}
}

// drain stops the iterator and gives back what it had fetched and not
// handed over, which would otherwise wait out its ack wait.
func (c *consumer) drain(it jetstream.MessagesContext) {
	it.Drain()
	for {
		jm, err := it.Next(jetstream.NextMaxWait(2 * time.Second))
		if err != nil {
			return // drained, or the connection is gone
		}
		c.giveBack(jm)
	}
}

// giveBack returns an alert that was not settled, for immediate
// redelivery.
func (c *consumer) giveBack(jm jetstream.Msg) {
	if err := jm.Nak(); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		c.log.Debug("alert not given back: JetStream redelivers it after its ack wait", "subject", jm.Subject(), "err", err)
	}
}

// Close stops every subscription and waits until their channels have
// closed. The NATS connection is the projector's and stays open.
func (c *consumer) Close() error {
	c.mu.Lock()
	c.closed = true
	for _, cancel := range c.cancels {
		cancel()
	}
	c.mu.Unlock()
	c.wg.Wait()
	return nil
}
