package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/delivery"
	"github.com/parley-news/parley/internal/natstest"
	"github.com/parley-news/parley/internal/projector"
	"github.com/parley-news/parley/internal/stream"
	"github.com/parley-news/parley/internal/webhook"
)

// A PARLEY stream deleted and created again while the KV bucket of the
// alerts survives: the new stream numbers its messages from 1 again. The
// positions the bucket kept (pos.<sub>, up to 8 here) used to be applied
// to it, so that its developments at 1..8 were taken as published and
// never delivered, and an alert that did go out reused a webhook-id a
// receiver had already seen for another development.
func TestStreamReplacedAlertsEveryNewDevelopmentOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	url := natstest.Server(t)
	dir := t.TempDir()
	r := startReplica(t, url, dir, fast())
	rc := newReceiver(t)
	appendEvents(t, r.conn, "before", 3) // the subscription starts after 3
	v := subscribe(t, r, rc, alert.Filter{Issues: []string{"army-cap"}})
	appendEvents(t, r.conn, "old", 5) // 4..8, delivered
	waitFor(t, "the old stream's alerts", func() bool { return len(distinct(rc.received())) == 5 })
	old := distinct(rc.received())

	// The stream goes under the running replica and comes back empty.
	if err := r.conn.JetStream().DeleteStream(ctx, stream.DefaultStreamName); err != nil {
		t.Fatal(err)
	}
	fresh := natstest.Conn(t, url) // creates the stream again
	r.stop()
	// The next start keeps the old read model aside and rebuilds from
	// the new stream, as the service does.
	st, err := projector.OpenModel(ctx, fresh, dir, delivery.Buckets, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	r2 := startReplica(t, url, dir, fast())
	const n = 7 // 1..7: every one at or below the old positions
	appendEvents(t, fresh, "new", n)

	alertedOnce(t, rc, fresh, old, "new", n)
	if s := status(t, r2, v.ID); s.Status.State != "active" {
		t.Errorf("state %s", s.Status.State)
	}
}

// alertedOnce checks that the n events appended as prefix-0.. were each
// alerted once, under a webhook-id none of used had (the ids of the
// history before), and that nothing else came: those of used, and one
// more appended to show that no repeat is still to come.
func alertedOnce(t *testing.T, rc *receiver, conn *stream.Conn, used map[string]bool, prefix string, n int) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			for _, d := range rc.received() {
				t.Logf("got %s seq %d", d.id, d.seq)
			}
		}
	})
	fresh := func() int {
		k := 0
		for id := range distinct(rc.received()) {
			if !used[id] {
				k++
			}
		}
		return k
	}
	waitFor(t, "every new development's alert", func() bool { return fresh() >= n })
	// Delivery is in order: once an alert of a later development has
	// come, a repeat of an earlier one queued before it has too.
	appendEvents(t, conn, prefix+"-tail", 1)
	waitFor(t, "the tail's alert", func() bool { return fresh() >= n+1 })
	got := rc.received()
	perEvent := map[string]map[string]bool{} // event id -> webhook-ids
	for _, d := range got {
		if used[d.id] {
			continue
		}
		ev, _ := d.payload["data"].(map[string]any)["event"].(string)
		if perEvent[ev] == nil {
			perEvent[ev] = map[string]bool{}
		}
		perEvent[ev][d.id] = true
	}
	want := map[string]bool{prefix + "-tail-0": true}
	for i := range n {
		want[fmt.Sprintf("%s-%d", prefix, i)] = true
	}
	for ev := range want {
		if len(perEvent[ev]) != 1 {
			t.Errorf("%s: webhook-ids %v, want one", ev, perEvent[ev])
		}
	}
	for ev, ids := range perEvent {
		if !want[ev] {
			t.Errorf("alert of %s %v, not asked for", ev, ids)
		}
	}
	if k := fresh(); k != n+1 {
		t.Errorf("%d new webhook-ids, want %d", k, n+1)
	}
}

// A stream restored from an older backup of itself keeps its identity
// (the server restores its creation time), and numbers what is appended
// after the restore as the messages lost with the backup were: the
// positions in PARLEY_ALERTS, kept, name those. What is written on is
// recorded later than any of them, and is alerted, once each, under
// webhook-ids that the lost alerts did not have. The test plays the
// restore on the bucket: the subscription's position as the lost history
// left it (published up to 50).
func TestStreamRestoredFromAnOlderBackupAlertsWhatIsWrittenOn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	url := natstest.Server(t)
	dir := t.TempDir()
	r := startReplica(t, url, dir, fast())
	rc := newReceiver(t)
	v := subscribe(t, r, rc, alert.Filter{Issues: []string{"army-cap"}})
	appendEvents(t, r.conn, "kept", 3) // 1..3, in the backup too
	waitFor(t, "the kept history's alerts", func() bool { return len(distinct(rc.received())) == 3 })
	r.stop()

	head, err := r.conn.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := r.conn.JetStream().KeyValue(ctx, delivery.KVBucket)
	if err != nil {
		t.Fatal(err)
	}
	lost := fmt.Sprintf(`{"seq":50,"at":%q,"stream":%q,"high":50}`, time.Now().UTC().Format(time.RFC3339Nano), head.ID)
	if _, err := kv.Put(ctx, "pos."+v.ID, []byte(lost)); err != nil {
		t.Fatal(err)
	}
	used := distinct(rc.received())
	for seq := 4; seq <= 50; seq++ { // the lost history's alerts
		used[alert.MessageID(v.ID, uint64(seq))] = true
	}

	startReplica(t, url, dir, fast())
	const n = 4 // 4..7
	appendEvents(t, r.conn, "written-on", n)
	alertedOnce(t, rc, r.conn, used, "written-on", n)
}

// A subscription made before streams were kept takes the read model's
// stream as its own at the first look, so that a replacement afterwards
// is known for one.
func TestOlderSubscriptionAdoptsItsStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := natstest.Server(t)
	r := startReplica(t, url, t.TempDir(), fast())
	rc := newReceiver(t)
	secret := webhook.NewSecret()
	rc.secret.Store(secret)
	id := alert.NewID()
	older := fmt.Sprintf(`{"id":%q,"url":%q,"filter":{},"created_at":"2025-12-01T10:00:00Z","after":0,"secret":%q}`,
		id, rc.srv.URL+"/hook", secret)
	kv, err := r.conn.JetStream().KeyValue(ctx, delivery.KVBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "sub."+id, []byte(older)); err != nil {
		t.Fatal(err)
	}
	head, err := r.conn.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	appendEvents(t, r.conn, "after", 1)
	waitFor(t, "its alert", func() bool { return len(distinct(rc.received())) == 1 })
	var sub alert.Subscription
	waitFor(t, "the stream recorded", func() bool {
		e, err := kv.Get(ctx, "sub."+id)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(e.Value(), &sub); err != nil {
			t.Fatal(err)
		}
		return sub.Stream != ""
	})
	if sub.Stream != head.ID || sub.Secret != secret || sub.URL != rc.srv.URL+"/hook" {
		t.Errorf("adopted: stream %q secret kept %v url %q, want stream %q", sub.Stream, sub.Secret == secret, sub.URL, head.ID)
	}
	if got := rc.received()[0].id; got != alert.MessageID(id, 1) {
		t.Errorf("webhook-id %s, want %s", got, alert.MessageID(id, 1))
	}
}
