package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/metrics"
	"github.com/parley-news/parley/internal/webhook"
)

// Metadata the unmarshaler adds to each watermill message, from
// JetStream's.
const (
	mdQueuedAt  = "Parley-Queued-At"  // when the alert entered the stream
	mdAttempt   = "Parley-Attempt"    // 1 for the first delivery
	mdStreamSeq = "Parley-Stream-Seq" // its sequence in PARLEY_DELIVERIES
)

// errDead marks a failure that sends the alert to the dead list instead
// of retrying: past the horizon, or the receiver is gone.
var errDead = errors.New("not deliverable")

// consumerName is the durable consumer shared by every replica for one
// subscription.
func consumerName(id string) string { return "alert_" + id }

// routers runs one watermill router per active subscription on this
// replica.
type routers struct {
	s       *Service
	mu      sync.Mutex
	running map[string]*message.Router
	closed  bool
	wg      sync.WaitGroup
}

func newRouters(s *Service) *routers {
	return &routers{s: s, running: map[string]*message.Router{}}
}

// ensure starts delivering for a subscription unless it already is. A
// failure is logged and healed by the matcher's next tick.
func (rs *routers) ensure(ctx context.Context, id string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.closed || rs.running[id] != nil {
		return
	}
	r, err := rs.start(ctx, id)
	if err != nil {
		rs.s.log.Warn("cannot start delivery; trying again shortly", "subscription", id, "err", err)
		return
	}
	rs.running[id] = r
}

// ensureAll starts whatever active subscription is not delivering.
func (rs *routers) ensureAll(ctx context.Context) {
	for _, sub := range rs.s.reg.snapshot() {
		rs.ensure(ctx, sub.ID)
	}
}

// stop stops delivering for a subscription. It does not wait: it may be
// called from the subscription's own handler.
func (rs *routers) stop(id string) {
	rs.mu.Lock()
	r := rs.running[id]
	delete(rs.running, id)
	rs.mu.Unlock()
	if r != nil {
		rs.wg.Add(1)
		go func() {
			defer rs.wg.Done()
			if err := r.Close(); err != nil {
				rs.s.log.Warn("stop delivery", "subscription", id, "err", err)
			}
		}()
	}
}

// closeAll stops every router and waits for them.
func (rs *routers) closeAll() {
	rs.mu.Lock()
	rs.closed = true
	ids := make([]string, 0, len(rs.running))
	for id := range rs.running {
		ids = append(ids, id)
	}
	rs.mu.Unlock()
	for _, id := range ids {
		rs.stop(id)
	}
	rs.wg.Wait()
}

// start creates the subscription's durable consumer and a router that
// delivers from it.
func (rs *routers) start(ctx context.Context, id string) (*message.Router, error) {
	s := rs.s
	cons, err := s.js.CreateOrUpdateConsumer(ctx, DeliveriesStream, jetstream.ConsumerConfig{
		Durable:       consumerName(id),
		Description:   "Parley: deliveries of one alert subscription, in order",
		FilterSubject: DeliveriesPrefix + id,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.cfg.AckWait,
		// One alert in flight across all replicas: order, and a failing
		// receiver holds up only itself.
		MaxAckPending: 1,
		MaxDeliver:    -1,
		Replicas:      0, // as the stream
	})
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", consumerName(id), err)
	}
	log := s.log.With("subscription", id)
	wlog := handlerErrorsOnce{watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{
		slog.LevelInfo:  slog.LevelDebug, // per-message chatter
		slog.LevelError: slog.LevelWarn,  // a failing receiver is expected, and in the status
	})}
	sub := &consumer{cons: cons, ackWait: s.cfg.AckWait, nakDelay: backoff{s.cfg.Backoff}.WaitTime, log: log}
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: s.cfg.AckWait}, wlog)
	if err != nil {
		return nil, err
	}
	poison, err := middleware.PoisonQueueWithFilter(deadPublisher{s}, DeadPrefix+id, func(err error) bool { return errors.Is(err, errDead) })
	if err != nil {
		return nil, err
	}
	// The poison queue is outermost, so that a recovered panic is retried
	// like any failure rather than sent to the dead list.
	r.AddMiddleware(poison, middleware.Recoverer)
	r.AddConsumerHandler("deliver_"+id, DeliveriesPrefix+id, sub, s.deliver(id))
	rs.wg.Add(1)
	go func() {
		defer rs.wg.Done()
		if err := r.Run(s.runCtx); err != nil {
			s.log.Warn("delivery router stopped", "subscription", id, "err", err)
		}
		// A router that ended on its own (its consumer gone: deleted,
		// or refused by the server) is forgotten, so that the matcher's
		// next tick starts delivering again. ensure holds the lock until
		// the router is in running, so this cannot come first.
		rs.mu.Lock()
		if rs.running[id] == r {
			delete(rs.running, id)
		}
		rs.mu.Unlock()
	}()
	return r, nil
}

// handlerErrorsOnce logs the router's "Handler returned error" at debug:
// the handler has logged the failed attempt already, with its reason and
// attempt, and one warning a failure is enough.
type handlerErrorsOnce struct{ watermill.LoggerAdapter }

func (l handlerErrorsOnce) Error(msg string, err error, fields watermill.LogFields) {
	if msg == "Handler returned error" {
		l.Debug(msg, fields.Add(watermill.LogFields{"err": err}))
		return
	}
	l.LoggerAdapter.Error(msg, err, fields)
}

func (l handlerErrorsOnce) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return handlerErrorsOnce{l.LoggerAdapter.With(fields)}
}

// backoff is the delay of a negative acknowledgement: JetStream holds the
// alert that long, then gives it to any replica.
type backoff struct{ b alert.Backoff }

func (b backoff) WaitTime(attempt uint64) time.Duration { return b.b.Wait(attempt, rand.Float64) }

// unmarshaler turns a queued alert into a watermill message whose UUID is
// the webhook-id, with what the handler needs from JetStream's metadata.
type unmarshaler struct{}

func (unmarshaler) Unmarshal(m jetstream.Msg) (*message.Message, error) {
	h := m.Headers()
	wm := message.NewMessage(h.Get(hdrWebhookID), m.Data())
	for _, k := range []string{hdrWebhookID, hdrSeq} {
		wm.Metadata.Set(k, h.Get(k))
	}
	if md, err := m.Metadata(); err == nil {
		wm.Metadata.Set(mdQueuedAt, md.Timestamp.UTC().Format(time.RFC3339Nano))
		wm.Metadata.Set(mdAttempt, strconv.FormatUint(md.NumDelivered, 10))
		wm.Metadata.Set(mdStreamSeq, strconv.FormatUint(md.Sequence.Stream, 10))
	}
	return wm, nil
}

// deliver is the handler of one subscription: one signed attempt per
// message. nil acknowledges; an error wrapping errDead goes to the dead
// list; any other error is retried after the backoff.
func (s *Service) deliver(id string) message.NoPublishHandlerFunc {
	label := alert.MetricsLabel(id)
	return func(msg *message.Message) error {
		ctx := msg.Context()
		sub, active := s.reg.active(id)
		if sub == nil {
			return nil // deleted: its alerts go with it
		}
		if !active {
			// Disabled (here or by another replica): the alert stays
			// queued, as a disabled subscription's alerts do until it
			// is deleted, and delivering stops.
			s.routers.stop(id)
			return errors.New("subscription disabled: alert kept queued")
		}
		now := s.cfg.Now()
		secret, previous := sub.SigningSecrets(now)
		res := s.sender.Send(ctx, webhook.Message{ID: msg.UUID, URL: sub.URL, Secret: secret, Previous: previous, Body: msg.Payload}, now)
		if ctx.Err() != nil {
			return ctx.Err() // shutting down: not the receiver's failure
		}
		// The status tells when the attempt ended: a timeout fails a
		// request timeout after it was signed.
		now = s.cfg.Now()
		attempt := msg.Metadata.Get(mdAttempt)
		switch res.Outcome {
		case webhook.Delivered:
			metrics.Deliveries.WithLabelValues(label, "ok").Inc()
			s.setStatus(ctx, id, func(st *alert.Status) { st.Succeeded(now) })
			return nil
		case webhook.Gone:
			metrics.Deliveries.WithLabelValues(label, "gone").Inc()
			s.setStatus(ctx, id, func(st *alert.Status) {
				st.Failure(now, res.Reason)
				st.Disable(now, res.Reason)
			})
			// Delivering stops on the next alert, not here: stopping the
			// router now would cancel this alert's acknowledgement, and
			// leave it both queued and dead.
			s.log.Warn("receiver gone; subscription disabled", "subscription", id, "url", webhook.RedactURL(sub.URL))
			return fmt.Errorf("%w: %s", errDead, res.Reason)
		}
		s.setStatus(ctx, id, func(st *alert.Status) { st.Failure(now, res.Reason) })
		metrics.Deliveries.WithLabelValues(label, "failed").Inc()
		s.log.Warn("delivery failed", "subscription", id, "webhook_id", msg.UUID, "attempt", attempt, "reason", res.Reason)
		queued, err := time.Parse(time.RFC3339Nano, msg.Metadata.Get(mdQueuedAt))
		if err == nil && now.Sub(queued) >= s.cfg.Horizon {
			metrics.Deliveries.WithLabelValues(label, "dead").Inc()
			return fmt.Errorf("%w: %s attempts over %s, the last: %s", errDead, attempt, now.Sub(queued).Round(time.Millisecond), res.Reason)
		}
		return fmt.Errorf("attempt %s: %s", attempt, res.Reason)
	}
}

// setStatus records an attempt's outcome; a failure to record it is
// logged, not a reason to deliver again.
func (s *Service) setStatus(ctx context.Context, id string, fn func(*alert.Status)) {
	if err := s.reg.updateStatus(ctx, id, fn); err != nil && ctx.Err() == nil {
		s.log.Warn("cannot record delivery status", "subscription", id, "err", err)
	}
}
