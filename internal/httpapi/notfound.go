package httpapi

import (
	"net/http"
	"strings"
)

// JSONErrors answers in JSON the 404 and 405 that net/http's mux and file
// server write as plain text (no route for the path, or not for the
// method), so that every answer of the API is JSON as documented. Answers
// the handlers write themselves pass as they are.
func JSONErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&plainErrors{ResponseWriter: w, method: r.Method, path: r.URL.Path}, r)
	})
}

type plainErrors struct {
	http.ResponseWriter
	method, path string
	replaced     bool // the plain-text body that follows is dropped
}

func (p *plainErrors) WriteHeader(code int) {
	h := p.Header()
	if (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) && strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		p.replaced = true
		h.Del("Content-Length")
		prob := Problem{Error: "no such endpoint: " + p.path}
		if code == http.StatusMethodNotAllowed {
			prob.Error = p.method + " is not allowed on " + p.path
			if allow := h.Get("Allow"); allow != "" {
				prob.Error += " (allowed: " + allow + ")"
			}
		}
		writeJSON(p.ResponseWriter, code, prob)
		return
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p *plainErrors) Write(b []byte) (int, error) {
	if p.replaced {
		return len(b), nil
	}
	return p.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (the live
// feed flushes and sets deadlines through it).
func (p *plainErrors) Unwrap() http.ResponseWriter { return p.ResponseWriter }
