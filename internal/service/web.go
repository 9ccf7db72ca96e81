package service

import (
	"context"

	"github.com/parley-news/parley/internal/projections"
)

// mountWeb mounts the web part. (Being built: see the web package.)
func mountWeb(ctx context.Context, p *parts) (func(uint64, []*projections.Development), func(), error) {
	return nil, nil, nil
}
