package alert

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
	"time"
)

// Subscription is a receiver's standing request for alerts.
type Subscription struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Filter      Filter    `json:"filter"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	// After is the stream sequence the subscription was created at: it
	// hears about developments after it, never about the past.
	After uint64 `json:"after"`
	// Stream is the identity of the stream After counts in
	// (projections.StreamID), and AfterAt when the message at After was
	// recorded: a sequence names a development only in one stream and one
	// history. Both are empty for a subscription made before they were
	// kept; the endpoints do not show them.
	Stream  string    `json:"stream,omitempty"`
	AfterAt time.Time `json:"after_at,omitzero"`
	// Secret signs the deliveries. It is shown once, in the answer to the
	// creation or the rotation that made it, and kept to sign; View
	// leaves it out.
	Secret string `json:"secret,omitempty"`
	// PreviousSecret, after a rotation, signs the deliveries too until
	// PreviousUntil, so that a receiver can move to the new secret
	// without refusing an alert; View leaves it out.
	PreviousSecret string     `json:"previous_secret,omitempty"`
	PreviousUntil  *time.Time `json:"previous_until,omitempty"`
}

// View is the subscription without its secrets, as GET shows it.
func (s Subscription) View() Subscription {
	s.Secret, s.PreviousSecret = "", ""
	return s
}

// SigningSecrets are the secrets a delivery made at now is signed with:
// the secret, and the previous one while it is still in use.
func (s Subscription) SigningSecrets(now time.Time) (secret, previous string) {
	if s.PreviousSecret != "" && s.PreviousUntil != nil && now.Before(*s.PreviousUntil) {
		previous = s.PreviousSecret
	}
	return s.Secret, previous
}

// MaxDescription bounds a subscription's description.
const MaxDescription = 1000

// NewID returns a fresh subscription id: "sub_" and 20 characters of
// randomness, usable as a NATS subject token and a consumer name.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "sub_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// ValidID reports whether s has the form NewID gives, so that a path
// segment never reaches a NATS subject or a key unchecked.
func ValidID(s string) bool {
	rest, ok := strings.CutPrefix(s, "sub_")
	if !ok || len(rest) != 20 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// MetricsLabel names the subscription in metrics: a digest of its id, not
// the id, which is what lets one read the subscription (its URL, its dead
// alerts) and, without an API token, change it, where /metrics is open to
// whoever can reach the service. The subscription's status shows it.
func MetricsLabel(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "m_" + hex.EncodeToString(sum[:6])
}
