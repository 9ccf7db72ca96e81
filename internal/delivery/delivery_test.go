package delivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/delivery"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/httpapi"
	"github.com/parley-news/parley/internal/metrics"
	"github.com/parley-news/parley/internal/natstest"
	"github.com/parley-news/parley/internal/projector"
	"github.com/parley-news/parley/internal/stream"
	"github.com/parley-news/parley/internal/webhook"
)

// fast are timings for tests: milliseconds where production has hours.
func fast() delivery.Config {
	return delivery.Config{
		Sender:       webhook.Config{AllowLoopback: true, ConnectTimeout: time.Second, RequestTimeout: 2 * time.Second},
		Backoff:      alert.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		Horizon:      time.Hour,
		AckWait:      4 * time.Second,
		BacklogEvery: 50 * time.Millisecond,
	}
}

// replica is one projector replica: a read model file, its projection
// loop and its alerts, on a shared NATS server.
type replica struct {
	t     testing.TB
	conn  *stream.Conn
	store *bolt.Store
	svc   *delivery.Service
	api   *httptest.Server
	stop  func()
}

func startReplica(t testing.TB, natsURL, dir string, cfg delivery.Config) *replica {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := natstest.Conn(t, natsURL)
	store, err := bolt.Open(filepath.Join(dir, projector.ModelFile), bolt.Options{Buckets: delivery.Buckets})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Vocabulary = data.Vocabulary()
	svc, err := delivery.Start(ctx, conn, store, cfg)
	if err != nil {
		t.Fatalf("start alerts: %v", err)
	}
	proj := projector.New(conn, store, projector.Config{OnApply: svc.OnApply})
	runCtx, stopProj := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); proj.Run(runCtx) }()
	mux := http.NewServeMux()
	svc.Register(mux)
	r := &replica{t: t, conn: conn, store: store, svc: svc, api: httptest.NewServer(mux)}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			r.api.Close()
			stopProj()
			<-done
			svc.Close()
			store.Close()
		})
	}
	t.Cleanup(r.stop)
	return r
}

// appendEvents appends n events by Russia on army-cap, each a new demand,
// so that each makes a position change.
func appendEvents(t testing.TB, conn *stream.Conn, prefix string, n int) {
	t.Helper()
	evs := make([]events.Event, n)
	for i := range evs {
		js := fmt.Sprintf(`{"id":"%s-%d","type":"statement","occurred_at":"2025-12-01T10:%02dZ","title":"Demand %d","sources":[{"outlet":"TASS"}],`+
			`"positions":[{"party":"ru","issue":"army-cap","stance":"demands","value":%d}]}`, prefix, i, i%60, i, 400000+i*1000)
		if err := json.Unmarshal([]byte(js), &evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range conn.Append(context.Background(), evs, "test") {
		if r.Status != stream.Appended {
			t.Fatalf("append %s: %s %v", r.ID, r.Status, r.Err)
		}
	}
}

// receiver is a webhook receiver on 127.0.0.1 that verifies what it gets
// with the Standard Webhooks algorithm and answers as told.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	secret atomic.Value // string
	answer atomic.Int64 // HTTP status to answer; 0 means 204

	mu   sync.Mutex
	got  []delivered
	bad  int
	hits atomic.Int64
}

type delivered struct {
	id      string
	seq     uint64
	payload map[string]any
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{t: t}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	rc.hits.Add(1)
	body, _ := io.ReadAll(r.Body)
	if code := rc.answer.Load(); code != 0 {
		if code >= 300 && code < 400 {
			w.Header().Set("Location", "http://10.0.0.1/")
		}
		w.WriteHeader(int(code))
		return
	}
	secret, _ := rc.secret.Load().(string)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := webhook.Verify(secret, r.Header, body, time.Now(), webhook.DefaultTolerance); err != nil {
		rc.bad++
		http.Error(w, err.Error(), 400)
		return
	}
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		rc.bad++
		http.Error(w, err.Error(), 400)
		return
	}
	seq := uint64(p["data"].(map[string]any)["seq"].(float64))
	rc.got = append(rc.got, delivered{id: r.Header.Get(webhook.HeaderID), seq: seq, payload: p})
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) received() []delivered {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// waitFor polls cond for up to 20 s: a bound for visibility on a slow
// machine, not a speed goal.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func call(t testing.TB, method, url, token string, body any, into any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if into != nil {
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, into); err != nil && resp.StatusCode != 204 {
			t.Fatalf("%s %s: %d %q: %v", method, url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

type subView struct {
	ID           string       `json:"id"`
	MetricsLabel string       `json:"metrics_label"`
	URL          string       `json:"url"`
	Secret       string       `json:"secret"`
	Filter       alert.Filter `json:"filter"`
	Status       struct {
		State             string     `json:"state"`
		LastSuccessAt     *time.Time `json:"last_success_at"`
		LastFailureAt     *time.Time `json:"last_failure_at"`
		LastFailureReason string     `json:"last_failure_reason"`
		DisabledReason    string     `json:"disabled_reason"`
		Delivered         int        `json:"delivered"`
		Failed            int        `json:"failed"`
		Backlog           *int       `json:"backlog"`
		Dead              *int       `json:"dead"`
	} `json:"status"`
	Error string `json:"error"`
	Param string `json:"param"`
}

func subscribe(t testing.TB, r *replica, rc *receiver, filter alert.Filter) subView {
	t.Helper()
	var v subView
	if code := call(t, "POST", r.api.URL+"/v1/subscriptions", "", map[string]any{"url": rc.srv.URL + "/hook", "filter": filter, "description": "test"}, &v); code != 201 {
		t.Fatalf("create: %d %s", code, v.Error)
	}
	rc.secret.Store(v.Secret)
	return v
}

func status(t testing.TB, r *replica, id string) subView {
	t.Helper()
	var v subView
	if code := call(t, "GET", r.api.URL+"/v1/subscriptions/"+id, "", nil, &v); code != 200 {
		t.Fatalf("get %s: %d %s", id, code, v.Error)
	}
	return v
}

// TestSignedDelivery: a development that matches is posted, signed as the
// Standard Webhooks specification says, with its kinds and the position
// before and after; one that does not match is not.
func TestSignedDelivery(t *testing.T) {
	url := natstest.Server(t)
	r := startReplica(t, url, t.TempDir(), fast())
	rc := newReceiver(t)
	v := subscribe(t, r, rc, alert.Filter{Parties: []string{"ru"}, Changes: []string{"position_change"}})
	if !strings.HasPrefix(v.Secret, "whsec_") || v.Status.State != "active" {
		t.Fatalf("created %+v", v)
	}
	appendEvents(t, r.conn, "ev", 1)
	other := `{"id":"us-only","type":"statement","occurred_at":"2025-12-02T10:00Z","title":"US","sources":[{"outlet":"AP"}],"positions":[{"party":"us","issue":"army-cap","stance":"proposes","value":600000}]}`
	var e events.Event
	json.Unmarshal([]byte(other), &e)
	r.conn.Append(context.Background(), []events.Event{e}, "test")
	waitFor(t, "a delivery", func() bool { return len(rc.received()) >= 1 })
	time.Sleep(200 * time.Millisecond) // the US event must not follow
	got := rc.received()
	if len(got) != 1 || rc.bad != 0 {
		t.Fatalf("received %d (%d bad), want 1", len(got), rc.bad)
	}
	d := got[0]
	if want := alert.MessageID(v.ID, d.seq); d.id != want {
		t.Errorf("webhook-id %q, want %q", d.id, want)
	}
	data := d.payload["data"].(map[string]any)
	if d.payload["type"] != alert.PayloadType || data["subscription"] != v.ID || data["title"] != "Demand 0" {
		t.Errorf("payload %v", d.payload)
	}
	if !slices.Contains(toStrings(data["kinds"]), "position_change") {
		t.Errorf("kinds %v", data["kinds"])
	}
	ch := data["changes"].([]any)[0].(map[string]any)
	if ch["party"] != "ru" || ch["after"].(map[string]any)["stance"] != "demands" {
		t.Errorf("change %v", ch)
	}
	waitFor(t, "status success, backlog empty", func() bool {
		st := status(t, r, v.ID).Status
		return st.LastSuccessAt != nil && st.Backlog != nil && *st.Backlog == 0
	})
	st := status(t, r, v.ID)
	if st.Secret != "" || st.Status.Delivered != 1 || st.Status.Failed != 0 {
		t.Errorf("status %+v", st)
	}
	// /metrics is open: it names the subscription by a label its status
	// shows, never by its id, which gives access to it; a deleted
	// subscription's series go.
	series := deliverySeries(t)
	if st.MetricsLabel == "" || series[st.MetricsLabel+" ok"] != 1 {
		t.Errorf("metrics label %q, series %v: want one delivery under the label", st.MetricsLabel, series)
	}
	for k := range series {
		if strings.Contains(k, v.ID) {
			t.Errorf("a series names the subscription's id: %s", k)
		}
	}
	if code := call(t, "DELETE", r.api.URL+"/v1/subscriptions/"+v.ID, "", nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	waitFor(t, "the deleted subscription's series gone", func() bool {
		for k := range deliverySeries(t) {
			if strings.HasPrefix(k, st.MetricsLabel+" ") {
				return false
			}
		}
		return true
	})
}

// deliverySeries is parley_webhook_deliveries_total, "label outcome" to
// count.
func deliverySeries(t *testing.T) map[string]float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1000)
	metrics.Deliveries.Collect(ch)
	close(ch)
	out := map[string]float64{}
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		var sub, outcome string
		for _, l := range d.GetLabel() {
			switch l.GetName() {
			case "subscription":
				sub = l.GetValue()
			case "outcome":
				outcome = l.GetValue()
			}
		}
		out[sub+" "+outcome] = d.GetCounter().GetValue()
	}
	return out
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestDownThenUp: a receiver whose port refuses connections, then comes
// back, gets every alert, in order, none lost; retries repeat the
// webhook-id.
func TestDownThenUp(t *testing.T) {
	url := natstest.Server(t)
	r := startReplica(t, url, t.TempDir(), fast())
	rc := newReceiver(t)
	v := subscribe(t, r, rc, alert.Filter{})
	// Take the receiver down: close its listener, keep its address.
	addr := rc.srv.Listener.Addr().String()
	rc.srv.Listener.Close()
	const n = 12
	appendEvents(t, r.conn, "down", n)
	waitFor(t, "failures and a full backlog", func() bool {
		st := status(t, r, v.ID).Status
		return st.Failed >= 3 && st.Backlog != nil && *st.Backlog == n
	})
	st := status(t, r, v.ID)
	if !strings.Contains(st.Status.LastFailureReason, "refused") {
		t.Errorf("while down: reason %q", st.Status.LastFailureReason)
	}
	// /metrics says the backlog too, under the subscription's label.
	waitFor(t, "parley_webhook_backlog at n", func() bool { return backlogGauge(t, st.MetricsLabel) == n })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen again on %s: %v", addr, err)
	}
	up := &http.Server{Handler: http.HandlerFunc(rc.serve)}
	go up.Serve(ln)
	t.Cleanup(func() { up.Close() })
	waitFor(t, "every alert", func() bool { return len(distinct(rc.received())) == n })
	checkOrder(t, rc.received(), n)
	waitFor(t, "empty backlog", func() bool { b := status(t, r, v.ID).Status.Backlog; return b != nil && *b == 0 })
	waitFor(t, "parley_webhook_backlog at 0", func() bool { return backlogGauge(t, st.MetricsLabel) == 0 })
	if code := call(t, "DELETE", r.api.URL+"/v1/subscriptions/"+v.ID, "", nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	waitFor(t, "the deleted subscription's backlog series gone", func() bool { return backlogGauge(t, st.MetricsLabel) == -1 })
}

// backlogGauge is parley_webhook_backlog under label, -1 when it has no
// such series.
func backlogGauge(t *testing.T, label string) int {
	t.Helper()
	ch := make(chan prometheus.Metric, 1000)
	metrics.Backlog.Collect(ch)
	close(ch)
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		for _, l := range d.GetLabel() {
			if l.GetName() == "subscription" && l.GetValue() == label {
				return int(d.GetGauge().GetValue())
			}
		}
	}
	return -1
}

func distinct(ds []delivered) map[string]bool {
	m := map[string]bool{}
	for _, d := range ds {
		m[d.id] = true
	}
	return m
}

// checkOrder: first deliveries in increasing sequence, n of them.
func checkOrder(t *testing.T, ds []delivered, n int) {
	t.Helper()
	var last uint64
	seen := map[string]bool{}
	for _, d := range ds {
		if seen[d.id] {
			continue // a repeat after a lost acknowledgement: allowed, same id
		}
		seen[d.id] = true
		if d.seq <= last {
			t.Errorf("out of order: %d after %d", d.seq, last)
		}
		last = d.seq
	}
	if len(seen) != n {
		t.Errorf("%d distinct alerts, want %d", len(seen), n)
	}
}

// TestRestartKeepsBacklog: alerts queued for a receiver that is down
// survive a restart of the replica (a new file handle, a new service) and
// are all delivered, in order, once it is back.
func TestRestartKeepsBacklog(t *testing.T) {
	url := natstest.Server(t)
	dir := t.TempDir()
	r := startReplica(t, url, dir, fast())
	rc := newReceiver(t)
	rc.answer.Store(503)
	v := subscribe(t, r, rc, alert.Filter{Issues: []string{"army-cap"}})
	appendEvents(t, r.conn, "before", 5)
	waitFor(t, "backlog", func() bool { b := status(t, r, v.ID).Status.Backlog; return b != nil && *b == 5 })
	r.stop()
	appendEvents(t, r.conn, "while-stopped", 5) // matched only after the restart
	r2 := startReplica(t, url, dir, fast())
	if got := status(t, r2, v.ID); got.URL != rc.srv.URL+"/hook" {
		t.Fatalf("after restart: %+v", got)
	}
	rc.answer.Store(0)
	waitFor(t, "every alert", func() bool { return len(distinct(rc.received())) == 10 })
	checkOrder(t, rc.received(), 10)
}

// TestGoneDisables: 410 disables the subscription and says so; the alert
// goes to the dead list and leaves the queue, the alert queued after it
// stays there undelivered (by a replica that joins later too), later
// developments are not queued, and redelivery is refused.
func TestGoneDisables(t *testing.T) {
	url := natstest.Server(t)
	r := startReplica(t, url, t.TempDir(), fast())
	rc := newReceiver(t)
	rc.answer.Store(410)
	v := subscribe(t, r, rc, alert.Filter{})
	appendEvents(t, r.conn, "gone", 2)
	waitFor(t, "disabled", func() bool { return status(t, r, v.ID).Status.State == "disabled" })
	st := status(t, r, v.ID)
	if !strings.Contains(st.Status.DisabledReason, "410") {
		t.Errorf("disabled reason %q", st.Status.DisabledReason)
	}
	waitFor(t, "one dead, one queued", func() bool {
		st := status(t, r, v.ID).Status
		return st.Dead != nil && *st.Dead == 1 && st.Backlog != nil && *st.Backlog == 1
	})
	if n := rc.hits.Load(); n != 1 {
		t.Errorf("%d attempts, want 1: the receiver said it was gone", n)
	}
	rc.answer.Store(0)
	appendEvents(t, r.conn, "after-gone", 3)
	joined := startReplica(t, url, t.TempDir(), fast())
	waitFor(t, "the new replica knows the subscription disabled", func() bool {
		return status(t, joined, v.ID).Status.State == "disabled"
	})
	time.Sleep(300 * time.Millisecond)
	if n := rc.hits.Load(); n != 1 {
		t.Errorf("a disabled subscription was delivered to: %d attempts", n)
	}
	// Developments after it are not queued for a disabled subscription;
	// the one queued before it stays.
	if st := status(t, r, v.ID).Status; st.Backlog == nil || *st.Backlog != 1 {
		t.Errorf("backlog %v, want the one alert queued behind the one that disabled it", st.Backlog)
	}
	var p struct{ Error string }
	if code := call(t, "POST", r.api.URL+"/v1/subscriptions/"+v.ID+"/redeliver", "", nil, &p); code != 409 {
		t.Errorf("redeliver a disabled subscription: %d %s", code, p.Error)
	}
}

// TestRedirectDeadRedeliver: a 3xx is a failure, never followed; past the
// horizon the alert goes to the dead list, which shows it; redeliver
// sends it again with the same webhook-id once the receiver is fixed.
func TestRedirectDeadRedeliver(t *testing.T) {
	url := natstest.Server(t)
	cfg := fast()
	cfg.Horizon = 300 * time.Millisecond
	r := startReplica(t, url, t.TempDir(), cfg)
	rc := newReceiver(t)
	rc.answer.Store(302)
	v := subscribe(t, r, rc, alert.Filter{})
	appendEvents(t, r.conn, "moved", 3)
	waitFor(t, "dead list", func() bool { d := status(t, r, v.ID).Status.Dead; return d != nil && *d == 3 })
	st := status(t, r, v.ID)
	if st.Status.State != "active" || !strings.Contains(st.Status.LastFailureReason, "302 redirect, not followed") {
		t.Errorf("status %+v", st.Status)
	}
	var dead struct {
		Count int                  `json:"count"`
		Dead  []delivery.DeadAlert `json:"dead"`
	}
	if code := call(t, "GET", r.api.URL+"/v1/subscriptions/"+v.ID+"/dead", "", nil, &dead); code != 200 || dead.Count != 3 {
		t.Fatalf("dead: %d %+v", code, dead)
	}
	// A page at a time, each giving the cursor of the next, to the end
	// (the first with none: an empty one is refused, as on the read API).
	var paged []string
	for query, pages := "?limit=2", 0; pages < 5; pages++ {
		var page struct {
			Dead       []delivery.DeadAlert `json:"dead"`
			NextCursor string               `json:"next_cursor"`
		}
		if code := call(t, "GET", r.api.URL+"/v1/subscriptions/"+v.ID+"/dead"+query, "", nil, &page); code != 200 {
			t.Fatalf("dead page %d: %d", pages, code)
		}
		for _, d := range page.Dead {
			paged = append(paged, d.WebhookID)
		}
		if page.NextCursor == "" {
			break
		}
		query = "?limit=2&cursor=" + page.NextCursor
	}
	var all []string
	for _, d := range dead.Dead {
		all = append(all, d.WebhookID)
	}
	if !slices.Equal(paged, all) {
		t.Errorf("paged %v, want %v", paged, all)
	}
	for _, q := range []struct{ query, param string }{
		{"?limit=1&limit=2", "limit"}, {"?limit=0", "limit"}, {"?limt=1", "limt"}, {"?limit=", "limit"}, {"?cursor=x", "cursor"},
	} {
		var p httpapi.Problem
		if code := call(t, "GET", r.api.URL+"/v1/subscriptions/"+v.ID+"/dead"+q.query, "", nil, &p); code != 400 || p.Param != q.param {
			t.Errorf("dead%s: %d %+v, want 400 naming %s", q.query, code, p, q.param)
		}
	}
	var one struct{ Count int }
	if code := call(t, "GET", r.api.URL+"/v1/subscriptions/"+v.ID+"/dead?limit=1", "", nil, &one); code != 200 || one.Count != 1 {
		t.Errorf("dead?limit=1: %d %+v", code, one)
	}
	d0 := dead.Dead[0]
	if d0.WebhookID != alert.MessageID(v.ID, d0.Seq) || d0.Attempts < 1 || !strings.Contains(d0.Reason, "redirect") || len(d0.Payload) == 0 {
		t.Errorf("dead alert %+v", d0)
	}
	rc.answer.Store(0)
	// Every dead alert, though a redelivery reads them two at a time.
	defer delivery.SetRedeliverPage(2)()
	var red struct{ Redelivered int }
	if code := call(t, "POST", r.api.URL+"/v1/subscriptions/"+v.ID+"/redeliver", "", nil, &red); code != 202 || red.Redelivered != 3 {
		t.Fatalf("redeliver: %d %+v", code, red)
	}
	waitFor(t, "redelivered", func() bool { return len(distinct(rc.received())) == 3 })
	got := rc.received()
	if got[0].id != d0.WebhookID {
		t.Errorf("redelivered id %q, want %q", got[0].id, d0.WebhookID)
	}
	checkOrder(t, got, 3)
	if code := call(t, "GET", r.api.URL+"/v1/subscriptions/"+v.ID+"/dead", "", nil, &dead); code != 200 || dead.Count != 0 {
		t.Errorf("dead after redeliver: %+v", dead)
	}
}

// TestCreateRefusals: private and metadata addresses, bad schemes and
// filters are refused with a 400 that names the field; writes need the
// token when one is set, reads do not.
func TestCreateRefusals(t *testing.T) {
	url := natstest.Server(t)
	cfg := fast()
	cfg.Sender.AllowLoopback = false
	cfg.Token = "s3cret"
	cfg.MaxSubscriptions = 1
	r := startReplica(t, url, t.TempDir(), cfg)
	for _, c := range []struct {
		body  map[string]any
		param string
		want  string
	}{
		{map[string]any{"url": "http://10.0.0.1/hook"}, "url", "10.0.0.1 is private"},
		{map[string]any{"url": "http://169.254.169.254/latest/meta-data/"}, "url", "link-local"},
		{map[string]any{"url": "http://[fd00:ec2::254]/"}, "url", "unique local"},
		{map[string]any{"url": "http://127.0.0.1:9/hook"}, "url", "loopback"},
		{map[string]any{"url": "http://[::ffff:127.0.0.1]/"}, "url", "loopback"},
		{map[string]any{"url": "http://2130706433/"}, "url", "non-standard"},
		{map[string]any{"url": "ftp://example.com/"}, "url", "http or https"},
		{map[string]any{}, "url", "required"},
		{map[string]any{"url": "https://example.com/", "filter": map[string]any{"changes": []string{"position-change"}}}, "filter.changes", "not a kind"},
		{map[string]any{"url": "https://example.com/", "filter": map[string]any{"parties": []string{"atlantis"}}}, "filter.parties", "vocabulary"},
		{map[string]any{"url": "https://example.com/", "filters": map[string]any{}}, "filters", "unknown field"},
		{map[string]any{"URL": "https://example.com/"}, "URL", "unknown field"},
		{map[string]any{"url": "https://example.com/", "filter": map[string]any{"parties": "ru"}}, "filter.parties", "want a list"},
		{map[string]any{"url": "https://example.com/", "description": 5}, "description", "want a string"},
	} {
		var p subView
		code := call(t, "POST", r.api.URL+"/v1/subscriptions", "s3cret", c.body, &p)
		if code != 400 || p.Param != c.param || !strings.Contains(p.Error, c.want) {
			t.Errorf("%v: %d %q (param %q), want 400 %q on %q", c.body, code, p.Error, p.Param, c.want, c.param)
		}
	}
	// A body declared as something else than JSON.
	req, _ := http.NewRequest("POST", r.api.URL+"/v1/subscriptions", strings.NewReader(`{"url":"https://example.com/hook"}`))
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 {
		t.Errorf("text/plain body: %d, want 415", resp.StatusCode)
	}
	var p subView
	body := map[string]any{"url": "https://example.com/hook"}
	if code := call(t, "POST", r.api.URL+"/v1/subscriptions", "", body, &p); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code := call(t, "POST", r.api.URL+"/v1/subscriptions", "s3cret", body, &p); code != 201 {
		t.Fatalf("with token: %d %s", code, p.Error)
	}
	if code := call(t, "GET", r.api.URL+"/v1/subscriptions/"+p.ID, "", nil, &subView{}); code != 200 {
		t.Errorf("read without token: %d", code)
	}
	var over subView
	if code := call(t, "POST", r.api.URL+"/v1/subscriptions", "s3cret", body, &over); code != 409 || !strings.Contains(over.Error, "too many") {
		t.Errorf("over MaxSubscriptions: %d %q", code, over.Error)
	}
	if code := call(t, "DELETE", r.api.URL+"/v1/subscriptions/"+p.ID, "", nil, nil); code != 401 {
		t.Errorf("delete without token: %d", code)
	}
	if code := call(t, "DELETE", r.api.URL+"/v1/subscriptions/"+p.ID, "s3cret", nil, nil); code != 204 {
		t.Errorf("delete: %d", code)
	}
	if code := call(t, "GET", r.api.URL+"/v1/subscriptions/"+p.ID, "", nil, &subView{}); code != 404 {
		t.Errorf("after delete: %d", code)
	}
	if code := call(t, "GET", r.api.URL+"/v1/subscriptions/nope", "", nil, &subView{}); code != 404 {
		t.Errorf("bad id: %d", code)
	}
}

// TestReplicasDeliverOnce: two replicas on one NATS server, each with its
// own read model and matcher, deliver each development once.
func TestReplicasDeliverOnce(t *testing.T) {
	url := natstest.Server(t)
	a := startReplica(t, url, t.TempDir(), fast())
	b := startReplica(t, url, t.TempDir(), fast())
	rc := newReceiver(t)
	v := subscribe(t, a, rc, alert.Filter{})
	waitFor(t, "replica b knows the subscription", func() bool {
		return call(t, "GET", b.api.URL+"/v1/subscriptions/"+v.ID, "", nil, &subView{}) == 200
	})
	const n = 20
	appendEvents(t, a.conn, "twice", n)
	waitFor(t, "every alert", func() bool { return len(distinct(rc.received())) == n })
	time.Sleep(500 * time.Millisecond) // a duplicate would arrive by now
	got := rc.received()
	if len(got) != n {
		t.Errorf("%d deliveries for %d developments", len(got), n)
	}
	checkOrder(t, got, n)
	// A third replica that starts from nothing, far behind, publishes
	// nothing again.
	c := startReplica(t, url, t.TempDir(), fast())
	waitFor(t, "replica c caught up", func() bool {
		return call(t, "GET", c.api.URL+"/v1/subscriptions/"+v.ID, "", nil, &subView{}) == 200
	})
	time.Sleep(time.Second)
	if got := rc.received(); len(got) != n {
		t.Errorf("after a new replica: %d deliveries, want %d", len(got), n)
	}
}

// TestLostConsumerIsRestarted: when a subscription's durable consumer
// goes (deleted by an operator, lost with a server's state), its router
// ends, and the matcher starts delivering again: the alerts queued
// meanwhile still arrive, in order.
func TestLostConsumerIsRestarted(t *testing.T) {
	url := natstest.Server(t)
	r := startReplica(t, url, t.TempDir(), fast())
	rc := newReceiver(t)
	v := subscribe(t, r, rc, alert.Filter{})
	appendEvents(t, r.conn, "before", 2)
	waitFor(t, "the first alerts", func() bool { return len(distinct(rc.received())) == 2 })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.conn.JetStream().DeleteConsumer(ctx, delivery.DeliveriesStream, "alert_"+v.ID); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, r.conn, "after", 3)
	// Within the matcher's tick (5 s); or, when the consumer went while
	// an alert's acknowledgement was on its way and between two pulls,
	// once its heartbeats are missed and the tick after that (30 s in
	// all, measured).
	deadline := time.Now().Add(45 * time.Second)
	for len(distinct(rc.received())) != 5 {
		if time.Now().After(deadline) {
			t.Fatalf("after the consumer was lost: %d alerts of 5", len(distinct(rc.received())))
		}
		time.Sleep(10 * time.Millisecond)
	}
	checkOrder(t, rc.received(), 5)
}

// TestSecretRotation: a rotation gives a new secret, shown once; while the
// old one is still in use the deliveries are signed with both, so that a
// receiver checking either accepts them, and after that with the new one
// alone. GET never shows a secret.
func TestSecretRotation(t *testing.T) {
	url := natstest.Server(t)
	cfg := fast()
	// The service's clock, moved past the overlap once the first alert
	// is in: no test waits a day.
	var ahead atomic.Int64
	cfg.Now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	r := startReplica(t, url, t.TempDir(), cfg)
	type hit struct {
		header http.Header
		body   []byte
	}
	var (
		mu   sync.Mutex
		hits []hit
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		mu.Lock()
		hits = append(hits, hit{req.Header.Clone(), body})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	var v subView
	if code := call(t, "POST", r.api.URL+"/v1/subscriptions", "", map[string]any{"url": srv.URL + "/hook"}, &v); code != 201 {
		t.Fatalf("create: %d %s", code, v.Error)
	}
	var rotated map[string]any
	if code := call(t, "POST", r.api.URL+"/v1/subscriptions/"+v.ID+"/rotate", "", nil, &rotated); code != 200 {
		t.Fatalf("rotate: %d %v", code, rotated)
	}
	secret, _ := rotated["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || secret == v.Secret || rotated["previous_secret"] != nil || rotated["previous_until"] == nil {
		t.Fatalf("rotation answered %v, want a new secret, when the old one stops, and not the old one", rotated)
	}
	if st := status(t, r, v.ID); st.Secret != "" {
		t.Errorf("GET shows a secret: %+v", st)
	}
	delivered := func(n int) hit {
		waitFor(t, fmt.Sprintf("delivery %d", n), func() bool { mu.Lock(); defer mu.Unlock(); return len(hits) >= n })
		mu.Lock()
		defer mu.Unlock()
		return hits[n-1]
	}
	verifies := func(h hit, secret string) bool {
		return webhook.Verify(secret, h.header, h.body, cfg.Now(), webhook.DefaultTolerance) == nil
	}
	appendEvents(t, r.conn, "during", 1)
	if h := delivered(1); !verifies(h, v.Secret) || !verifies(h, secret) {
		t.Errorf("during the overlap: signatures %q, want the old secret's and the new one's", h.header.Get(webhook.HeaderSignature))
	}
	until, _ := time.Parse(time.RFC3339, rotated["previous_until"].(string))
	if overlap := time.Until(until); overlap < 23*time.Hour {
		t.Errorf("the old secret signs for %v, want a day", overlap.Round(time.Minute))
	}
	ahead.Store(int64(25 * time.Hour))
	appendEvents(t, r.conn, "after", 1)
	if h := delivered(2); verifies(h, v.Secret) || !verifies(h, secret) {
		t.Errorf("after the overlap: signatures %q, want the new secret's alone", h.header.Get(webhook.HeaderSignature))
	}
}

// TestListSubscriptions: with the token, the subscriptions are listed,
// oldest first, with their status and never a secret; without it, 401;
// and with no token configured at all, 403: each id is the key to its
// subscription, which an open list would hand to anyone.
func TestListSubscriptions(t *testing.T) {
	url := natstest.Server(t)
	cfg := fast()
	cfg.Token = "s3cret"
	r := startReplica(t, url, t.TempDir(), cfg)
	rc := newReceiver(t)
	var made []string
	for range 2 {
		var v subView
		if code := call(t, "POST", r.api.URL+"/v1/subscriptions", "s3cret", map[string]any{"url": rc.srv.URL + "/hook"}, &v); code != 201 {
			t.Fatalf("create: %d %s", code, v.Error)
		}
		made = append(made, v.ID)
		time.Sleep(1100 * time.Millisecond) // created_at is to the second: one each
	}
	var list struct {
		Count         int       `json:"count"`
		Subscriptions []subView `json:"subscriptions"`
	}
	if code := call(t, "GET", r.api.URL+"/v1/subscriptions", "", nil, &map[string]any{}); code != 401 {
		t.Errorf("list without the token: %d, want 401", code)
	}
	if code := call(t, "GET", r.api.URL+"/v1/subscriptions", "s3cret", nil, &list); code != 200 || list.Count != 2 {
		t.Fatalf("list: %d %+v", code, list)
	}
	var ids []string
	for _, s := range list.Subscriptions {
		ids = append(ids, s.ID)
		if s.Secret != "" || s.MetricsLabel == "" || s.Status.State != "active" {
			t.Errorf("listed %+v: want a status and a metrics label, and no secret", s)
		}
	}
	if !slices.Equal(ids, made) {
		t.Errorf("listed %v, want %v, oldest first", ids, made)
	}

	open := startReplica(t, url, t.TempDir(), fast())
	var p httpapi.Problem
	if code := call(t, "GET", open.api.URL+"/v1/subscriptions", "", nil, &p); code != 403 || !strings.Contains(p.Error, "needs an API token") {
		t.Errorf("list with no token configured: %d %+v, want 403", code, p)
	}
}

// TestSubscriptionParameters: the subscription endpoints refuse a query
// parameter they do not take, as the read API does, naming it, and the
// dead list a cursor given twice or empty: a guess such as ?dry_run=1
// would otherwise create, rotate or delete for real, and a second cursor
// would be silently dropped.
func TestSubscriptionParameters(t *testing.T) {
	url := natstest.Server(t)
	cfg := fast()
	cfg.Token = "s3cret"
	r := startReplica(t, url, t.TempDir(), cfg)
	rc := newReceiver(t)
	var v subView
	if code := call(t, "POST", r.api.URL+"/v1/subscriptions", "s3cret", map[string]any{"url": rc.srv.URL + "/hook"}, &v); code != 201 {
		t.Fatalf("create: %d %s", code, v.Error)
	}
	sub := r.api.URL + "/v1/subscriptions/" + v.ID
	for _, c := range []struct {
		method, url string
		param       string
	}{
		{"POST", r.api.URL + "/v1/subscriptions?dry_run=1", "dry_run"},
		{"GET", r.api.URL + "/v1/subscriptions?limit=5", "limit"},
		{"GET", sub + "?secret=1", "secret"},
		{"DELETE", sub + "?force=1", "force"},
		{"DELETE", sub + "?force=1;x", "force"},
		{"POST", sub + "/rotate?keep_old=1", "keep_old"},
		{"POST", sub + "/redeliver?limit=1", "limit"},
		{"GET", sub + "/dead?since=1", "since"},
		{"GET", sub + "/dead?cursor=1&cursor=2", "cursor"},
		{"GET", sub + "/dead?cursor=", "cursor"},
		{"GET", sub + "/dead?limit=0", "limit"},
	} {
		var body any
		if c.method == "POST" && !strings.Contains(c.url, v.ID) {
			body = map[string]any{"url": rc.srv.URL + "/other"}
		}
		var p httpapi.Problem
		if code := call(t, c.method, c.url, "s3cret", body, &p); code != 400 || p.Param != c.param {
			t.Errorf("%s %s: %d %+v, want 400 naming %s", c.method, c.url, code, p, c.param)
		}
	}
	// Nothing of the refused requests went ahead.
	var list struct {
		Count int `json:"count"`
	}
	if code := call(t, "GET", r.api.URL+"/v1/subscriptions", "s3cret", nil, &list); code != 200 || list.Count != 1 {
		t.Errorf("after the refusals: %d, %d subscriptions, want 1", code, list.Count)
	}
	if got := status(t, r, v.ID); got.ID != v.ID {
		t.Errorf("after the refusals: %+v", got)
	}
	if code := call(t, "GET", sub+"/dead?limit=10", "", nil, &map[string]any{}); code != 200 {
		t.Errorf("dead list with its own parameter: %d", code)
	}
}

// TestCreateThatFailsLeavesNothing: when the subscription cannot be
// applied to the read model (its file refuses writes), the answer is an
// error and nothing stays in NATS: no subscription that would deliver
// alerts signed with a secret nobody was shown.
func TestCreateThatFailsLeavesNothing(t *testing.T) {
	url := natstest.Server(t)
	r := startReplica(t, url, t.TempDir(), fast())
	rc := newReceiver(t)
	r.store.Close()
	var p httpapi.Problem
	if code := call(t, "POST", r.api.URL+"/v1/subscriptions", "", map[string]any{"url": rc.srv.URL + "/hook"}, &p); code != 500 {
		t.Fatalf("create with a file that refuses writes: %d %+v, want 500", code, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := r.conn.JetStream().KeyValue(ctx, delivery.KVBucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys.Keys() {
		t.Errorf("left in %s after a failed create: %s", delivery.KVBucket, k)
	}
}
