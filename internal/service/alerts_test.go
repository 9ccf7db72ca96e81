package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/delivery"
	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/projector"
	"github.com/parley-news/parley/internal/service"
	"github.com/parley-news/parley/internal/webhook"
)

func startAlerts(t *testing.T, dir string) *service.Running {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := service.Start(ctx, service.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		APIToken: "tok", WebhookAllowLoopback: true, Out: io.Discard})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func send(t *testing.T, method, url string, body []byte, ct string, into any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if into != nil {
		json.NewDecoder(resp.Body).Decode(into)
	}
	return resp.StatusCode
}

func ingestDemands(t *testing.T, r *service.Running, prefix string, day, n int) {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"%s-%d","type":"statement","occurred_at":"2025-12-%02dT1%d:00Z","title":"%s %d","sources":[{"outlet":"TASS"}],"positions":[{"party":"ru","issue":"army-cap","stance":"demands","value":%d}]}`+"\n",
			prefix, i, day, i, prefix, i, 300000+1000*i)
	}
	var res struct {
		Appended int `json:"appended"`
	}
	if code := send(t, "POST", r.HTTPURL+"/v1/events", []byte(b.String()), "application/x-ndjson", &res); code != 200 || res.Appended != n {
		t.Fatalf("ingest: %d, %d of %d appended", code, res.Appended, n)
	}
}

type alertStatus struct {
	ID     string `json:"id"`
	URL    string `json:"url"`
	Secret string `json:"secret"`
	Error  string `json:"error"`
	Param  string `json:"param"`
	Status struct {
		Failed  int  `json:"failed"`
		Backlog *int `json:"backlog"`
	} `json:"status"`
}

// TestAlertsSurviveRestart runs the whole process: a subscription whose
// receiver is down gathers a backlog, the process stops and starts again
// on its folder, more events come, the receiver comes back and gets every
// alert, verified with the Standard Webhooks algorithm, in order. A
// private address is refused at creation.
func TestAlertsSurviveRestart(t *testing.T) {
	saved := *service.AlertsConfig
	*service.AlertsConfig = delivery.Config{Backoff: alert.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond}}
	t.Cleanup(func() { *service.AlertsConfig = saved })

	var (
		secret atomic.Value
		down   atomic.Bool
		mu     sync.Mutex
		ids    []string
		seqs   []float64
	)
	down.Store(true)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret.Load().(string), r.Header, body, time.Now(), webhook.DefaultTolerance); err != nil {
			t.Errorf("verify: %v", err)
			w.WriteHeader(400)
			return
		}
		var p struct {
			Data struct {
				Seq float64 `json:"seq"`
			} `json:"data"`
		}
		json.Unmarshal(body, &p)
		mu.Lock()
		ids, seqs = append(ids, r.Header.Get(webhook.HeaderID)), append(seqs, p.Data.Seq)
		mu.Unlock()
	}))
	defer rc.Close()

	dir := t.TempDir()
	r := startAlerts(t, dir)
	var bad alertStatus
	if code := send(t, "POST", r.HTTPURL+"/v1/subscriptions", []byte(`{"url":"http://10.1.2.3/hook"}`), "application/json", &bad); code != 400 || bad.Param != "url" || !strings.Contains(bad.Error, "private") {
		t.Errorf("private address: %d %+v", code, bad)
	}
	var sub alertStatus
	req := fmt.Sprintf(`{"url":%q,"filter":{"parties":["ru"],"changes":["position_change"]},"description":"restart test"}`, rc.URL+"/hook")
	if code := send(t, "POST", r.HTTPURL+"/v1/subscriptions", []byte(req), "application/json", &sub); code != 201 {
		t.Fatalf("subscribe: %d %s", code, sub.Error)
	}
	secret.Store(sub.Secret)
	ingestDemands(t, r, "before", 3, 3)
	get := func(r *service.Running) alertStatus {
		var st alertStatus
		getJSON(t, r.HTTPURL+"/v1/subscriptions/"+sub.ID, &st)
		return st
	}
	waitUntil(t, "a backlog of 3", func() bool {
		st := get(r)
		return st.Status.Backlog != nil && *st.Status.Backlog == 3 && st.Status.Failed > 0
	})
	r.Close()

	r2 := startAlerts(t, dir)
	if st := get(r2); st.URL != rc.URL+"/hook" || st.Secret != "" {
		t.Fatalf("after restart: %+v", st)
	}
	ingestDemands(t, r2, "after", 4, 2)
	down.Store(false)
	waitUntil(t, "5 alerts", func() bool { mu.Lock(); defer mu.Unlock(); return len(distinctIDs(ids)) == 5 })
	mu.Lock()
	defer mu.Unlock()
	var last float64
	seen := map[string]bool{}
	for i, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if seqs[i] <= last {
			t.Errorf("alert %s (seq %v) after seq %v", id, seqs[i], last)
		}
		last = seqs[i]
	}
}

func distinctIDs(ids []string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRebuildCommandKeepsSubscriptions runs `projector rebuild` on a
// folder with a subscription: the subscriptions, their status and their
// position are not in the stream, and must come across to the new file.
func TestRebuildCommandKeepsSubscriptions(t *testing.T) {
	dir := t.TempDir()
	r := startAlerts(t, dir)
	var sub alertStatus
	if code := send(t, "POST", r.HTTPURL+"/v1/subscriptions", []byte(`{"url":"http://127.0.0.1:9/hook"}`), "application/json", &sub); code != 201 {
		t.Fatalf("subscribe: %d %s", code, sub.Error)
	}
	r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := service.Rebuild(ctx, service.Config{DataDir: dir, Out: io.Discard}); err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	st, err := bolt.Open(filepath.Join(dir, projector.ModelFile), bolt.Options{Buckets: delivery.Buckets})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.View(ctx, func(tx projections.Tx) error {
		if tx.Bucket(delivery.BucketSubscriptions).Get([]byte(sub.ID)) == nil {
			t.Errorf("subscription %s lost by the rebuild", sub.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
