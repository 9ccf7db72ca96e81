package delivery_test

import (
	"errors"
	"testing"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/delivery"
	"github.com/parley-news/parley/internal/webhook"
)

// FuzzSubscriptionBody feeds arbitrary bodies to POST /v1/subscriptions'
// decoding and checks: never a panic, and a body that passes names only
// http(s) URLs the guard accepts and filters of the vocabulary.
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
		if err == nil {
			if guard.CheckURL(req.URL) != nil {
				t.Fatalf("accepted a URL the guard refuses: %q", req.URL)
			}
			if req.Filter.Validate(vocab) != nil {
				t.Fatalf("accepted a bad filter: %+v", req.Filter)
			}
		}
	})
}
