package bench

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parley-news/parley/internal/natstest"
	"github.com/parley-news/parley/internal/stream"
)

// TestRawPublishSendsWhatAppendSends: the raw publish's messages carry the
// headers Append sends, each value as long, and the same body, so that
// the ratio compares the same bytes.
func TestRawPublishSendsWhatAppendSends(t *testing.T) {
	url := natstest.Server(t)
	conn := natstest.Conn(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// What Append puts on the wire, seen by a plain subscriber.
	sub, err := conn.NATS().SubscribeSync(stream.Subject(">"))
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.NATS().Flush(); err != nil {
		t.Fatal(err)
	}
	evs := gen(1).Events(2)
	if rs := conn.Append(ctx, evs[:1], ""); rs[0].Status != stream.Appended {
		t.Fatalf("append: %s %v", rs[0].Status, rs[0].Err)
	}
	sent, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	raw := rawMessages(conn, evs[:1])[0]
	if raw.Subject != sent.Subject || string(raw.Data) != string(sent.Data) {
		t.Errorf("raw message %s of %d bytes, Append sent %s of %d", raw.Subject, len(raw.Data), sent.Subject, len(sent.Data))
	}
	keys := func(m *nats.Msg) []string { return slices.Sorted(maps.Keys(m.Header)) }
	if got, want := keys(raw), keys(sent); !slices.Equal(got, want) {
		t.Fatalf("raw headers %v, Append sends %v", got, want)
	}
	for k := range sent.Header {
		if len(raw.Header.Get(k)) != len(sent.Header.Get(k)) {
			t.Errorf("header %s: raw %q, Append sends %q", k, raw.Header.Get(k), sent.Header.Get(k))
		}
	}
	if other := rawMessages(conn, evs[1:]); other[0].Header.Get(stream.AttemptHeader) == raw.Header.Get(stream.AttemptHeader) {
		t.Error("two raw messages share an append token")
	}
}
