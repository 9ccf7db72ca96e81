// Package web serves Parley's page: the state matrix, the timeline, the
// replay slider and an issue's history, drawn in the browser from the read
// API and kept current by the live feed. The page is static HTML, CSS and
// JavaScript embedded in the binary: there is no build step, nothing is
// fetched from another host at run time, and every answer carries a
// Content-Security-Policy that allows only the page's own origin.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var files embed.FS

// CSP is the Content-Security-Policy of the page and its assets: scripts,
// styles, images and connections from the page's own origin only, so no
// inline script, no eval and no other host; the page may not be framed.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// asset is one embedded file, read once at start.
type asset struct {
	name  string
	body  []byte
	etag  string
	ctype string
}

// Site serves the page and its assets.
type Site struct {
	assets map[string]*asset // by path under static/
}

// New reads the embedded files. It fails only if the binary was built
// without them.
func New() (*Site, error) {
	s := &Site{assets: map[string]*asset{}}
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		name := strings.TrimPrefix(p, "static/")
		s.assets[name] = &asset{name: name, body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: ctype}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded page: %w", err)
	}
	if s.assets["index.html"] == nil {
		return nil, fmt.Errorf("embedded page: index.html missing")
	}
	return s, nil
}

// Register adds the page's routes to mux: GET / for the page and
// GET /static/ for its assets. Only "/" itself is the page, so that a
// mistyped path is a 404 and not the page again.
func (s *Site) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /static/{file...}", s.static)
}

func (s *Site) page(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, s.assets["index.html"])
}

func (s *Site) static(w http.ResponseWriter, r *http.Request) {
	a := s.assets[r.PathValue("file")]
	if a == nil || a.name == "index.html" {
		header(w.Header())
		http.NotFound(w, r)
		return
	}
	s.serve(w, r, a)
}

// serve answers with the asset, or 304 when the browser's copy is
// current. Every answer is revalidated ("no-cache" with an ETag): the
// assets are not renamed per version, and a revalidation on loopback costs
// less than a page that mixes two versions after an upgrade.
func (s *Site) serve(w http.ResponseWriter, r *http.Request, a *asset) {
	h := w.Header()
	header(h)
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}

// header sets the security headers every answer of the page carries.
func header(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}
