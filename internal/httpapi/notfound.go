package httpapi

import (
	"net/http"
	"path"
	"strings"
)

// JSONErrors answers in JSON the 404 and 405 that net/http's mux and file
// server write as plain text (no route for the path, or not for the
// method), so that every answer of the API is JSON as documented. Answers
// the handlers write themselves pass as they are.
//
// An API path with an empty or dot segment is answered 404 here too: the
// mux would redirect it, in HTML, to the path without the segment, and
// there an id left empty (/v1/issues//history) names another endpoint,
// or none.
func JSONErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; strings.HasPrefix(p, "/v1/") && !clean(p) {
			writeJSON(w, http.StatusNotFound, Problem{Error: "no such endpoint: " + p + " (an empty or dot segment in the path: is an id missing?)"})
			return
		}
		next.ServeHTTP(&plainErrors{ResponseWriter: w, method: r.Method, path: r.URL.Path}, r)
	})
}

// clean reports a path that the mux takes as it is: no empty, "." or
// ".." segment, a trailing slash aside.
func clean(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
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
