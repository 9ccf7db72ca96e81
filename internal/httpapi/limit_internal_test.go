package httpapi

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestClientKey(t *testing.T) {
	for _, c := range []struct{ remote, want string }{
		{"192.0.2.7:51000", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:51000", "::ffff:192.0.2.7"},
		{"[2001:db8:1:2:aaaa::1]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:bbbb::9]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:443", "2001:db8:1:3::/64"},
		{"@", "@"},
	} {
		if got := clientKey(c.remote); got != c.want {
			t.Errorf("clientKey(%q) = %q, want %q", c.remote, got, c.want)
		}
	}
}

// TestFullTableDropsTheOldest: a table full of active clients makes room
// by dropping the client seen longest ago, and the others keep what they
// have spent: a flood from many addresses does not reset everyone's limit.
func TestFullTableDropsTheOldest(t *testing.T) {
	l := &limiter{rps: rate.Limit(0.001), burst: 1, clients: map[string]*client{}}
	if !l.allow("busy") || l.allow("busy") {
		t.Fatal("a burst of 1 should allow one write, then none")
	}
	l.clients["busy"].seen = time.Now().Add(-time.Second) // active, not idle
	l.clients["first"] = &client{lim: rate.NewLimiter(l.rps, l.burst), seen: time.Now().Add(-2 * time.Second)}
	for i := len(l.clients); i < maxClients; i++ {
		l.clients[fmt.Sprint(i)] = &client{lim: rate.NewLimiter(l.rps, l.burst), seen: time.Now()}
	}
	l.allow("newcomer")
	if _, ok := l.clients["first"]; ok {
		t.Error("the client seen longest ago is still there")
	}
	if len(l.clients) != maxClients {
		t.Errorf("%d clients, want %d", len(l.clients), maxClients)
	}
	if l.allow("busy") {
		t.Error("a client that spent its burst got a fresh one when the table filled")
	}
}
