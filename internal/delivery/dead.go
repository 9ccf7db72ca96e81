package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const hdrFailedAt = "Parley-Failed-At"

// deadPublisher is the poison queue's publisher: it writes the alert to
// the dead list with why it died. The message id makes a repeat (the
// acknowledgement after it was lost) harmless.
type deadPublisher struct{ s *Service }

var _ message.Publisher = deadPublisher{}

func (p deadPublisher) Publish(topic string, msgs ...*message.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, m := range msgs {
		nm := nats.NewMsg(topic)
		nm.Data = m.Payload
		for k, v := range m.Metadata {
			nm.Header.Set(k, v)
		}
		nm.Header.Set(hdrFailedAt, p.s.cfg.Now().UTC().Format(time.RFC3339Nano))
		nm.Header.Set(jetstream.MsgIDHeader, "dead."+m.Metadata.Get(mdStreamSeq))
		if _, err := p.s.js.PublishMsg(ctx, nm, jetstream.WithExpectStream(DeadStream)); err != nil {
			return fmt.Errorf("dead list %s: %w", topic, err)
		}
	}
	return nil
}

func (deadPublisher) Close() error { return nil }

// DeadAlert is an alert that could not be delivered.
type DeadAlert struct {
	WebhookID string          `json:"webhook_id"`
	Seq       uint64          `json:"seq"`
	QueuedAt  time.Time       `json:"queued_at"`
	FailedAt  time.Time       `json:"failed_at"`
	Attempts  uint64          `json:"attempts"`
	Reason    string          `json:"reason"`
	Payload   json.RawMessage `json:"payload"`

	deadSeq uint64
	header  nats.Header
}

// MaxDeadList bounds one page of a listing, and of a redelivery.
const MaxDeadList = 1000

// redeliverPage is how many dead alerts a redelivery reads at once; a
// variable for the tests.
var redeliverPage = MaxDeadList

// Dead lists up to limit dead alerts of a subscription, oldest first,
// from the dead list's position from (1 for its start); next is where the
// following page starts, 0 when there is none.
func (s *Service) Dead(ctx context.Context, id string, from uint64, limit int) (dead []DeadAlert, next uint64, err error) {
	if sub, _ := s.reg.active(id); sub == nil {
		return nil, 0, errNoSubscription
	}
	return s.deadList(ctx, id, from, limit)
}

func (s *Service) deadList(ctx context.Context, id string, from uint64, limit int) ([]DeadAlert, uint64, error) {
	out := []DeadAlert{}
	subj := DeadPrefix + id
	for seq := max(from, 1); ; {
		m, err := s.dead.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, 0, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("dead list of %s: %w", id, err)
		}
		if len(out) == limit {
			return out, m.Sequence, nil // one more: the next page starts here
		}
		h := m.Header
		d := DeadAlert{WebhookID: h.Get(hdrWebhookID), Reason: h.Get(middleware.ReasonForPoisonedKey),
			Payload: m.Data, deadSeq: m.Sequence, header: h}
		d.Seq, _ = strconv.ParseUint(h.Get(hdrSeq), 10, 64)
		d.Attempts, _ = strconv.ParseUint(h.Get(mdAttempt), 10, 64)
		d.QueuedAt, _ = time.Parse(time.RFC3339Nano, h.Get(mdQueuedAt))
		d.FailedAt, _ = time.Parse(time.RFC3339Nano, h.Get(hdrFailedAt))
		out = append(out, d)
		seq = m.Sequence + 1
	}
}

// ErrDisabled is returned for a redelivery to a subscription whose
// receiver answered 410 Gone.
var ErrDisabled = errors.New("subscription disabled: its receiver answered 410 Gone; create a new one")

// Redeliver queues the dead alerts of a subscription again, after what is
// queued, with their webhook-id unchanged, and removes them from the dead
// list: all of them, a page at a time, up to as many as the list held
// when it was asked (alerts that die meanwhile wait for the next one). It
// returns how many it queued.
func (s *Service) Redeliver(ctx context.Context, id string) (int, error) {
	sub, active := s.reg.active(id)
	switch {
	case sub == nil:
		return 0, errNoSubscription
	case !active:
		return 0, ErrDisabled
	}
	_, held, err := s.counts(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("redeliver: %w", err)
	}
	n := 0
	for from := uint64(1); uint64(n) < held; {
		dead, next, err := s.deadList(ctx, id, from, int(min(held-uint64(n), uint64(redeliverPage))))
		if err != nil {
			return n, err
		}
		if len(dead) == 0 {
			break
		}
		for _, d := range dead {
			m := nats.NewMsg(DeliveriesPrefix + id)
			m.Data = d.Payload
			for _, k := range []string{hdrWebhookID, hdrSeq} {
				m.Header.Set(k, d.header.Get(k))
			}
			m.Header.Set("Content-Type", "application/json")
			// Its own id: the original's may still be in the duplicate window.
			m.Header.Set(jetstream.MsgIDHeader, "redeliver."+strconv.FormatUint(d.deadSeq, 10))
			if _, err := s.js.PublishMsg(ctx, m, jetstream.WithExpectStream(DeliveriesStream)); err != nil {
				return n, fmt.Errorf("redeliver %s: %w", d.WebhookID, err)
			}
			n++
			if err := s.dead.DeleteMsg(ctx, d.deadSeq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
				return n, fmt.Errorf("redeliver %s: remove from dead list: %w", d.WebhookID, err)
			}
		}
		if next == 0 {
			break
		}
		from = next
	}
	return n, nil
}

// counts returns the alerts queued (backlog) and dead for a subscription.
func (s *Service) counts(ctx context.Context, id string) (backlog, dead uint64, err error) {
	for _, c := range []struct {
		st   jetstream.Stream
		subj string
		n    *uint64
	}{{s.deliveries, DeliveriesPrefix + id, &backlog}, {s.dead, DeadPrefix + id, &dead}} {
		info, err := c.st.Info(ctx, jetstream.WithSubjectFilter(c.subj))
		if err != nil {
			return 0, 0, err
		}
		*c.n = info.State.Subjects[c.subj]
	}
	return backlog, dead, nil
}

// remove deletes a subscription everywhere: the KV bucket (so every
// replica stops and forgets it), its consumer, its queue and dead list.
func (s *Service) remove(ctx context.Context, id string) error {
	if _, err := s.kv.Get(ctx, subKey(id)); isNotFound(err) {
		return errNoSubscription
	} else if err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	if err := s.kv.Purge(ctx, subKey(id)); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = s.reg.waitFor(wctx, 0, func() bool { return s.reg.subs[id] == nil })
	s.routers.stop(id)
	if err := s.js.DeleteConsumer(ctx, DeliveriesStream, consumerName(id)); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: consumer: %w", id, err)
	}
	for _, c := range []struct {
		st   jetstream.Stream
		subj string
	}{{s.deliveries, DeliveriesPrefix + id}, {s.dead, DeadPrefix + id}} {
		if err := c.st.Purge(ctx, jetstream.WithPurgeSubject(c.subj)); err != nil {
			return fmt.Errorf("delete %s: purge %s: %w", id, c.subj, err)
		}
	}
	for _, k := range []string{statusKey(id), posKey(id)} {
		if err := s.kv.Purge(ctx, k); err != nil {
			return fmt.Errorf("delete %s: %w", id, err)
		}
	}
	return nil
}
