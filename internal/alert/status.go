package alert

import "time"

// Status is how delivery to a subscription's receiver is going, as of the
// last attempt on any replica.
type Status struct {
	// State is StateActive or StateDisabled.
	State string `json:"state"`
	// LastSuccessAt is the last delivery the receiver accepted (2xx).
	LastSuccessAt *time.Time `json:"last_success_at,omitempty"`
	// LastFailureAt and LastFailureReason are the last attempt that
	// failed and why ("HTTP 503", "connect: refused address 10.0.0.1").
	LastFailureAt     *time.Time `json:"last_failure_at,omitempty"`
	LastFailureReason string     `json:"last_failure_reason,omitempty"`
	// Delivered and Failed count attempts.
	Delivered uint64 `json:"delivered"`
	Failed    uint64 `json:"failed"`
	// DisabledAt and DisabledReason say when and why delivery stopped:
	// the receiver answered 410 Gone.
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
}

// The states of a subscription.
const (
	StateActive   = "active"
	StateDisabled = "disabled"
)

// Disabled reports whether delivery has stopped for good.
func (s *Status) Disabled() bool { return s != nil && s.State == StateDisabled }

// Succeeded records an accepted delivery.
func (s *Status) Succeeded(at time.Time) {
	s.LastSuccessAt = &at
	s.Delivered++
}

// Failure records a failed attempt.
func (s *Status) Failure(at time.Time, reason string) {
	s.LastFailureAt = &at
	s.LastFailureReason = reason
	s.Failed++
}

// Disable stops delivery for good.
func (s *Status) Disable(at time.Time, reason string) {
	s.State = StateDisabled
	s.DisabledAt = &at
	s.DisabledReason = reason
}
