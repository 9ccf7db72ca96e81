package service

import (
	"context"

	"github.com/parley-news/parley/internal/projections"
)

// mountAlerts mounts the alerts part. (Being built: see the alerts package.)
func mountAlerts(ctx context.Context, p *parts) (func(uint64, []*projections.Development), func(), error) {
	return nil, nil, nil
}

var alertBuckets []string
