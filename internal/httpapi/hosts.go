package httpapi

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// LocalHosts serves only requests whose Host names this machine
// (localhost or a name under it, an address of 127.0.0.0/8, ::1) or one
// of hosts, and refuses the others with 403, when the service listens at
// addr on loopback only, as the default does on a reporter's laptop:
// a web page of another site whose name is made to resolve to 127.0.0.1
// (DNS rebinding) is same-origin to the browser, so that neither the
// browser's rules nor SameOrigin stop it from reading and, without a
// token, writing the record. Its requests carry its own name as Host.
// Listening elsewhere (behind a proxy, in a container), it serves any
// Host.
func LocalHosts(addr net.Addr, hosts []string, next http.Handler) http.Handler {
	if a, ok := addr.(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !localHost(r.Host, hosts) {
			writeJSON(w, http.StatusForbidden, Problem{Error: "Host " + r.Host + " is not this service's: it listens on this machine only, for localhost or 127.0.0.1 (behind a proxy, give its address with -public-url)"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func localHost(hostport string, hosts []string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true // browsers resolve these to loopback themselves
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, h := range hosts {
		if strings.EqualFold(host, h) {
			return true
		}
	}
	return false
}

// HostOf is the host of a URL such as -public-url's, or "".
func HostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
