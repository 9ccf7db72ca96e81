package delivery

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-news/parley/internal/natstest"
)

// queue is a stream with one durable consumer, as a subscription's
// deliveries are, holding n alerts.
func queue(t *testing.T, n int) jetstream.Consumer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn := natstest.Conn(t, natstest.Server(t))
	js := conn.JetStream()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "Q", Subjects: []string{"q.>"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := js.Publish(ctx, "q.a", fmt.Appendf(nil, "alert %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "a", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, MaxAckPending: 1, MaxDeliver: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cons
}

func quietConsumer(cons jetstream.Consumer) *consumer {
	return &consumer{cons: cons, ackWait: time.Minute, nakDelay: func(uint64) time.Duration { return time.Millisecond },
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// A router stopping while an alert is being handed over, again and
// again: the channel closes (no "send on closed channel" panic), and the
// alert is given back at once, never lost.
func TestConsumerStopsWhileHandingOver(t *testing.T) {
	cons := queue(t, 1)
	for round := range 30 {
		c := quietConsumer(cons)
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := c.Subscribe(ctx, "q.a")
		if err != nil {
			t.Fatal(err)
		}
		// Nobody reads: the alert waits to be handed over, or has just
		// been fetched, when the stop comes (watermill-nats' subscriber
		// panicked in such a loop).
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		cancel()
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if _, open := <-ch; open {
			t.Fatal("an alert handed over after the stop")
		}
	}
	info, err := cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending+int(info.NumPending) != 1 {
		t.Fatalf("after the stops: %d pending and %d unacknowledged, want the one alert", info.NumPending, info.NumAckPending)
	}
	// And the next subscription gets it without waiting for the ack wait
	// (a minute here): it was given back, not left to time out.
	c := quietConsumer(cons)
	defer c.Close()
	ch, err := c.Subscribe(context.Background(), "q.a")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-ch:
		if string(m.Payload) != "alert 0" {
			t.Fatalf("got %q", m.Payload)
		}
		m.Ack()
	case <-time.After(10 * time.Second):
		t.Fatal("the alert was not given back")
	}
	waitAcked(t, cons, 1)
}

// Alerts come one at a time, in order; an acknowledged one is gone, a
// failed one comes back after its delay, with its attempt counted.
func TestConsumerAcksAndRetries(t *testing.T) {
	cons := queue(t, 2)
	c := quietConsumer(cons)
	defer c.Close()
	ch, err := c.Subscribe(context.Background(), "q.a")
	if err != nil {
		t.Fatal(err)
	}
	next := func() *message.Message {
		t.Helper()
		select {
		case m := <-ch:
			return m
		case <-time.After(10 * time.Second):
			t.Fatal("no alert")
		}
		return nil
	}
	m := next()
	if string(m.Payload) != "alert 0" || m.Metadata.Get(mdAttempt) != "1" {
		t.Fatalf("first: %q attempt %s", m.Payload, m.Metadata.Get(mdAttempt))
	}
	select {
	case m := <-ch:
		t.Fatalf("a second alert while the first is unsettled: %q", m.Payload)
	case <-time.After(100 * time.Millisecond):
	}
	m.Nack()
	m = next()
	if string(m.Payload) != "alert 0" || m.Metadata.Get(mdAttempt) != "2" {
		t.Fatalf("after a failure: %q attempt %s, want alert 0 again, attempt 2", m.Payload, m.Metadata.Get(mdAttempt))
	}
	m.Ack()
	m = next()
	if string(m.Payload) != "alert 1" {
		t.Fatalf("after the ack: %q, want alert 1", m.Payload)
	}
	m.Ack()
	waitAcked(t, cons, 2)
}

func waitAcked(t *testing.T, cons jetstream.Consumer, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := cons.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.AckFloor.Stream == n && info.NumAckPending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ack floor %d, %d unacknowledged; want %d, 0", info.AckFloor.Stream, info.NumAckPending, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
