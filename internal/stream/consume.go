package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Message is one stored event as the projector sees it: its stream
// sequence and time (the event's recorded time) and its bytes.
type Message struct {
	Seq     uint64
	Time    time.Time
	Subject string
	Data    []byte
	// Prepared is what ConsumeConfig.Prepare made of the message.
	Prepared any
}

// ConsumeConfig says where to start and how to batch.
type ConsumeConfig struct {
	// From is the first stream sequence to deliver; 0 means 1.
	From uint64
	// BatchMax bounds how many messages one call of apply gets; 0 means
	// DefaultBatchMax.
	BatchMax int
	// Until, when not 0, ends Consume with nil once the message with this
	// sequence (or a later one) has been applied: a replay up to a point.
	Until uint64
	// Prepare, when set, is called on each message as it arrives, on the
	// goroutine that receives them, so that work not bound to the order of
	// apply (decoding) overlaps the apply of the batch before.
	Prepare func(*Message)
}

// DefaultBatchMax is the largest batch handed to apply: about what one
// bbolt transaction commits well.
const DefaultBatchMax = 1000

// Consume delivers the stream's events in order from cfg.From, in batches
// of whatever has arrived (at least one message, at most BatchMax), until
// ctx ends or apply fails. The consumer is an ordered one: it keeps no
// state on the server and recreates itself on a gap, so the caller's own
// checkpoint is the only position there is, and a message is never skipped.
func (c *Conn) Consume(ctx context.Context, cfg ConsumeConfig, apply func(context.Context, []Message) error) error {
	if cfg.From == 0 {
		cfg.From = 1
	}
	if cfg.BatchMax <= 0 {
		cfg.BatchMax = DefaultBatchMax
	}
	occ := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{EventsSubjects},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    cfg.From,
	}
	cons, err := c.stream.OrderedConsumer(ctx, occ)
	if err != nil {
		return fmt.Errorf("ordered consumer from %d: %w", cfg.From, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * cfg.BatchMax))
	if err != nil {
		return fmt.Errorf("consume from %d: %w", cfg.From, err)
	}
	defer it.Stop()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The pump owns the iterator's Next; the loop below owns the batches.
	// The channel is the prefetch: whatever has arrived is applied at once.
	// One batch ahead is enough to keep the apply loop fed; more would
	// hold prepared (decoded) messages in memory for nothing.
	ch := make(chan Message, cfg.BatchMax)
	errc := make(chan error, 1)
	go func() {
		defer close(ch)
		for {
			m, err := it.Next(jetstream.NextContext(ctx))
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					errc <- fmt.Errorf("next message: %w", err)
				}
				return
			}
			md, err := m.Metadata()
			if err != nil {
				errc <- fmt.Errorf("message metadata: %w", err)
				return
			}
			msg := Message{Seq: md.Sequence.Stream, Time: md.Timestamp, Subject: m.Subject(), Data: m.Data()}
			if cfg.Prepare != nil {
				cfg.Prepare(&msg)
			}
			select {
			case ch <- msg:
			case <-ctx.Done():
				return
			}
		}
	}()

	batch := make([]Message, 0, cfg.BatchMax)
	for {
		batch = batch[:0]
		select {
		case m, ok := <-ch:
			if !ok {
				select {
				case err := <-errc:
					return err
				default:
					return ctx.Err()
				}
			}
			batch = append(batch, m)
		case <-ctx.Done():
			return ctx.Err()
		}
	drain:
		for len(batch) < cfg.BatchMax {
			select {
			case m, ok := <-ch:
				if !ok {
					break drain
				}
				batch = append(batch, m)
			default:
				break drain
			}
		}
		if err := apply(ctx, batch); err != nil {
			return err
		}
		if cfg.Until > 0 && batch[len(batch)-1].Seq >= cfg.Until {
			return nil
		}
	}
}
