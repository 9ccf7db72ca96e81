package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a signed delivery.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every signing secret; the rest is the base64 of the
// HMAC key.
const SecretPrefix = "whsec_"

// SecretBytes is the length of the key NewSecret makes: above the 24 the
// specification asks for at least.
const SecretBytes = 32

// Errors of verification and of secrets, for callers that branch on them.
var (
	ErrBadSecret        = errors.New("webhook: secret is not whsec_ and base64 of at least 24 bytes")
	ErrNoSignature      = errors.New("webhook: no valid signature")
	ErrTimestampTooOld  = errors.New("webhook: timestamp outside the tolerance")
	ErrMissingHeaders   = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature")
	ErrBadTimestampForm = errors.New("webhook: timestamp is not integer seconds")
)

// NewSecret returns a fresh signing secret.
func NewSecret() string {
	b := make([]byte, SecretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// key decodes a secret into its HMAC key.
func key(secret string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(k) < 24 || !strings.HasPrefix(secret, SecretPrefix) {
		return nil, ErrBadSecret
	}
	return k, nil
}

// Sign returns the webhook-signature of a message: "v1," and the base64
// of HMAC-SHA256(key, id + "." + timestamp + "." + body).
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	k, err := key(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(k, id, strconv.FormatInt(ts.Unix(), 10), body)), nil
}

func mac(key []byte, id, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// DefaultTolerance is how far a timestamp may be from now for Verify.
const DefaultTolerance = 5 * time.Minute

// Verify checks a received delivery as a receiver does: the timestamp
// within tolerance of now, and one of the space-separated v1 signatures
// matching. It is what tests and Go receivers use.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}
	k, err := key(secret)
	if err != nil {
		return err
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadTimestampForm
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s", ErrTimestampTooOld, d)
	}
	want := mac(k, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		v, sig, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrNoSignature
}
