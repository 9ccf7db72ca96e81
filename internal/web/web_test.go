package web_test

import (
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-news/parley/internal/web"
)

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	site, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	site.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestServe(t *testing.T) {
	srv := newServer(t)
	for _, c := range []struct {
		path, wantType string
		wantStatus     int
	}{
		{"/", "text/html; charset=utf-8", 200},
		{"/static/app.js", "text/javascript; charset=utf-8", 200},
		{"/static/style.css", "text/css; charset=utf-8", 200},
		{"/static/icon.svg", "image/svg+xml", 200},
		{"/static/missing.js", "", 404},
		{"/static/index.html", "", 404}, // the page has one address
		{"/index.html", "", 404},
		{"/anything", "", 404},
	} {
		t.Run(c.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + c.path)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.wantStatus)
			}
			if c.wantStatus != 200 {
				return
			}
			h := resp.Header
			if got := h.Get("Content-Type"); got != c.wantType {
				t.Errorf("Content-Type %q, want %q", got, c.wantType)
			}
			if got := h.Get("Content-Security-Policy"); got != web.CSP {
				t.Errorf("Content-Security-Policy %q", got)
			}
			for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache", "X-Frame-Options": "DENY"} {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if h.Get("ETag") == "" {
				t.Error("no ETag")
			}
		})
	}
}

// TestRevalidate: a browser that has the current copy gets a 304.
func TestRevalidate(t *testing.T) {
	srv := newServer(t)
	resp, err := http.Get(srv.URL + "/static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/static/app.js", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	again, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", again.StatusCode)
	}
}

// TestCSPPolicy checks the policy itself: own origin only, no inline
// script or style, no eval.
func TestCSPPolicy(t *testing.T) {
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*", "data: 'self'; script"} {
		if strings.Contains(web.CSP, bad) {
			t.Errorf("CSP contains %q: %s", bad, web.CSP)
		}
	}
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(web.CSP, want) {
			t.Errorf("CSP lacks %q", want)
		}
	}
}

// TestStaticRules reads the page's files for what the policy and the
// issue forbid, so that a slip fails here with a line number rather than
// as a blank page: no inline script or style, no HTML built from strings,
// no eval, nothing from another host.
func TestStaticRules(t *testing.T) {
	rules := []struct {
		files string
		re    *regexp.Regexp
		why   string
		allow *regexp.Regexp // what the rule lets pass, when the pattern is too broad
	}{
		{".js", regexp.MustCompile(`\.(inner|outer)HTML\b|insertAdjacentHTML|document\.write`), "builds HTML from strings: use el() and textContent", nil},
		{".js", regexp.MustCompile(`\beval\s*\(|new\s+Function\s*\(|setTimeout\(\s*['"\x60]|setInterval\(\s*['"\x60]`), "evaluates a string (the CSP forbids it)", nil},
		{".js", regexp.MustCompile(`setAttribute\(\s*['"]style['"]`), "sets a style attribute (the CSP forbids it): set el.style.x", nil},
		{".js", regexp.MustCompile(`['"\x60]https?://`), "names another host", regexp.MustCompile(`'http://www\.w3\.org/2000/svg'`)},
		{".css", regexp.MustCompile(`url\(\s*['"]?https?:|@import`), "loads from another host", nil},
		{".html", regexp.MustCompile(`<script(?:\s[^>]*)?>[^<\s]|\son[a-z]+\s*=|\sstyle\s*=|<style|(?:src|href)\s*=\s*["']?(?:https?:)?//`), "inline script, handler or style, or another host", nil},
	}
	root := "static"
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, r := range rules {
				if strings.HasSuffix(p, r.files) && r.re.MatchString(line) && (r.allow == nil || !r.allow.MatchString(line)) {
					t.Errorf("%s:%d %s: %s", p, i+1, r.why, strings.TrimSpace(line))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestContrast reads colours from the style sheet and checks them
// against what they are drawn on: 4.5:1 for text, 3:1 for what shows a
// control's bounds or state (WCAG 2.2, 1.4.3 and 1.4.11).
func TestContrast(t *testing.T) {
	b, err := os.ReadFile("static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	css := regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(string(b), "")
	for _, c := range []struct {
		selector, property, on string
		min                    float64
	}{
		{".muted", "color", "#ffffff", 4.5},
		{".muted", "color", "#f8fafc", 4.5}, // the replay panel
		{".error", "color", "#fee2e2", 4.5},
		{":focus-visible", "outline", "#ffffff", 3},
		{":focus-visible", "outline", "#f8fafc", 3},
		{"select", "border", "#ffffff", 3},
		{`input[type="range"]::-webkit-slider-runnable-track`, "background", "#f8fafc", 3},
		{`input[type="range"]::-moz-range-track`, "background", "#f8fafc", 3},
	} {
		t.Run(c.selector+" "+c.property+" on "+c.on, func(t *testing.T) {
			fg := cssColour(t, css, c.selector, c.property)
			if got := contrast(fg, c.on); got < c.min {
				t.Errorf("%s on %s: %.2f:1, want at least %.1f:1", fg, c.on, got, c.min)
			}
		})
	}
}

// cssColour is the first #rrggbb colour of property in the rule whose
// selector list names selector, or of the :root variable it names.
func cssColour(t *testing.T, css, selector, property string) string {
	t.Helper()
	rule := regexp.MustCompile(`(?s)([^{}]+)\{([^{}]*)\}`)
	decl := regexp.MustCompile(`(?:^|[;\s])` + regexp.QuoteMeta(property) + `\s*:\s*([^;]*)`)
	hex := regexp.MustCompile(`#[0-9a-fA-F]{6}\b`)
	for _, m := range rule.FindAllStringSubmatch(css, -1) {
		for _, sel := range strings.Split(m[1], ",") {
			if strings.TrimSpace(sel) != selector {
				continue
			}
			if d := decl.FindStringSubmatch(m[2]); d != nil {
				if v := regexp.MustCompile(`var\((--[\w-]+)`).FindStringSubmatch(d[1]); v != nil {
					return cssColour(t, css, ":root", v[1])
				}
				if h := hex.FindString(d[1]); h != "" {
					return h
				}
			}
		}
	}
	t.Fatalf("no #rrggbb %s in a rule for %s", property, selector)
	return ""
}

// contrast is the WCAG contrast ratio of two #rrggbb colours.
func contrast(a, b string) float64 {
	lum := func(h string) float64 {
		var l float64
		for i, w := range []float64{0.2126, 0.7152, 0.0722} {
			v, _ := strconv.ParseUint(h[1+2*i:3+2*i], 16, 8)
			c := float64(v) / 255
			if c <= 0.03928 {
				c /= 12.92
			} else {
				c = math.Pow((c+0.055)/1.055, 2.4)
			}
			l += w * c
		}
		return l
	}
	x, y := lum(a), lum(b)
	return (math.Max(x, y) + 0.05) / (math.Min(x, y) + 0.05)
}

func ExampleSite_Register() {
	site, err := web.New()
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	site.Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Println(rec.Header().Get("Content-Security-Policy") == web.CSP)
	// Output:
	// 200 text/html; charset=utf-8
	// true
}
