package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// CORS lets web pages of the given origins read the read API and the
// feeds (GET and HEAD under /v1/, the subscriptions aside): a live blog
// or a newsroom dashboard on a site of its own follows /v1/feed with
// EventSource and reads /v1/state with fetch, which a browser allows
// only when the answer says the page's origin may read it. "*" lets any
// page read; no origin (the default) lets none, as before: a service
// reachable only inside a newsroom's network would otherwise be readable
// by any site its readers have open. Writes are never opened to other
// origins (see SameOrigin). A preflight (OPTIONS) for a read is answered
// here, allowing Authorization (private reads) and Last-Event-ID (a
// stream resumed).
func CORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	any := slices.Contains(origins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") || strings.HasPrefix(r.URL.Path, "/v1/subscriptions") {
			next.ServeHTTP(w, r)
			return
		}
		// Said of an answer without an Origin too, since it lacks what one
		// with gets: a cache in front (the vocabulary and the feeds may be
		// kept a minute) would otherwise hand a page the answer a program
		// got, which its browser refuses to let it read.
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		allowed := any || slices.Contains(origins, origin)
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			if m := r.Header.Get("Access-Control-Request-Method"); allowed && (m == http.MethodGet || m == http.MethodHead) {
				allowOrigin(h, any, origin)
				h.Set("Access-Control-Allow-Methods", "GET, HEAD")
				h.Set("Access-Control-Allow-Headers", "Authorization, Last-Event-ID, Cache-Control")
				h.Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allowed && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			allowOrigin(h, any, origin)
			h.Set("Access-Control-Expose-Headers", "ETag, Retry-After")
		}
		next.ServeHTTP(w, r)
	})
}

func allowOrigin(h http.Header, any bool, origin string) {
	if any {
		h.Set("Access-Control-Allow-Origin", "*")
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
}

// CheckOrigins reports an entry of a CORS list that is neither "*" nor
// an origin (scheme://host[:port], nothing after it), which would never
// match what a browser sends.
func CheckOrigins(origins []string) error {
	for _, o := range origins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("origin %q: want * or scheme://host[:port], such as https://live.newsroom.example", o)
		}
	}
	return nil
}
