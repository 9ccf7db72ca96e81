package feed_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/feed"
	"github.com/parley-news/parley/internal/natstest"
	"github.com/parley-news/parley/internal/projector"
	"github.com/parley-news/parley/internal/service"
	"github.com/parley-news/parley/internal/stream"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startService runs the whole projector process on loopback, as
// cmd/projector does.
func startService(t testing.TB, seed bool) *service.Running {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := service.Start(ctx, service.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		Seed: seed, Out: io.Discard, Logger: discard()})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	// Wait until the projector has applied the whole stream (the seed).
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := stream.Connect(ctx, stream.Config{URL: r.NATSURL, Name: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	last, err := conn.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Projector.WaitFor(ctx, last); err != nil {
		t.Fatalf("projector not caught up with %d: %v", last, err)
	}
	return r
}

// harness wires the feed by hand around a real NATS server, a bbolt file
// and the projector, for what service.Start does not let a test set: the
// broker's Config and the HTTP server's timeouts.
type harness struct {
	URL    string
	Broker *feed.Broker
	Conn   *stream.Conn
	Proj   *projector.Projector
	Server *http.Server
}

func newHarness(t testing.TB, cfg feed.Config, srv *http.Server) *harness {
	t.Helper()
	conn := natstest.Conn(t, natstest.Server(t))
	store, err := bolt.Open(t.TempDir()+"/parley.db", bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = discard()
	}
	b, err := feed.New(store, data.Vocabulary(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Small batches, so that a test's small Buffer holds a whole one.
	p := projector.New(conn, store, projector.Config{Logger: discard(), OnApply: b.Publish, BatchMax: 4})
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()
	mux := http.NewServeMux()
	b.Register(mux)
	if srv == nil {
		srv = &http.Server{}
	}
	srv.Handler = mux
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		srv.Shutdown(sctx)
		scancel()
		cancel()
		<-runErr
		b.Close()
		store.Close()
	})
	return &harness{URL: "http://" + ln.Addr().String(), Broker: b, Conn: conn, Proj: p, Server: srv}
}

// appendEvents appends events to the stream and waits until they are
// applied; it returns their sequences.
func (h *harness) appendEvents(t testing.TB, evs ...events.Event) []uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var seqs []uint64
	for _, r := range h.Conn.Append(ctx, evs, "test") {
		if r.Status != stream.Appended {
			t.Fatalf("append %s: %s %v", r.ID, r.Status, r.Err)
		}
		seqs = append(seqs, r.Seq)
	}
	if err := h.Proj.WaitFor(ctx, seqs[len(seqs)-1]); err != nil {
		t.Fatal(err)
	}
	return seqs
}

// eventClock gives each test event a minute of its own: many claims at
// one moment on one pair are a worst case of the projection, not of the
// feeds.
var eventClock atomic.Int64

// event makes a valid event. Parties and issues come from positions.
func event(id, typ string, positions ...events.Position) events.Event {
	at := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(eventClock.Add(1)) * time.Minute)
	return events.Event{ID: id, Type: typ, OccurredAt: events.MustTime(at.Format("2006-01-02T15:04Z")), Title: "Event " + id,
		Summary: "What happened in " + id + ".", Sources: []events.Source{{Outlet: "AP", URL: "https://apnews.com/" + id}}, Positions: positions}
}

func pos(party, issue, stance string) events.Position {
	return events.Position{Party: party, Issue: issue, Stance: stance}
}

// postEvents appends events through POST /v1/events and returns their
// sequences.
func postEvents(t testing.TB, base string, evs ...events.Event) []uint64 {
	t.Helper()
	var body bytes.Buffer
	for _, e := range evs {
		json.NewEncoder(&body).Encode(e)
	}
	resp, err := http.Post(base+"/v1/events", "application/x-ndjson", &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans struct {
		Results []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Seq    uint64 `json:"seq"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /v1/events: %d %v %+v", resp.StatusCode, err, ans)
	}
	var seqs []uint64
	for _, r := range ans.Results {
		seqs = append(seqs, r.Seq)
	}
	return seqs
}

// waitApplied waits until the service's projector has applied seq.
func waitApplied(t testing.TB, r *service.Running, seq uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Projector.WaitFor(ctx, seq); err != nil {
		t.Fatalf("seq %d not applied: %v", seq, err)
	}
}

// frame is one SSE message as a client reads it.
type frame struct {
	ID    uint64
	Event string
	Data  feed.Message
	Raw   string
}

// sseClient reads one SSE stream.
type sseClient struct {
	resp     *http.Response
	frames   chan frame
	comments chan string
	done     chan error // the read's end: nil for a clean EOF
	// lastID is what EventSource would send as Last-Event-ID: the last
	// id of a finished block, with data or without (0: none yet).
	lastID atomic.Uint64
}

// openSSE opens GET /v1/feed with query and, when lastID is not "", the
// Last-Event-ID header.
func openSSE(t testing.TB, base, query, lastID string) (*sseClient, int) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/feed"+query, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("GET /v1/feed%s: %v", query, err) // not Fatal: clients run in goroutines
		return nil, 0
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		return nil, resp.StatusCode
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("Content-Type %q", ct)
	}
	c := &sseClient{resp: resp, frames: make(chan frame, 100000), comments: make(chan string, 1000), done: make(chan error, 1)}
	go c.read(t)
	return c, 200
}

func (c *sseClient) read(t testing.TB) {
	br := bufio.NewReaderSize(c.resp.Body, 64<<10)
	var f frame
	var data []byte
	var id string // the id field of the block being read, if any
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			c.done <- err
			close(c.frames)
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if id != "" {
				n, _ := strconv.ParseUint(id, 10, 64)
				c.lastID.Store(n)
			}
			id = ""
			if data != nil {
				if err := json.Unmarshal(data, &f.Data); err != nil {
					t.Errorf("data of message %d: %v", f.ID, err)
				}
				f.Raw = string(data)
				c.frames <- f
			}
			f, data = frame{}, nil
		case strings.HasPrefix(line, ":"):
			select {
			case c.comments <- line:
			default:
			}
		case strings.HasPrefix(line, "id: "):
			id = line[4:]
			f.ID, _ = strconv.ParseUint(id, 10, 64)
		case strings.HasPrefix(line, "event: "):
			f.Event = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = []byte(line[6:])
		}
	}
}

// next waits for the next message.
func (c *sseClient) next(t testing.TB, within time.Duration) (frame, bool) {
	t.Helper()
	select {
	case f, ok := <-c.frames:
		return f, ok
	case <-time.After(within):
		return frame{}, false
	}
}

func (c *sseClient) close() { c.resp.Body.Close() }

// get fetches a URL and returns its status, headers and body.
func get(t testing.TB, url string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// dialRaw opens a connection that asks for path and then reads nothing.
func dialRaw(t testing.TB, base, path string) net.Conn {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host)
	return c
}
