package httpapi_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/parley-news/parley/internal/httpapi"
)

// TestLocalHosts: a service on loopback answers requests for this
// machine's names and the public URL's host, and refuses a page of
// another site whose name was made to resolve here (DNS rebinding).
func TestLocalHosts(t *testing.T) {
	loopback := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8080}
	h := httpapi.LocalHosts(loopback, []string{httpapi.HostOf("https://live.newsroom.example/parley")}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, c := range []struct {
		host string
		code int
	}{
		{"127.0.0.1:8080", 200},
		{"127.0.0.2:8080", 200},
		{"localhost:8080", 200},
		{"LOCALHOST.:8080", 200},
		{"parley.localhost:8080", 200},
		{"[::1]:8080", 200},
		{"live.newsroom.example", 200},
		{"evil.example:8080", 403},
		{"127.0.0.1.evil.example", 403},
		{"localhost.evil.example:8080", 403},
		{"192.168.1.10:8080", 403},
		{"", 403},
	} {
		req := httptest.NewRequest("GET", "/v1/state", nil)
		req.Host = c.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != c.code {
			t.Errorf("Host %q: %d, want %d", c.host, w.Code, c.code)
		}
	}
}

// TestLocalHostsOnlyOnLoopback: a service listening beyond this machine
// (behind a proxy, in a container) serves any Host; on loopback, v4 or
// v6, it refuses another site's name.
func TestLocalHostsOnlyOnLoopback(t *testing.T) {
	for _, c := range []struct {
		addr net.Addr
		code int
	}{
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8080}, 403},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 8080}, 403},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8080}, 200},
		{&net.TCPAddr{IP: net.ParseIP("10.0.0.5"), Port: 8080}, 200},
	} {
		h := httpapi.LocalHosts(c.addr, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		req := httptest.NewRequest("GET", "/v1/state", nil)
		req.Host = "evil.example"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != c.code {
			t.Errorf("listening at %v: %d, want %d", c.addr, w.Code, c.code)
		}
	}
}
