package delivery_test

import (
	"errors"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/delivery"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/webhook"
)

// FuzzSubscriptionBody feeds arbitrary bodies to POST /v1/subscriptions'
// decoding and checks: never a panic, and a body that passes names only
// plain http(s) URLs, none to an address on this machine or a private
// network, and filters of the vocabulary.
func FuzzSubscriptionBody(f *testing.F) {
	for _, s := range []string{
		`{"url":"https://hooks.example.com/parley","filter":{"parties":["us"],"issues":["army-cap"],"types":["talks"],"changes":["position_change"]},"description":"desk"}`,
		`{"url":"http://127.0.0.1:9/x"}`,
		`{"url":"http://[::ffff:10.0.0.1]/"}`,
		`{"url":"https://example.com","filter":{"changes":["nonsense"]}}`,
		`{"url":"https://example.com","extra":1}`,
		`{"url":"javascript:alert(1)"}`,
		`{}`, `[]`, `{"url":`,
	} {
		f.Add([]byte(s))
	}
	guard := webhook.Guard{}
	vocab := data.Vocabulary()
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := delivery.DecodeRequest(body)
		if err != nil {
			return
		}
		err = req.Validate(guard, vocab)
		var fe *alert.FieldError
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("validation error without a field: %v", err)
		}
		if err != nil {
			return
		}
		// What Validate promises, checked without it.
		u, perr := url.Parse(req.URL)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
			t.Fatalf("accepted a URL that is not a plain http(s) address: %q", req.URL)
		}
		if a, err := netip.ParseAddr(u.Hostname()); err == nil {
			if a = a.Unmap(); a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsMulticast() {
				t.Fatalf("accepted an address on this machine or its network: %q", req.URL)
			}
		}
		for _, terms := range []struct {
			ids    []string
			lookUp func(string) *events.Term
		}{{req.Filter.Parties, vocab.Party}, {req.Filter.Issues, vocab.Issue}, {req.Filter.Types, vocab.Type}} {
			for _, id := range terms.ids {
				if terms.lookUp(id) == nil {
					t.Fatalf("accepted %q, not in the vocabulary: %+v", id, req.Filter)
				}
			}
		}
		for _, c := range req.Filter.Changes {
			if !slices.Contains(projections.Kinds, c) {
				t.Fatalf("accepted change %q: %+v", c, req.Filter)
			}
		}
	})
}

// TestDecodeRequestIsStrict reads a subscription request as events are
// read: a key given twice or spelled otherwise than documented is an
// error naming it, not the last value or a case-folded match.
func TestDecodeRequestIsStrict(t *testing.T) {
	for body, field := range map[string]string{
		`{"url":"https://a.example/","url":"https://b.example/"}`:  "url",
		`{"url":"https://a.example/","filter":{"Issues":["x"]}}`:   "filter.Issues",
		`{"url":"https://a.example/","filter":{"issues":[["x"]]}}`: "",
		`[{"url":"https://a.example/"}]`:                           "body",
	} {
		_, err := delivery.DecodeRequest([]byte(body))
		var fe *alert.FieldError
		if field == "" {
			if err == nil {
				t.Errorf("%s: accepted", body)
			}
			continue
		}
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v, want an error on %s", body, err, field)
		}
	}
	if _, err := delivery.DecodeRequest([]byte(`{"url":"https://a.example/","filter":{"issues":["army-cap"]}}`)); err != nil {
		t.Errorf("a good request: %v", err)
	}
}

// TestDecodeRequestNamesTheField: a body that does not decode is refused
// with the field at fault, the whole body when it is no field's.
func TestDecodeRequestNamesTheField(t *testing.T) {
	for _, c := range []struct{ body, field, reason string }{
		{"", "body", "empty"},
		{" \n", "body", "empty"},
		{`{"url":"https://example.com/","filter":{"parties":"ru"}}`, "filter.parties", "want a list"},
		{`{"url":5}`, "url", "want a string"},
		{`{"url":"https://example.com/"`, "body", ""},
		{`{"url":"https://example.com/"} {"url":"https://example.org/"}`, "body", "more than one JSON value"},
	} {
		_, err := delivery.DecodeRequest([]byte(c.body))
		var fe *alert.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(fe.Reason, c.reason) {
			t.Errorf("%q: %v, want a field error on %s saying %q", c.body, err, c.field, c.reason)
		}
	}
}
