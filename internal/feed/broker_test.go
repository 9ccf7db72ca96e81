package feed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/feed"
	"github.com/parley-news/parley/internal/httpapi"
	"github.com/parley-news/parley/internal/projections"
)

// TestClientCaps: past the global cap, and past the cap of one address,
// a stream asked for as EventSource asks (Accept: text/event-stream) is
// answered with one that says why and asks to be reopened later, since
// EventSource gives up for good on a 429; any other request is answered
// 429. Each is counted by its reason. A closed stream frees its place.
func TestClientCaps(t *testing.T) {
	for _, c := range []struct {
		name   string
		cfg    feed.Config
		want   string
		reason string
	}{
		{"global", feed.Config{MaxClients: 3}, "too many feed clients", "full"},
		{"per address", feed.Config{MaxClientsPerAddr: 3, LimitLoopback: true}, "too many feed clients from this address", "address"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			refused := map[string]int{}
			c.cfg.OnRefused = func(reason string) {
				mu.Lock()
				refused[reason]++
				mu.Unlock()
			}
			h := newHarness(t, c.cfg, nil)
			var open []*sseClient
			for range 3 {
				s, code := openSSE(t, h.URL, "", "")
				if code != 200 {
					t.Fatalf("stream %d: %d", len(open)+1, code)
				}
				open = append(open, s)
			}
			code, hdr, body := get(t, h.URL+"/v1/feed")
			if code != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" || !strings.Contains(string(body), c.want) {
				t.Errorf("fourth stream: %d %q %s", code, hdr.Get("Retry-After"), body)
			}
			code, hdr, body = get(t, h.URL+"/v1/feed", "Accept", "text/event-stream")
			checkRetryStream(t, code, hdr, body, c.want)
			mu.Lock()
			if refused[c.reason] != 2 || len(refused) != 1 {
				t.Errorf("refusals counted %v, want %s: 2", refused, c.reason)
			}
			mu.Unlock()
			open[0].close()
			waitFor(t, func() bool { return h.Broker.Stats().Streams == 2 })
			s, code := openSSE(t, h.URL, "", "")
			if code != 200 {
				t.Errorf("after one closed: %d", code)
			} else {
				s.close()
			}
			for _, s := range open[1:] {
				s.close()
			}
		})
	}
	t.Run("loopback exempt by default", func(t *testing.T) {
		h := newHarness(t, feed.Config{MaxClientsPerAddr: 1}, nil)
		for range 3 {
			s, code := openSSE(t, h.URL, "", "")
			if code != 200 {
				t.Fatalf("loopback stream: %d", code)
			}
			defer s.close()
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
	}
}

// TestStreamOutlivesServerTimeouts: a stream lasts longer than the
// server's ReadTimeout and WriteTimeout would let a request last, and
// keeps a silent connection alive with comments.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	h := newHarness(t, feed.Config{KeepAlive: 100 * time.Millisecond, WriteTimeout: time.Second},
		&http.Server{ReadTimeout: 300 * time.Millisecond})
	s, code := openSSE(t, h.URL, "", "")
	if code != 200 {
		t.Fatal(code)
	}
	defer s.close()
	time.Sleep(time.Second)
	seqs := h.appendEvents(t, event("late-one", "talks"))
	f, ok := s.next(t, 5*time.Second)
	if !ok || f.ID != seqs[0] {
		t.Fatalf("after a silent second: got %+v (ok %v), want message %d", f, ok, seqs[0])
	}
	n := 0
	for len(s.comments) > 0 {
		<-s.comments
		n++
	}
	if n < 3 {
		t.Errorf("%d keep-alive comments in a silent second at 100ms, want several", n)
	}
}

// TestKeepAliveCountsSilenceFromTheLastWrite: the keep-alive comes
// KeepAlive after the last message, not on a fixed beat that skips the
// beat after a message (which left up to twice KeepAlive of silence, past
// a proxy's idle timeout).
func TestKeepAliveCountsSilenceFromTheLastWrite(t *testing.T) {
	// Long enough that a loaded machine's scheduling delays stay well
	// inside the bounds below: a fixed beat is half a KeepAlive off.
	const ka = 2 * time.Second
	h := newHarness(t, feed.Config{KeepAlive: ka, WriteTimeout: time.Second}, nil)
	s, code := openSSE(t, h.URL, "", "")
	if code != 200 {
		t.Fatal(code)
	}
	defer s.close()
	// Halfway to the first beat: a fixed beat would skip it and send the
	// keep-alive one and a half KeepAlive after the message.
	time.Sleep(ka / 2)
	seqs := h.appendEvents(t, event("halfway", "talks"))
	if f, ok := s.next(t, 5*time.Second); !ok || f.ID != seqs[0] {
		t.Fatalf("got %+v (ok %v), want message %d", f, ok, seqs[0])
	}
	sent := time.Now()
	select {
	case <-s.comments:
	case <-time.After(5 * time.Second):
		t.Fatal("no keep-alive after 5 s of silence")
	}
	if gap := time.Since(sent); gap < ka-50*time.Millisecond || gap > ka+ka/4 {
		t.Errorf("keep-alive %v after the last message, want about %v", gap.Round(time.Millisecond), ka)
	}
}

// TestSlowClientCounted: with a small buffer, a client that reads nothing
// is cut off as soon as more than the buffer waits, and counted; the
// other clients get everything.
func TestSlowClientCounted(t *testing.T) {
	h := newHarness(t, feed.Config{Buffer: 64}, nil)
	fast, _ := openSSE(t, h.URL, "", "")
	defer fast.close()
	slow := dialRaw(t, h.URL, "/v1/feed")
	defer slow.Close()
	waitFor(t, func() bool { return h.Broker.Stats().Live == 2 })
	// Each message about 40 KB (appended straight to the stream, past
	// ingest's limit on summaries): the loopback buffers fill within a
	// hundred or two.
	summary := strings.Repeat("x", 40_000)
	var all []uint64
	for b := 0; b < 10 && h.Broker.Stats().Dropped == 0; b++ {
		evs := make([]events.Event, 100)
		for j := range evs {
			evs[j] = event(fmt.Sprintf("s-%d-%d", b, j), "statement")
			evs[j].Summary = summary
		}
		all = append(all, h.appendEvents(t, evs...)...)
	}
	waitFor(t, func() bool { return h.Broker.Stats().Dropped > 0 })
	for i, want := range all {
		f, ok := fast.next(t, 10*time.Second)
		if !ok || f.ID != want {
			t.Fatalf("fast client message %d: %d (ok %v), want %d", i, f.ID, ok, want)
		}
	}
	if st := h.Broker.Stats(); st.Live != 1 || st.Streams != 1 || st.Dropped != 1 {
		t.Errorf("stats %+v, want the fast client alone", st)
	}
}

// TestOverrunCutsClientsOff: when the projector gets so far ahead that the
// queue to the fan-out overflows, Publish still returns at once, and the
// clients are cut off to resume from the read model.
func TestOverrunCutsClientsOff(t *testing.T) {
	h := newHarness(t, feed.Config{}, nil)
	seqs := h.appendEvents(t, event("before", "talks"))
	s, _ := openSSE(t, h.URL, "", "")
	defer s.close()
	waitFor(t, func() bool { return h.Broker.Stats().Live == 1 })
	huge := make([]*projections.Development, 150_000)
	for i := range huge {
		huge[i] = &projections.Development{Seq: uint64(1_000_000 + i), Type: "talks"}
	}
	start := time.Now()
	h.Broker.Publish(0, huge)
	if d := time.Since(start); d > time.Second {
		t.Errorf("Publish took %v", d)
	}
	if _, ok := s.next(t, 5*time.Second); ok {
		t.Fatal("client got a message of the overrun")
	}
	// No message is also what a client left waiting would see: it must
	// be gone.
	waitFor(t, func() bool { return h.Broker.Stats().Live == 0 })
	again, code := openSSE(t, h.URL, "", "0")
	if code != 200 {
		t.Fatal(code)
	}
	defer again.close()
	if f, ok := again.next(t, 5*time.Second); !ok || f.ID != seqs[0] {
		t.Errorf("resumed: %+v %v", f, ok)
	}
}

// TestShutdownEndsStreams: the HTTP server's Shutdown does not wait for
// the streams, which never end on their own; new ones are refused.
func TestShutdownEndsStreams(t *testing.T) {
	h := newHarness(t, feed.Config{}, nil)
	var wg sync.WaitGroup
	for range 5 {
		s, code := openSSE(t, h.URL, "", "")
		if code != 200 {
			t.Fatal(code)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range s.frames {
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := h.Server.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with open streams: %v after %v", err, time.Since(start))
	}
	wg.Wait()
	if st := h.Broker.Stats(); st.Streams != 0 {
		t.Errorf("stats after shutdown: %+v", st)
	}
}

// TestShutdownEndsStreamsCleanly: a stream the server's shutdown ends
// ends as a response does (the last chunk written), not cut off.
func TestShutdownEndsStreamsCleanly(t *testing.T) {
	h := newHarness(t, feed.Config{}, nil)
	s, code := openSSE(t, h.URL, "", "")
	if code != 200 {
		t.Fatal(code)
	}
	defer s.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Server.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("the stream ended with %v, not a clean end", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end")
	}
}

// TestClosedBrokerAsksToReconnect: a feed shutting down answers a new
// stream with an empty one that asks to be reopened in 5 s, not a 503,
// on which a browser's EventSource would give up for good.
func TestClosedBrokerAsksToReconnect(t *testing.T) {
	h := newHarness(t, feed.Config{}, nil)
	h.Broker.Close()
	resp, err := http.Get(h.URL + "/v1/feed")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	checkRetryStream(t, resp.StatusCode, resp.Header, body, "feed closed")
}

// checkRetryStream checks an answer of httpapi.RetryStream: 200, an event
// stream that asks to be reopened in 5 to 10 s (as Retry-After says too)
// and carries why in an event of its own.
func checkRetryStream(t *testing.T, code int, hdr http.Header, body []byte, why string) {
	t.Helper()
	var ms int64
	var ev struct {
		Error   string `json:"error"`
		RetryMS int64  `json:"retry_ms"`
	}
	_, err := fmt.Sscanf(string(body), "retry: %d\nevent: "+httpapi.UnavailableEvent+"\n", &ms)
	_, data, _ := strings.Cut(string(body), "\ndata: ")
	data, _, _ = strings.Cut(data, "\n")
	if err == nil {
		err = json.Unmarshal([]byte(data), &ev)
	}
	after, _ := strconv.ParseInt(hdr.Get("Retry-After"), 10, 64)
	if code != 200 || hdr.Get("Content-Type") != "text/event-stream" || err != nil ||
		ms < 5000 || ms >= 10000 || ev.RetryMS != ms || ev.Error != why || after != (ms+999)/1000 {
		t.Errorf("want a stream that asks to be reopened (%s), got %d %s (Retry-After %q) %q: %v", why, code, hdr.Get("Content-Type"), hdr.Get("Retry-After"), body, err)
	}
}
