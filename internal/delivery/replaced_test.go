package delivery_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/delivery"
	"github.com/parley-news/parley/internal/natstest"
	"github.com/parley-news/parley/internal/projector"
	"github.com/parley-news/parley/internal/stream"
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

	t.Cleanup(func() {
		if t.Failed() {
			for _, d := range rc.received() {
				t.Logf("got %s seq %d", d.id, d.seq)
			}
		}
	})
	waitFor(t, "every new development's alert", func() bool {
		news := 0
		for id := range distinct(rc.received()) {
			if !old[id] {
				news++
			}
		}
		return news >= n
	})
	// Delivery is in order: once an alert of a later development has
	// come, a repeat of an earlier one queued before it has too.
	appendEvents(t, fresh, "tail", 1)
	waitFor(t, "the tail's alert", func() bool { return len(distinct(rc.received())) >= 5+n+1 })
	got := rc.received()
	perEvent := map[string]map[string]bool{} // event id -> webhook-ids
	for _, d := range got {
		ev, _ := d.payload["data"].(map[string]any)["event"].(string)
		if perEvent[ev] == nil {
			perEvent[ev] = map[string]bool{}
		}
		perEvent[ev][d.id] = true
	}
	for i := range n {
		ev := fmt.Sprintf("new-%d", i)
		ids := perEvent[ev]
		if len(ids) != 1 {
			t.Errorf("%s: %d webhook-ids %v, want 1", ev, len(ids), ids)
		}
		for id := range ids {
			if old[id] {
				t.Errorf("%s: webhook-id %s already used on the old stream", ev, id)
			}
		}
	}
	for ev := range perEvent {
		if !strings.HasPrefix(ev, "old-") && !strings.HasPrefix(ev, "new-") && ev != "tail-0" {
			t.Errorf("alert of %s, not after the subscription", ev)
		}
	}
	if len(distinct(got)) != 5+n+1 {
		t.Errorf("%d distinct alerts, want %d", len(distinct(got)), 5+n+1)
	}
	if s := status(t, r2, v.ID); s.Status.State != "active" {
		t.Errorf("state %s", s.Status.State)
	}
}
