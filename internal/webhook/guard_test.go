package webhook

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeDNS answers every A question with 127.0.0.1 and every other one
// with nothing: a name that "resolves to loopback", or has been rebound to
// it, without the internet. It returns a resolver that asks it.
func fakeDNS(t *testing.T) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if ans := dnsAnswer(buf[:n]); ans != nil {
				pc.WriteTo(ans, addr)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// dnsAnswer builds the answer to one DNS question: enough of RFC 1035 for
// Go's resolver.
func dnsAnswer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	if i+5 > len(q) {
		return nil
	}
	qend := i + 5
	qtype := binary.BigEndian.Uint16(q[i+1:])
	out := append([]byte{}, q[:qend]...)
	out[2], out[3] = 0x81, 0x80 // response, recursion available, no error
	binary.BigEndian.PutUint16(out[4:], 1)
	binary.BigEndian.PutUint16(out[8:], 0)
	binary.BigEndian.PutUint16(out[10:], 0)
	if qtype != 1 {
		binary.BigEndian.PutUint16(out[6:], 0)
		return out
	}
	binary.BigEndian.PutUint16(out[6:], 1)
	return append(out, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1)
}

// counter is a listener on 127.0.0.1 that counts the connections it gets:
// the one place a hostile URL would land.
func counter(t *testing.T) (port string, accepted *atomic.Int64) {
	t.Helper()
	accepted = new(atomic.Int64)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			accepted.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	_, port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	return port, accepted
}

// TestHostileURLs sends to URLs that name loopback, private, link-local
// and metadata addresses in every spelling, with a resolver that answers
// 127.0.0.1 for any name: creation refuses the literal ones, and none
// reaches the listener even when the creation check is skipped.
func TestHostileURLs(t *testing.T) {
	port, accepted := counter(t)
	p := ":" + port
	hostile := []string{
		"http://127.0.0.1" + p + "/",
		"http://127.0.0.2" + p + "/",
		"http://127.255.255.254" + p + "/",
		"http://2130706433" + p + "/",
		"http://0177.0.0.1" + p + "/",
		"http://0x7f.0.0.1" + p + "/",
		"http://0x7f000001" + p + "/",
		"http://017700000001" + p + "/",
		"http://127.1" + p + "/",
		"http://0" + p + "/",
		"http://[::ffff:127.0.0.1]" + p + "/",
		"http://[::ffff:7f00:1]" + p + "/",
		"http://[0:0:0:0:0:ffff:127.0.0.1]" + p + "/",
		"http://[::1]" + p + "/",
		"http://[::127.0.0.1]" + p + "/",
		"http://[64:ff9b::7f00:1]" + p + "/",
		"http://[2002:7f00:1::]" + p + "/",
		"http://0.0.0.0" + p + "/",
		"http://[::]" + p + "/",
		"http://localhost" + p + "/",
		"http://LOCALHOST." + p + "/",
		"http://api.localhost" + p + "/",
		"https://10.0.0.1" + p + "/",
		"http://10.255.255.255" + p + "/",
		"http://172.16.0.1" + p + "/",
		"http://172.31.255.254" + p + "/",
		"http://192.168.1.1" + p + "/",
		"http://100.64.0.1" + p + "/",
		"http://169.254.169.254/latest/meta-data/",
		"http://169.254.0.1" + p + "/",
		"http://[fd00:ec2::254]/latest/meta-data/",
		"http://[::ffff:169.254.169.254]/",
		"http://[::ffff:a9fe:a9fe]/",
		"http://[fe80::1]" + p + "/",
		"http://[fe80::1%25lo]" + p + "/",
		"http://[fc00::1]" + p + "/",
		"http://[fd12:3456::1]" + p + "/",
		"http://224.0.0.1" + p + "/",
		"http://255.255.255.255" + p + "/",
		"http://[ff02::1]" + p + "/",
	}
	// Names that pass the creation check and are refused when dialled.
	names := []string{
		"http://receiver.example" + p + "/",    // resolves to 127.0.0.1
		"http://rebind.example." + p + "/hook", // ditto, fully qualified
		"http://metadata.google.internal" + p + "/",
	}
	notURLs := []string{
		"ftp://example.com/",
		"file:///etc/passwd",
		"gopher://127.0.0.1" + p + "/",
		"http://user:pw@example.com/",
		"//example.com/",
		"http:///path",
		"example.com",
		"http://example.com:99999/",
		"javascript:alert(1)",
		"http://" + strings.Repeat("a", MaxURLLength) + ".example/",
	}
	if n := len(hostile) + len(names) + len(notURLs); n < 30 {
		t.Fatalf("only %d hostile URLs", n)
	}
	s, err := NewSender(Config{Resolver: fakeDNS(t), ConnectTimeout: 2 * time.Second, RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	g := s.Guard()
	msg := Message{ID: "msg_1", Secret: NewSecret(), Body: []byte(`{}`)}
	ctx := context.Background()
	for _, u := range hostile {
		t.Run(u, func(t *testing.T) {
			if err := g.CheckURL(u); !errors.Is(err, ErrForbiddenAddress) {
				t.Errorf("CheckURL = %v, want ErrForbiddenAddress", err)
			}
			m := msg
			m.URL = u
			if r := s.Send(ctx, m, time.Now()); r.Outcome != Failed || r.Status != 0 {
				t.Errorf("Send = %+v, want a failure without an answer", r)
			}
			// Past the creation check: the dial itself must refuse.
			req, _ := http.NewRequest("POST", u, strings.NewReader("{}"))
			if req == nil {
				return
			}
			resp, err := s.client.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("dial check let %s through: %s", u, resp.Status)
			}
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) && numericHost(req.URL.Hostname()) {
				return // Go's resolver does not read numbers as addresses, nor ask DNS
			}
			if !errors.Is(err, ErrForbiddenAddress) {
				t.Errorf("dial error %v, want ErrForbiddenAddress", err)
			}
		})
	}
	for _, u := range names {
		t.Run(u, func(t *testing.T) {
			if err := g.CheckURL(u); err != nil {
				t.Errorf("CheckURL = %v, want nil (names are checked when dialled)", err)
			}
			m := msg
			m.URL = u
			r := s.Send(ctx, m, time.Now())
			if r.Outcome != Failed || !errors.Is(r.Err, ErrForbiddenAddress) {
				t.Errorf("Send = %+v, want refused address", r)
			}
			if !strings.Contains(r.Reason, "127.0.0.1 is loopback") {
				t.Errorf("reason %q does not say which address", r.Reason)
			}
		})
	}
	for _, u := range notURLs {
		t.Run(u, func(t *testing.T) {
			if err := g.CheckURL(u); !errors.Is(err, ErrBadURL) && !errors.Is(err, ErrForbiddenAddress) {
				t.Errorf("CheckURL = %v, want ErrBadURL", err)
			}
			m := msg
			m.URL = u
			if r := s.Send(ctx, m, time.Now()); r.Outcome != Failed {
				t.Errorf("Send = %+v, want failure", r)
			}
		})
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the listener got %d connections", n)
	}
}

// TestRedirectNotFollowed: a receiver that answers 3xx has failed, and
// the target of its redirect, private or not, is never dialled.
func TestRedirectNotFollowed(t *testing.T) {
	port, accepted := counter(t)
	for _, target := range []string{"http://127.0.0.1:" + port + "/", "http://10.0.0.1/", "http://169.254.169.254/"} {
		for _, code := range []int{301, 302, 307, 308} {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target, code)
			}))
			s, _ := NewSender(Config{AllowLoopback: true})
			r := s.Send(context.Background(), Message{ID: "msg_1", URL: srv.URL, Secret: NewSecret(), Body: []byte(`{}`)}, time.Now())
			srv.Close()
			if r.Outcome != Failed || r.Status != code || !strings.Contains(r.Reason, "redirect") {
				t.Errorf("%d to %s: %+v, want a failure", code, target, r)
			}
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("a redirect target got %d connections", n)
	}
}

func TestAllowLoopbackOnlyLoopback(t *testing.T) {
	g := Guard{AllowLoopback: true}
	for _, u := range []string{"http://127.0.0.1:8080/", "http://[::1]/", "http://localhost:1/"} {
		if err := g.CheckURL(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"http://10.0.0.1/", "http://169.254.169.254/", "http://[fd00:ec2::254]/", "http://192.168.0.1/"} {
		if err := g.CheckURL(u); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%s: %v, want refused", u, err)
		}
	}
	for _, u := range []string{"https://example.com/hook", "http://203.0.114.1:8443/x", "https://[2606:4700::1111]/"} {
		if err := (Guard{}).CheckURL(u); err != nil {
			t.Errorf("%s: %v, want accepted", u, err)
		}
	}
}

// TestSendOutcomes: 2xx delivers, 410 is gone, 3xx/4xx/5xx fail with the
// status in the reason, a large body is not read past the limit, nor
// headers past theirs (net/http's default is 10 MiB an attempt), a slow
// receiver times out, and the receiver gets the signed headers.
func TestSendOutcomes(t *testing.T) {
	secret := NewSecret()
	var verified atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, 100)
		n, _ := r.Body.Read(body)
		if Verify(secret, r.Header, body[:n], time.Now(), DefaultTolerance) == nil {
			verified.Add(1)
		}
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(204)
		case "/gone":
			w.WriteHeader(410)
		case "/bad":
			http.Error(w, "no such hook\n\x00", 404)
		case "/down":
			w.WriteHeader(503)
		case "/huge":
			w.WriteHeader(500)
			chunk := []byte(strings.Repeat("x", 1<<16))
			for i := 0; i < 256; i++ { // 16 MiB, never read whole
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case "/headers":
			for i := range 256 { // 1 MiB of headers, refused past the limit
				w.Header().Set(fmt.Sprintf("X-Pad-%d", i), strings.Repeat("x", 4<<10))
			}
			w.WriteHeader(204)
		case "/slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	s, _ := NewSender(Config{AllowLoopback: true, RequestTimeout: 300 * time.Millisecond})
	for _, c := range []struct {
		path    string
		outcome Outcome
		status  int
		reason  string
	}{
		{"/ok", Delivered, 204, ""},
		{"/gone", Gone, 410, "410"},
		{"/bad", Failed, 404, "HTTP 404 Not Found: no such hook"},
		{"/down", Failed, 503, "HTTP 503"},
		{"/huge", Failed, 500, "HTTP 500"},
		{"/headers", Failed, 0, "headers exceeded"},
		{"/slow", Failed, 0, "timeout"},
	} {
		r := s.Send(context.Background(), Message{ID: "msg_x", URL: srv.URL + c.path, Secret: secret, Body: []byte(`{"a":1}`)}, time.Now())
		if r.Outcome != c.outcome || r.Status != c.status || !strings.Contains(r.Reason, c.reason) {
			t.Errorf("%s: %+v (%v), want %v %d %q", c.path, r, r.Outcome, c.outcome, c.status, c.reason)
		}
	}
	if verified.Load() != 7 {
		t.Errorf("%d of 7 requests verified", verified.Load())
	}
	// A receiver's secret in its URL (Slack's is in the path) stays out
	// of the reason, which is logged and shown in the status.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	r := s.Send(context.Background(), Message{ID: "msg_x", URL: gone.URL + "/T0001/SECRETPATH?token=SECRETQUERY", Secret: secret, Body: []byte(`{"a":1}`)}, time.Now())
	if r.Outcome != Failed || strings.Contains(r.Reason, "SECRET") || !strings.Contains(r.Reason, "connection refused") {
		t.Errorf("reason %q shows the URL's secret, or not the refusal", r.Reason)
	}
}

func TestRedactURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://hooks.slack.com/services/T0/B0/XXXX", "https://hooks.slack.com/…"},
		{"https://example.com/hook?token=abc", "https://example.com/…"},
		{"https://example.com", "https://example.com"},
		{"https://example.com/", "https://example.com"},
		{"https://user:pass@example.com:8443/x", "https://example.com:8443/…"},
		{"not a url", "(a URL)"},
	} {
		if got := RedactURL(c.in); got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
