package delivery

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/metrics"
)

// gaugeBacklog sets parley_webhook_backlog for every subscription this
// replica knows, every cfg.BacklogEvery, until ctx ends: one request to
// NATS counts the queue of each.
func (s *Service) gaugeBacklog(ctx context.Context) {
	t := time.NewTicker(s.cfg.BacklogEvery)
	defer t.Stop()
	for {
		s.countBacklog(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) countBacklog(ctx context.Context) {
	if s.reg.count() == 0 {
		return
	}
	// Bounded, so that a queue without a leader does not hold the loop.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := s.deliveries.Info(ctx, jetstream.WithSubjectFilter(DeliveriesPrefix+"*"))
	if err != nil {
		// The last count stays; NATS out of reach shows as
		// parley_nats_connected.
		return
	}
	s.reg.each(func(id string) {
		metrics.Backlog.WithLabelValues(alert.MetricsLabel(id)).Set(float64(info.State.Subjects[DeliveriesPrefix+id]))
	})
}
