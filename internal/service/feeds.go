package service

import (
	"context"
	"fmt"

	"github.com/parley-news/parley/internal/feed"
	"github.com/parley-news/parley/internal/metrics"
	"github.com/parley-news/parley/internal/projections"
)

// mountFeeds mounts the live feeds: the SSE stream and the Atom and JSON
// feeds, fed by the projector's hook after each committed batch.
func mountFeeds(ctx context.Context, p *parts) (func(uint64, []*projections.Development), func(), error) {
	b, err := feed.New(p.store, p.vocab, feed.Config{
		Logger:       p.log,
		OnStreams:    func(n int) { metrics.SSEClients.Set(float64(n)) },
		OnSlowClient: metrics.SSEDropped.Inc,
		OnRefused:    func(reason string) { metrics.SSERefused.WithLabelValues(reason).Inc() },
		LastSeq:      p.conn.LastSeq,
		BaseURL:      p.cfg.PublicURL,
		Title:        p.cfg.FeedTitle,
		IDPrefix:     p.cfg.FeedID,
		MaxClients:   p.cfg.FeedMaxStreams,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("feeds: %w", err)
	}
	b.Register(p.mux)
	return b.Publish, b.Close, nil
}
