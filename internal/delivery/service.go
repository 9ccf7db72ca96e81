package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/stream"
	"github.com/parley-news/parley/internal/webhook"
)

// Service runs the alerts of one replica: it watches the subscriptions,
// matches developments into the deliveries stream and delivers from it.
type Service struct {
	cfg    Config
	log    *slog.Logger
	conn   *stream.Conn
	js     jetstream.JetStream
	store  projections.Store
	sender *webhook.Sender

	kv         jetstream.KeyValue
	deliveries jetstream.Stream
	dead       jetstream.Stream

	reg     *registry
	routers *routers
	notify  chan struct{}

	runCtx context.Context // the life of the goroutines and routers
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start creates what the alerts need on NATS, loads the subscriptions
// from the store, waits until the KV bucket has been applied, and starts
// matching and delivering. Close stops it.
func Start(ctx context.Context, conn *stream.Conn, store projections.Store, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	sender, err := webhook.NewSender(cfg.Sender)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: cfg.Logger.With("part", "alerts"), conn: conn, js: conn.JetStream(),
		store: store, sender: sender, notify: make(chan struct{}, 1)}
	if err := s.ensure(ctx); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.runCtx, s.cancel = runCtx, cancel
	s.routers = newRouters(s)
	s.reg = newRegistry(s)
	if err := s.reg.load(ctx); err != nil {
		cancel()
		return nil, err
	}
	synced := make(chan error, 1)
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.reg.watch(runCtx, synced) }()
	select {
	case err = <-synced:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("alerts: read subscriptions: %w", err)
	}
	// The matcher starts once every position in the bucket is known, so
	// that it never publishes what another replica already has.
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.match(runCtx) }()
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.gaugeBacklog(runCtx) }()
	s.Notify()
	return s, nil
}

// replicas is the configured number, or what the server suggests.
func (s *Service) replicas() int {
	if s.cfg.Replicas > 0 {
		return s.cfg.Replicas
	}
	if s.conn.NATS().ConnectedClusterName() != "" {
		return 3
	}
	return 1
}

// ensure creates or updates the KV bucket and the two streams.
func (s *Service) ensure(ctx context.Context) error {
	r := s.replicas()
	var err error
	// Each has a leader of its own, which may be being elected: asked
	// again while there is no answer (creating or updating is idempotent).
	err = stream.UntilAnswered(ctx, s.log, "alerts: kv bucket "+KVBucket, func(ctx context.Context) (err error) {
		s.kv, err = s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      KVBucket,
			Description: "Parley: alert subscriptions, their delivery status and position",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    r,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("alerts: kv bucket %s: %w", KVBucket, err)
	}
	s.deliveries, err = s.createStream(ctx, jetstream.StreamConfig{
		Name:        DeliveriesStream,
		Description: "Parley: alerts waiting for delivery, one subject per subscription",
		Subjects:    []string{DeliveriesPrefix + "*"},
		Storage:     jetstream.FileStorage,
		// A message stays until its subscription's consumer acknowledges
		// it: delivered, or moved to the dead list.
		Retention:  jetstream.WorkQueuePolicy,
		Duplicates: s.cfg.DuplicateWindow,
		Replicas:   r,
	})
	if err != nil {
		return fmt.Errorf("alerts: stream %s: %w", DeliveriesStream, err)
	}
	s.dead, err = s.createStream(ctx, jetstream.StreamConfig{
		Name:        DeadStream,
		Description: "Parley: alerts that could not be delivered, until redelivered or expired",
		Subjects:    []string{DeadPrefix + "*"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      s.cfg.DeadMaxAge,
		Duplicates:  s.cfg.DuplicateWindow,
		Replicas:    r,
	})
	if err != nil {
		return fmt.Errorf("alerts: stream %s: %w", DeadStream, err)
	}
	return nil
}

// createStream creates or updates a stream, asking again while there is
// no answer.
func (s *Service) createStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	var st jetstream.Stream
	err := stream.UntilAnswered(ctx, s.log, "alerts: stream "+cfg.Name, func(ctx context.Context) (err error) {
		st, err = s.js.CreateOrUpdateStream(ctx, cfg)
		return err
	})
	return st, err
}

// Notify wakes the matcher: the projector has committed developments. It
// never blocks, so it can be the projector's OnApply hook.
func (s *Service) Notify() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// OnApply is Notify in the shape of projector.Config.OnApply.
func (s *Service) OnApply(uint64, []*projections.Development) { s.Notify() }

// Close stops matching and delivering: attempts in flight end (an
// alert not acknowledged is given again after AckWait), nothing queued is
// lost.
func (s *Service) Close() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.wg.Wait()
	s.routers.closeAll()
	s.cancel = nil
}

// errNoSubscription is what the endpoints answer 404 with.
var errNoSubscription = fmt.Errorf("subscription: %w", projections.ErrNotFound)

func isNotFound(err error) bool {
	return errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrMsgNotFound) ||
		errors.Is(err, jetstream.ErrConsumerNotFound)
}
