package service_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/delivery"
	"github.com/parley-news/parley/internal/service"
	"github.com/parley-news/parley/internal/stream"
)

// TestNATSAwayAndBack runs the projector against a NATS server of its
// own (-nats URL), which goes away for longer than a consumer's
// heartbeat and comes back on the same store and port: the process keeps
// serving meanwhile, and then applies, and alerts on, what is appended
// after, with no restart.
func TestNATSAwayAndBack(t *testing.T) {
	saved := *service.AlertsConfig
	*service.AlertsConfig = delivery.Config{Backoff: alert.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond}}
	t.Cleanup(func() { *service.AlertsConfig = saved })
	var got atomic.Int64
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer rc.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	sdir := t.TempDir()
	srv, err := stream.StartServer(ctx, stream.ServerConfig{Dir: sdir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	url := srv.ClientURL()
	r, err := service.Start(ctx, service.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", NATSURL: url,
		APIToken: "tok", WebhookAllowLoopback: true, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitReady(t, r)
	var sub alertStatus
	req := fmt.Sprintf(`{"url":%q}`, rc.URL+"/hook")
	if code := send(t, "POST", r.HTTPURL+"/v1/subscriptions", []byte(req), "application/json", &sub); code != 201 {
		t.Fatalf("subscribe: %d %s", code, sub.Error)
	}
	ingestDemands(t, r, "before", 3, 2)
	waitUntil(t, "2 alerts", func() bool { return got.Load() >= 2 })

	srv.Shutdown()
	time.Sleep(7 * time.Second) // past the ordered consumer's 5 s heartbeat
	if code := getJSON(t, r.HTTPURL+"/v1/events/before-1", &struct{}{}); code != 200 {
		t.Errorf("reads while NATS is away: %d", code)
	}
	srv, err = stream.StartServer(ctx, stream.ServerConfig{Dir: sdir, Listen: strings.TrimPrefix(url, "nats://")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	ingestDemands(t, r, "after", 4, 2)
	waitUntil(t, "the alerts of what came after", func() bool { return got.Load() >= 4 })
	waitReady(t, r)
	if code := getJSON(t, r.HTTPURL+"/v1/events/after-1", &struct{}{}); code != 200 {
		t.Errorf("an event appended after NATS came back: %d", code)
	}
}
