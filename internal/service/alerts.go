package service

import (
	"context"

	"github.com/parley-news/parley/internal/delivery"
	"github.com/parley-news/parley/internal/projections"
)

// alertsConfig is the alerts' configuration beyond the service's; tests
// of this package shorten the timings. The zero value is the production
// default.
var alertsConfig delivery.Config

// mountAlerts mounts the alert subscriptions: the /v1/subscriptions
// endpoints, and matching and delivery of each committed batch's
// developments.
func mountAlerts(ctx context.Context, p *parts) (func(uint64, []*projections.Development), func(), error) {
	cfg := alertsConfig
	cfg.Sender.AllowLoopback = p.cfg.WebhookAllowLoopback
	cfg.Vocabulary = p.vocab
	cfg.Token = p.cfg.APIToken
	cfg.Logger = p.log
	svc, err := delivery.Start(ctx, p.conn, p.store, cfg)
	if err != nil {
		return nil, nil, err
	}
	svc.Register(p.mux)
	return svc.OnApply, svc.Close, nil
}

// alertBuckets are the alerts' buckets in the read model file: the
// subscriptions, their status and how far each was matched.
var alertBuckets = delivery.Buckets
