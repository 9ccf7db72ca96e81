package service

import (
	"context"

	"github.com/parley-news/parley/internal/projections"
)

// mountFeeds mounts the feeds part. (Being built: see the feeds package.)
func mountFeeds(ctx context.Context, p *parts) (func(uint64, []*projections.Development), func(), error) {
	return nil, nil, nil
}
