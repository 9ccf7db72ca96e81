package service

import (
	"context"

	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/web"
)

// mountWeb serves the page at / and its assets under /static/. The page
// reads the same API as any client and follows /v1/feed, so it needs no
// hook of its own.
func mountWeb(ctx context.Context, p *parts) (func(uint64, []*projections.Development), func(), error) {
	site, err := web.New()
	if err != nil {
		return nil, nil, err
	}
	site.Register(p.mux)
	return nil, nil, nil
}
