package httpapi

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit answers 429 to a client address that writes faster than rps
// requests a second (with bursts of burst): a flood of writes from one
// client does not starve the others or fill the stream. The table of
// addresses is bounded; idle entries are dropped.
func RateLimit(rps float64, burst int, next http.Handler) http.Handler {
	if rps <= 0 {
		return next
	}
	l := &limiter{rps: rate.Limit(rps), burst: burst, clients: map[string]*client{}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.allow(clientKey(r.RemoteAddr)) {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(1/rps))))
			writeJSON(w, http.StatusTooManyRequests, Problem{Error: "too many writes from this address: slow down"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clientKey is whom a request's address stands for: an IPv4 address, or
// an IPv6 address's /64, which one host or network is given whole and
// could otherwise spend an address a request from.
func clientKey(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() != nil {
		return host
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// maxClients bounds the limiter's table: past it, idle entries go first,
// and in a table full of active clients the one seen longest ago.
const maxClients = 10000

type limiter struct {
	mu      sync.Mutex
	rps     rate.Limit
	burst   int
	clients map[string]*client
}

type client struct {
	lim  *rate.Limiter
	seen time.Time
}

func (l *limiter) allow(host string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	c := l.clients[host]
	if c == nil {
		if len(l.clients) >= maxClients {
			for h, c := range l.clients {
				if now.Sub(c.seen) > time.Minute {
					delete(l.clients, h)
				}
			}
			if len(l.clients) >= maxClients {
				// Not the whole table: that would give every client,
				// the flood's too, a fresh burst.
				var oldest string
				var at time.Time
				for h, c := range l.clients {
					if oldest == "" || c.seen.Before(at) {
						oldest, at = h, c.seen
					}
				}
				delete(l.clients, oldest)
			}
		}
		c = &client{lim: rate.NewLimiter(l.rps, l.burst)}
		l.clients[host] = c
	}
	c.seen = now
	return c.lim.AllowN(now, 1)
}
