//go:build cluster

package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestClusterAlertsDeliveredOnce runs two projector replicas on the
// cluster with one alert subscription and checks that each development is
// delivered to the receiver once, not once per replica; then kills one
// replica with SIGKILL in the middle of deliveries and checks that the
// other delivers the rest, nothing lost (a retry of an alert in flight at
// the kill keeps its webhook-id, as at-least-once delivery allows).
func TestClusterAlertsDeliveredOnce(t *testing.T) {
	bins := build(t)
	dir := testDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := startCluster(t, bins.NATSServer, dir)
	js := c.adminJS(t)
	const token = "cluster-test-token"

	ingest := func(prefix string, n int) corpus {
		t.Helper()
		corp := writeCorpus(t, dir, prefix, n, 1)
		p := start(t, dir, "ingest-"+prefix, nil, bins.Ingest, append([]string{"-nats", c.URLs("ingest"), "-tls-ca", c.ca}, corp.Files...)...)
		if code := p.wait(t, 2*time.Minute); code > 1 {
			t.Fatalf("ingest %s exited %d:\n%s", prefix, code, p.tail(10))
		}
		return corp
	}
	ingest("a-", 50) // creates the stream

	rec := newReceiver(t)
	replicas := []*replica{
		startAlertReplica(t, bins, c, dir, "projector-a", token),
		startAlertReplica(t, bins, c, dir, "projector-b", token),
	}
	info, err := streamInfo(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range replicas {
		r.waitApplied(t, ctx, info.State.LastSeq)
	}

	// One subscription to everything, made on replica a; b learns of it
	// through the KV bucket.
	sub := createSubscription(t, replicas[0].url, token, rec.url)
	for _, r := range replicas {
		waitSubscription(t, ctx, r.url, sub.ID)
	}

	corp := ingest("b-", 400)
	info, err = streamInfo(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	want := info.State.LastSeq - sub.After
	if int(want) != len(corp.Want) {
		t.Fatalf("stream grew by %d, ingest appended %d", want, len(corp.Want))
	}
	began := time.Now()
	rec.waitDistinct(t, ctx, int(want))
	took := time.Since(began)
	time.Sleep(2 * time.Second) // a second delivery by the other replica would come now
	got := rec.counts()
	checkOnce(t, got, sub, sub.After+1, info.State.LastSeq, true)
	t.Logf("two replicas: %d developments delivered once each in %s (%.0f/s)", want, took.Round(time.Millisecond), float64(want)/took.Seconds())

	// Kill replica a in the middle of the next deliveries; b goes on.
	rec.slow(5 * time.Millisecond)
	from := info.State.LastSeq + 1
	ingest("c-", 400)
	info, err = streamInfo(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	for len(rec.counts()) < len(got)+100 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	replicas[0].p.kill()
	t.Logf("projector-a killed with SIGKILL after %d of %d deliveries", len(rec.counts())-len(got), info.State.LastSeq-from+1)
	rec.waitDistinct(t, ctx, len(got)+int(info.State.LastSeq-from+1))
	time.Sleep(2 * time.Second)
	repeats := checkOnce(t, rec.counts(), sub, from, info.State.LastSeq, false)
	t.Logf("after the kill: every development delivered, %d repeated with the same webhook-id", repeats)
}

// startAlertReplica starts a projector that may deliver to the test's
// receiver on 127.0.0.1.
func startAlertReplica(t *testing.T, bins binaries, c *natsCluster, root, name, token string) *replica {
	t.Helper()
	r := &replica{name: name, dir: filepath.Join(root, name)}
	if err := os.MkdirAll(r.dir, 0o750); err != nil {
		t.Fatal(err)
	}
	r.p = start(t, root, name, nil, bins.Projector, "-data", r.dir, "-http", "127.0.0.1:0",
		"-nats", c.URLs("projector"), "-tls-ca", c.ca, "-api-token", token, "-webhook-allow-loopback")
	line := r.p.waitLine(t, "Parley is serving on ", 2*time.Minute)
	r.url, _, _ = strings.Cut(line[strings.Index(line, "http://"):], "/ ")
	return r
}

type subscription struct {
	ID    string `json:"id"`
	After uint64 `json:"after"`
}

func createSubscription(t *testing.T, base, token, url string) subscription {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"url": url, "description": "cluster test"})
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/subscriptions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s subscription
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create subscription: %s, %v", resp.Status, err)
	}
	return s
}

func waitSubscription(t *testing.T, ctx context.Context, base, id string) {
	t.Helper()
	for {
		resp, err := http.Get(base + "/v1/subscriptions/" + id)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s does not know subscription %s", base, id)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkOnce checks that every development from seq from to to was
// delivered, and, when once, exactly once; it returns how many were
// delivered more than once.
func checkOnce(t *testing.T, got map[string]int, sub subscription, from, to uint64, once bool) int {
	t.Helper()
	repeats := 0
	for seq := from; seq <= to; seq++ {
		id := fmt.Sprintf("msg_%s_%d", sub.ID, seq)
		switch n := got[id]; {
		case n == 0:
			t.Errorf("development %d was not delivered", seq)
		case n > 1 && once:
			t.Errorf("development %d was delivered %d times", seq, n)
		case n > 1:
			repeats++
		}
	}
	return repeats
}

// receiver is a webhook receiver on 127.0.0.1 that counts deliveries by
// webhook-id.
type receiver struct {
	url   string
	mu    sync.Mutex
	seen  map[string]int
	delay time.Duration
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{seen: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.seen[req.Header.Get("webhook-id")]++
		d := r.delay
		r.mu.Unlock()
		time.Sleep(d)
		w.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	r.url = "http://" + ln.Addr().String() + "/hook"
	return r
}

func (r *receiver) slow(d time.Duration) {
	r.mu.Lock()
	r.delay = d
	r.mu.Unlock()
}

func (r *receiver) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.seen))
	for k, v := range r.seen {
		out[k] = v
	}
	return out
}

func (r *receiver) waitDistinct(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	for {
		got := len(r.counts())
		if got >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("receiver has %d distinct deliveries of %d", got, n)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
