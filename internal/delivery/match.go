package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/outage"
	"github.com/parley-news/parley/internal/projections"
)

// Headers of a queued alert.
const (
	hdrWebhookID = "Parley-Webhook-Id"
	hdrSeq       = "Parley-Seq"
)

// matchBatch bounds the developments read in one transaction.
const matchBatch = 256

// healEvery is how often the matcher runs without being woken, and
// restarts deliveries whose consumer could not be created.
const healEvery = 5 * time.Second

// match runs the matcher until ctx ends: woken by each commit, it
// publishes the alerts of the new developments.
func (s *Service) match(ctx context.Context) {
	tick := time.NewTicker(healEvery)
	defer tick.Stop()
	told := &outage.Log{Logger: s.log, Level: slog.LevelWarn, Remind: failReminder,
		Began: "queueing alerts failed; trying again every few seconds, said again every " + failReminder.String() + " while it lasts",
		Still: "queueing alerts still failing", Ended: "queueing alerts works again"}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.notify:
		case <-tick.C:
			s.routers.ensureAll(ctx)
		}
		for attempt := 1; ; attempt++ {
			err := s.matchOnce(ctx)
			if ctx.Err() != nil {
				break
			}
			if err == nil {
				told.Recovered(ctx)
				break
			}
			wait := min(time.Duration(attempt)*200*time.Millisecond, 5*time.Second)
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeDuplicateInProcess {
				// Another replica is queueing the same alert: expected.
				s.log.Debug("queueing alerts failed; trying again", "err", err, "in", wait)
			} else {
				told.Failed(ctx, err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
}

// failReminder is how often a failure to queue alerts that goes on (a
// read model store that fails) is logged again.
const failReminder = 5 * time.Minute

// item is one development read from the outbox.
type item struct {
	dev   *projections.Development
	title string
}

// matchOnce publishes every alert not yet published: the developments
// after each subscription's start that its filter matches.
func (s *Service) matchOnce(ctx context.Context) error {
	for {
		subs := s.reg.snapshot()
		if len(subs) == 0 {
			return nil
		}
		starts := make(map[string]uint64, len(subs))
		ids := make([]string, 0, len(subs))
		for _, sub := range subs {
			ids = append(ids, sub.ID)
		}
		var items []item
		var cur string // the stream the read model holds
		lo := ^uint64(0)
		err := s.store.View(ctx, func(tx projections.Tx) error {
			items = items[:0]
			cur = projections.StreamID(tx)
			var last uint64
			err := projections.LatestDevelopments(tx, func(d *projections.Development) bool { last = d.Seq; return false })
			if err != nil {
				return err
			}
			seen := map[reachKey]uint64{}
			for _, sub := range subs {
				st, err := s.reg.start(tx, sub, cur, last, seen)
				if err != nil {
					return err
				}
				starts[sub.ID], lo = st, min(lo, st)
			}
			if lo >= last {
				return nil
			}
			return projections.Developments(tx, lo, func(d *projections.Development) bool {
				it := item{dev: d}
				if ev, err := projections.EventAtSeq(tx, d.Seq); err == nil {
					it.title = ev.Title
				}
				items = append(items, it)
				return len(items) < matchBatch
			})
		})
		if err != nil {
			return fmt.Errorf("read developments after %d: %w", lo, err)
		}
		for _, sub := range subs {
			if sub.Stream == "" && cur != "" {
				if err := s.reg.adopt(ctx, sub.ID, cur); err != nil {
					return err
				}
			}
		}
		if len(items) == 0 {
			return nil
		}
		for _, it := range items {
			for _, sub := range subs {
				if it.dev.Seq <= starts[sub.ID] || !sub.Filter.Match(it.dev) {
					continue
				}
				if err := s.publish(ctx, sub, it, cur); err != nil {
					return err
				}
			}
		}
		if err := s.reg.markScanned(ctx, ids, markOf(items[len(items)-1].dev, cur)); err != nil {
			return err
		}
		if len(items) < matchBatch {
			return nil
		}
	}
}

// publish queues one alert of the stream cur, once: a replica that finds
// it published (pos) skips it, and a twin published within the duplicate
// window is dropped by the stream (Nats-Msg-Id).
func (s *Service) publish(ctx context.Context, sub *alert.Subscription, it item, cur string) error {
	seq := it.dev.Seq
	if _, active := s.reg.active(sub.ID); !active {
		return nil
	}
	p, known := s.reg.published(sub.ID)
	here := known && p.in(cur, sub)
	if here && p.covers(it.dev) {
		return nil
	}
	body, err := json.Marshal(alert.NewPayload(sub.ID, it.dev, it.title))
	if err != nil {
		return fmt.Errorf("alert %d for %s: %w", seq, sub.ID, err)
	}
	n := strconv.FormatUint(seq, 10)
	m := nats.NewMsg(DeliveriesPrefix + sub.ID)
	m.Data = body
	msgID, webhookID := sub.ID+"."+n, alert.MessageID(sub.ID, seq)
	if !ownStream(sub, cur) || here && seq <= p.high {
		// (sub, seq) may have named another development already: in the
		// stream the subscription was made on, or in this one before it
		// was restored from an older backup and written on. A receiver
		// dropping repeats, or the duplicate window, would lose this one.
		tag := alert.HistoryTag(cur, it.dev.RecordedAt)
		msgID, webhookID = msgID+"."+tag, alert.MessageIDIn(sub.ID, seq, cur, it.dev.RecordedAt)
	}
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	m.Header.Set(hdrWebhookID, webhookID)
	m.Header.Set(hdrSeq, n)
	m.Header.Set("Content-Type", "application/json")
	if _, err := s.js.PublishMsg(ctx, m, jetstream.WithExpectStream(DeliveriesStream)); err != nil {
		return fmt.Errorf("queue alert %d for %s: %w", seq, sub.ID, err)
	}
	return s.reg.setPos(ctx, sub, markOf(it.dev, cur))
}

// JetStream's code for a message whose Nats-Msg-Id another publish is
// storing at this moment.
const errCodeDuplicateInProcess = 10158
