package feed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/feed"
)

var (
	testParties = []string{"us", "ua", "ru", "e3", "eu"}
	testIssues  = []string{"army-cap", "sanctions", "nato-membership", "ceasefire"}
	testTypes   = []string{"talks", "statement", "proposal", "leak"}
)

// mixedEvent is the i-th event of a reproducible mix: every seventh a
// correction of an earlier one, whose development concerns both.
func mixedEvent(prefix string, i int) events.Event {
	if i > 0 && i%7 == 0 {
		title := fmt.Sprintf("Corrected title of %s-%d", prefix, i-3)
		e := event(fmt.Sprintf("%s-%d", prefix, i), "correction")
		e.Corrects = fmt.Sprintf("%s-%d", prefix, i-3)
		e.Amend = &events.Amend{Title: &title}
		return e
	}
	return event(fmt.Sprintf("%s-%d", prefix, i), testTypes[i%len(testTypes)],
		pos(testParties[i%len(testParties)], testIssues[i%len(testIssues)], "proposes"),
		pos(testParties[(i+1)%len(testParties)], testIssues[(i/3)%len(testIssues)], "rejects"))
}

// TestSSEResumeNoGapNoDuplicate has clients with various filters drop
// their stream at random points while events are appended, and resume
// with Last-Event-ID (the header, or the parameter): each must end with
// every development of its filter exactly once, in order.
func TestSSEResumeNoGapNoDuplicate(t *testing.T) {
	r := startService(t, false)
	filters := []string{"", "?party=us", "?issue=army-cap", "?type=talks", "?party=ru&issue=sanctions", "?type=correction"}
	const batches, perBatch = 20, 12

	type result struct {
		filter string
		got    []frame
		rounds int
	}
	results := make([]result, len(filters))
	writerDone := make(chan struct{})
	var wg sync.WaitGroup
	var ready sync.WaitGroup
	for i, q := range filters {
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			res := &results[i]
			res.filter = q
			last := ""
			deadline := time.Now().Add(45 * time.Second)
			for round := 0; time.Now().Before(deadline); round++ {
				query, header := q, ""
				switch {
				case last == "" && i%2 == 1:
					// Half the clients start from the beginning rather than
					// the live tail.
					query = addParam(q, "last_event_id=0")
				case last == "":
				case round%2 == 0:
					header = last
				default:
					query = addParam(q, "last_event_id="+last)
				}
				c, code := openSSE(t, r.HTTPURL, query, header)
				if code != 200 {
					t.Errorf("%s round %d: status %d", q, round, code)
					return
				}
				if round == 0 {
					ready.Done()
				}
				res.rounds++
				finished := false
				select {
				case <-writerDone:
					finished = true
				default:
				}
				k := 1 + rng.IntN(25)
				got := 0
				for ; finished || got < k; got++ {
					f, ok := c.next(t, 700*time.Millisecond)
					if !ok {
						break
					}
					res.got = append(res.got, f)
					last = fmt.Sprint(f.ID)
				}
				c.close()
				if finished {
					return
				}
			}
			t.Errorf("%s: not done within 45s", q)
		}()
	}
	ready.Wait()
	var all []uint64
	for b := 0; b < batches; b++ {
		evs := make([]events.Event, perBatch)
		for j := range evs {
			evs[j] = mixedEvent("r", b*perBatch+j)
		}
		all = append(all, postEvents(t, r.HTTPURL, evs...)...)
		time.Sleep(time.Duration(b%4) * 5 * time.Millisecond)
	}
	waitApplied(t, r, all[len(all)-1])
	close(writerDone)
	wg.Wait()

	// The unfiltered client is checked against the sequences the appends
	// answered with; each filtered one against the unfiltered one.
	ref := results[0].got
	if ids := frameIDs(ref); !slices.Equal(ids, all) {
		t.Fatalf("unfiltered client got %d messages %v..., want the %d appended %v...", len(ids), head(ids), len(all), head(all))
	}
	for _, res := range results {
		f := filterOf(t, res.filter)
		var want []uint64
		for _, fr := range ref {
			if f.Match(fr.Data.Development) {
				want = append(want, fr.ID)
			}
		}
		if got := frameIDs(res.got); !slices.Equal(got, want) {
			t.Errorf("filter %q over %d connections: got %d messages, want %d\ngot  %v\nwant %v", res.filter, res.rounds, len(got), len(want), got, want)
		}
		if len(want) == 0 {
			t.Errorf("filter %q matches nothing: the test proves nothing", res.filter)
		}
		if res.rounds < 3 {
			t.Errorf("filter %q: %d connections, want several resumes", res.filter, res.rounds)
		}
		for _, fr := range res.got {
			d := fr.Data.Development
			switch {
			case fr.Data.Seq != fr.ID || d.Seq != fr.ID:
				t.Errorf("message %d: data seq %d, development seq %d", fr.ID, fr.Data.Seq, d.Seq)
			case fr.Event != d.Type:
				t.Errorf("message %d: event %q, development type %q", fr.ID, fr.Event, d.Type)
			case fr.Data.Event == nil || fr.Data.Event.ID != d.Event:
				t.Errorf("message %d: event data %+v for development of %s", fr.ID, fr.Data.Event, d.Event)
			case !f.Match(d):
				t.Errorf("filter %q let through %+v", res.filter, d)
			}
		}
	}
}

func addParam(q, p string) string {
	if q == "" {
		return "?" + p
	}
	return q + "&" + p
}

func filterOf(t *testing.T, q string) feed.Filter {
	v, err := url.ParseQuery(strings.TrimPrefix(q, "?"))
	if err != nil {
		t.Fatal(err)
	}
	return feed.Filter{Party: v.Get("party"), Issue: v.Get("issue"), Type: v.Get("type")}
}

func frameIDs(fs []frame) []uint64 {
	out := []uint64{}
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

func head(s []uint64) []uint64 { return s[:min(len(s), 10)] }

// TestSlowClientCutOffFastOneNot has one client that reads nothing and one
// that reads everything: the slow one is cut off once its buffer and the
// kernel's are full, the fast one gets every message, and the slow one
// resumes with Last-Event-ID and gets the rest.
func TestSlowClientCutOffFastOneNot(t *testing.T) {
	r := startService(t, false)
	host := strings.TrimPrefix(r.HTTPURL, "http://")
	// A small receive buffer, so that the kernel holds less of what the
	// slow client does not read.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	slow, err := d.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "GET /v1/feed HTTP/1.1\r\nHost: %s\r\n\r\n", host)
	fast, code := openSSE(t, r.HTTPURL, "", "")
	if code != 200 {
		t.Fatalf("fast client: %d", code)
	}
	defer fast.close()

	// About 4.5 KB a message: the loopback socket buffers (a few MB) and
	// the default buffer (2,048 messages) fill before 3,200. Should the
	// kernel hold more, the write deadline cuts the client off instead.
	summary := strings.Repeat("A long summary of what happened. ", 120)
	var all []uint64
	for b := 0; b < 8; b++ {
		evs := make([]events.Event, 400)
		for j := range evs {
			evs[j] = event(fmt.Sprintf("big-%d", b*400+j), "statement")
			evs[j].Summary = summary
		}
		all = append(all, postEvents(t, r.HTTPURL, evs...)...)
	}
	waitApplied(t, r, all[len(all)-1])
	var got []uint64
	for len(got) < len(all) {
		f, ok := fast.next(t, 15*time.Second)
		if !ok {
			t.Fatalf("fast client got %d of %d messages, then nothing for 15s", len(got), len(all))
		}
		got = append(got, f.ID)
	}
	if !slices.Equal(got, all) {
		t.Fatalf("fast client got %v..., want %v...", head(got), head(all))
	}

	// The slow client's stream ends: it holds fewer messages than were
	// sent, then the connection is closed.
	slow.SetReadDeadline(time.Now().Add(30 * time.Second))
	body, err := readAll(slow)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("slow client still connected after %d bytes", len(body))
	}
	ids := idsIn(body)
	if len(ids) == 0 || len(ids) >= len(all) {
		t.Fatalf("slow client got %d of %d messages before the end, want some but not all", len(ids), len(all))
	}
	if !slices.Equal(ids, all[:len(ids)]) {
		t.Fatalf("slow client got %v..., want a prefix of %v...", head(ids), head(all))
	}
	t.Logf("slow client cut off after %d of %d messages (%d bytes)", len(ids), len(all), len(body))
	if _, _, m := get(t, r.HTTPURL+"/metrics"); !strings.Contains(string(m), "\nparley_sse_slow_disconnects_total ") ||
		strings.Contains(string(m), "\nparley_sse_slow_disconnects_total 0\n") {
		t.Errorf("metrics do not count the slow client:\n%s", grepLines(string(m), "parley_sse"))
	}

	// It resumes where it was cut off and misses nothing.
	again, code := openSSE(t, r.HTTPURL, "", fmt.Sprint(ids[len(ids)-1]))
	if code != 200 {
		t.Fatalf("resume: %d", code)
	}
	defer again.close()
	rest := all[len(ids):]
	for i, want := range rest {
		f, ok := again.next(t, 15*time.Second)
		if !ok || f.ID != want {
			t.Fatalf("resumed message %d: got %d (ok %v), want %d", i, f.ID, ok, want)
		}
	}
}

func readAll(c net.Conn) ([]byte, error) {
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
}

// idsIn reads the ids of the complete messages in a raw (chunked) body;
// the opening's id, which has no data, is not a message.
func idsIn(body []byte) []uint64 {
	var ids []uint64
	for _, part := range strings.Split(string(body), "\nid: ")[1:] {
		var id uint64
		end := strings.Index(part, "\n\n")
		if _, err := fmt.Sscan(part, &id); err == nil && end >= 0 && strings.Contains(part[:end], "\ndata: ") {
			ids = append(ids, id)
		}
	}
	return ids
}

// TestCloseWithOpenStreams: the process shuts down promptly with streams
// open, which end cleanly.
func TestCloseWithOpenStreams(t *testing.T) {
	r := startService(t, false)
	var clients []*sseClient
	for range 3 {
		c, code := openSSE(t, r.HTTPURL, "", "")
		if code != 200 {
			t.Fatal(code)
		}
		clients = append(clients, c)
	}
	if _, _, m := get(t, r.HTTPURL+"/metrics"); !strings.Contains(string(m), "\nparley_sse_clients 3\n") {
		t.Errorf("metrics do not count 3 streams:\n%s", grepLines(string(m), "parley_sse"))
	}
	// HEAD answers with the headers alone rather than hold a stream that
	// sends nothing.
	head, err := http.Head(r.HTTPURL + "/v1/feed")
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode != 200 || !strings.HasPrefix(head.Header.Get("Content-Type"), "text/event-stream") {
		t.Errorf("HEAD /v1/feed: %d %s", head.StatusCode, head.Header.Get("Content-Type"))
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- r.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("close: %v", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("close waits for the streams (server shutdown timeout is 10s)")
	}
	for _, c := range clients {
		select {
		case <-c.done: // a stream cut at shutdown may end without its last chunk
		case <-time.After(2 * time.Second):
			t.Error("a stream is still open after close")
		}
	}
	t.Logf("closed in %v", time.Since(start))
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestSSERefusesAnIDPastTheStream: an id past the stream's last message
// was never sent by any replica, and the client is told so instead of
// waiting in silence; the last id itself resumes.
func TestSSERefusesAnIDPastTheStream(t *testing.T) {
	r := startService(t, true)
	last := strconv.FormatUint(r.Projector.Applied(), 10)
	for _, c := range []struct {
		query, header, param string
		status               int
	}{
		{"?last_event_id=99999999", "", "last_event_id", 400},
		{"", "99999999", "Last-Event-ID", 400},
		{"?last_event_id=" + last, "", "", 200},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", r.HTTPURL+"/v1/feed"+c.query, nil)
		if c.header != "" {
			req.Header.Set("Last-Event-ID", c.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		var p struct{ Param string }
		if c.status != 200 {
			json.NewDecoder(resp.Body).Decode(&p)
		}
		resp.Body.Close()
		cancel()
		if resp.StatusCode != c.status || p.Param != c.param {
			t.Errorf("%s %s: %d on %q, want %d on %q", c.query, c.header, resp.StatusCode, p.Param, c.status, c.param)
		}
	}
}

// TestSSEResumeWithoutADevelopmentSeen: a client that opened the stream
// without an id and was cut off before any development came (a quiet
// hour, then a proxy or a replica restarting) resumes from where its
// stream began, not from the live tail: the stream's opening gives it an
// id, so what was recorded while it was away still reaches it.
func TestSSEResumeWithoutADevelopmentSeen(t *testing.T) {
	r := startService(t, true)
	// The projector's checkpoint moves a moment before the feed is told
	// of the batch: a stream opened in that moment starts before it.
	var start uint64
	for try := 0; try < 20 && start != r.Projector.Applied(); try++ {
		c, code := openSSE(t, r.HTTPURL, "", "")
		if code != 200 {
			t.Fatalf("open: %d", code)
		}
		for deadline := time.Now().Add(2 * time.Second); c.lastID.Load() == 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		c.close()
		if start = c.lastID.Load(); start == 0 {
			break // no id at all
		}
	}
	if start != r.Projector.Applied() {
		t.Fatalf("the stream opened with id %d, want the checkpoint %d: a client cut off before its first development has nothing to resume from", start, r.Projector.Applied())
	}
	missed := postEvents(t, r.HTTPURL, event("while-away-1", "talks", pos("us", "army-cap", "proposes")), event("while-away-2", "statement"))
	waitApplied(t, r, missed[len(missed)-1])

	again, code := openSSE(t, r.HTTPURL, "", strconv.FormatUint(start, 10))
	if code != 200 {
		t.Fatalf("resume: %d", code)
	}
	defer again.close()
	for i, want := range missed {
		f, ok := again.next(t, 5*time.Second)
		if !ok || f.ID != want {
			t.Fatalf("resumed message %d: got %d (ok %v), want %d", i, f.ID, ok, want)
		}
	}
	if f, ok := again.next(t, 300*time.Millisecond); ok {
		t.Errorf("resumed stream sent %d past what was missed", f.ID)
	}
}
