package httpapi

import "net/http"

// SameOrigin refuses a write (any method but GET, HEAD and OPTIONS) that
// a browser makes for a web page of another origin: cross-site request
// forgery. Without a token, any site a reader of the service has open
// could otherwise post events or subscriptions to it through the
// reader's browser (a body sent with no Content-Type is read as events,
// and a browser sends one so without asking the service first), and
// reach an instance only that reader's network can reach. Browsers say
// where a request comes from (Sec-Fetch-Site, Origin); programs (curl,
// ingest, scripts) send neither and pass, as does the service's own page.
func SameOrigin(next http.Handler) http.Handler {
	p := http.NewCrossOriginProtection()
	p.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusForbidden, Problem{Error: r.Method + " " + r.URL.Path + ": refused from a web page of another origin (cross-site request forgery); send it from a program or the service's own page"})
	}))
	return p.Handler(next)
}
