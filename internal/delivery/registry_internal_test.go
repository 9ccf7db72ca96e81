package delivery

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/natstest"
	"github.com/parley-news/parley/internal/webhook"
)

// TestOlderStatusFromTheWatchIsIgnored: the watch applies each status
// some time after the attempt that wrote it; one written before a 410
// and applied after it must not make the subscription active again, or
// the next alert goes to a receiver that asked to stop.
func TestOlderStatusFromTheWatchIsIgnored(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := natstest.Conn(t, natstest.Server(t))
	store, err := bolt.Open(filepath.Join(t.TempDir(), "readmodel.db"), bolt.Options{Buckets: Buckets})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg := Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cfg.setDefaults()
	sender, err := webhook.NewSender(cfg.Sender)
	if err != nil {
		t.Fatal(err)
	}
	// The registry alone, without its watcher: the test plays the watch.
	s := &Service{cfg: cfg, log: cfg.Logger, conn: conn, js: conn.JetStream(), store: store, sender: sender,
		notify: make(chan struct{}, 1)}
	if err := s.ensure(ctx); err != nil {
		t.Fatal(err)
	}
	s.routers = newRouters(s)
	s.reg = newRegistry(s)
	t.Cleanup(s.routers.closeAll)

	sub := alert.Subscription{ID: alert.NewID(), URL: "https://example.com/hook", Secret: webhook.NewSecret()}
	b, _ := json.Marshal(sub)
	if _, err := s.kv.Create(ctx, subKey(sub.ID), b); err != nil {
		t.Fatal(err)
	}
	e, err := s.kv.Get(ctx, subKey(sub.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.reg.apply(ctx, e, false); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := s.reg.updateStatus(ctx, sub.ID, func(st *alert.Status) { st.Failure(now, "HTTP 503") }); err != nil {
		t.Fatal(err)
	}
	failed, err := s.kv.Get(ctx, statusKey(sub.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.reg.updateStatus(ctx, sub.ID, func(st *alert.Status) { st.Disable(now, "HTTP 410 Gone") }); err != nil {
		t.Fatal(err)
	}
	// The watch now brings the status of the failure, written before.
	if err := s.reg.apply(ctx, failed, true); err != nil {
		t.Fatal(err)
	}
	if _, active := s.reg.active(sub.ID); active {
		t.Fatal("active again after an older status came from the watch: the next alert would be delivered")
	}
	disabled, err := s.kv.Get(ctx, statusKey(sub.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.reg.apply(ctx, disabled, true); err != nil {
		t.Fatal(err)
	}
	if st := s.reg.status[sub.ID]; !st.Disabled() || st.Failed != 1 {
		t.Errorf("status %+v, want the latest: disabled after one failure", st)
	}
}
