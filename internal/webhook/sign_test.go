package webhook_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/webhook"
)

// The example of the Standard Webhooks specification and its reference
// libraries: the same secret, id, timestamp and body give this signature.
func TestSignSpecExample(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	body := []byte(`{"test": 2432232314}`)
	ts := time.Unix(1614265330, 0)
	got, err := webhook.Sign(secret, id, ts, body)
	if err != nil || got != want {
		t.Fatalf("Sign = %q, %v; want %q", got, err, want)
	}
	h := http.Header{}
	h.Set(webhook.HeaderID, id)
	h.Set(webhook.HeaderTimestamp, "1614265330")
	h.Set(webhook.HeaderSignature, "v1,bm90IGl0 "+want) // a rotated key's signature first
	if err := webhook.Verify(secret, h, body, ts.Add(time.Minute), webhook.DefaultTolerance); err != nil {
		t.Errorf("Verify: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(http.Header, *[]byte, *time.Time)
		want error
	}{
		{"body changed", func(_ http.Header, b *[]byte, _ *time.Time) { *b = []byte(`{"test": 1}`) }, webhook.ErrNoSignature},
		{"id changed", func(h http.Header, _ *[]byte, _ *time.Time) { h.Set(webhook.HeaderID, "msg_other") }, webhook.ErrNoSignature},
		{"too old", func(_ http.Header, _ *[]byte, now *time.Time) { *now = now.Add(time.Hour) }, webhook.ErrTimestampTooOld},
		{"no signature", func(h http.Header, _ *[]byte, _ *time.Time) { h.Del(webhook.HeaderSignature) }, webhook.ErrMissingHeaders},
		{"v2 only", func(h http.Header, _ *[]byte, _ *time.Time) {
			h.Set(webhook.HeaderSignature, strings.Replace(want, "v1,", "v2,", 1))
		}, webhook.ErrNoSignature},
	} {
		t.Run(c.name, func(t *testing.T) {
			h2, b, now := h.Clone(), body, ts
			c.edit(h2, &b, &now)
			if err := webhook.Verify(secret, h2, b, now, webhook.DefaultTolerance); !errors.Is(err, c.want) {
				t.Errorf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	a, b := webhook.NewSecret(), webhook.NewSecret()
	if a == b || !strings.HasPrefix(a, webhook.SecretPrefix) {
		t.Fatalf("secrets %q %q", a, b)
	}
	if _, err := webhook.Sign(a, "msg", time.Now(), nil); err != nil {
		t.Fatalf("sign with new secret: %v", err)
	}
	for _, bad := range []string{"", "whsec_", "whsec_c2hvcnQ=", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!"} {
		if _, err := webhook.Sign(bad, "msg", time.Now(), nil); !errors.Is(err, webhook.ErrBadSecret) {
			t.Errorf("Sign with %q: %v, want ErrBadSecret", bad, err)
		}
	}
}

// A receiver checks a delivery with the secret it was given at
// subscription time.
func ExampleVerify() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"test": 2432232314}`)
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	err := webhook.Verify(secret, h, body, time.Unix(1614265330, 0), webhook.DefaultTolerance)
	fmt.Println(err)
	// Output: <nil>
}
