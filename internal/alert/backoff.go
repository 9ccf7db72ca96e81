package alert

import (
	"errors"
	"math"
	"time"
)

// Backoff is the wait between attempts to deliver one alert: exponential,
// capped, with jitter so that the receivers of many subscriptions that
// failed together are not retried together. The zero value means the
// defaults.
type Backoff struct {
	// Initial is the wait after the first failure; 0 means 5 s.
	Initial time.Duration
	// Max caps the wait; 0 means 1 h.
	Max time.Duration
	// Multiplier grows the wait after each failure; 0 means 2.
	Multiplier float64
	// Jitter spreads each wait by ± this fraction; 0 means 0.2, a
	// negative value none.
	Jitter float64
}

// Defaults of Backoff.
const (
	DefaultBackoffInitial    = 5 * time.Second
	DefaultBackoffMax        = time.Hour
	DefaultBackoffMultiplier = 2
	DefaultBackoffJitter     = 0.2
)

// WithDefaults returns b with its zero fields set to the defaults.
func (b Backoff) WithDefaults() Backoff {
	if b.Initial == 0 {
		b.Initial = DefaultBackoffInitial
	}
	if b.Max == 0 {
		b.Max = DefaultBackoffMax
	}
	if b.Multiplier == 0 {
		b.Multiplier = DefaultBackoffMultiplier
	}
	if b.Jitter == 0 {
		b.Jitter = DefaultBackoffJitter
	}
	if b.Jitter < 0 {
		b.Jitter = 0
	}
	return b
}

// Validate reports a backoff that cannot work.
func (b Backoff) Validate() error {
	switch {
	case b.Initial < 0 || b.Max < 0:
		return errors.New("backoff: negative wait")
	case b.Max != 0 && b.Initial > b.Max:
		return errors.New("backoff: initial wait above the maximum")
	case b.Multiplier != 0 && b.Multiplier < 1:
		return errors.New("backoff: multiplier below 1")
	case b.Jitter >= 1:
		return errors.New("backoff: jitter of 1 or more")
	}
	return nil
}

// Wait is the wait after the failed attempt number attempt (1 for the
// first). rnd returns a number in [0, 1); it is a parameter so that tests
// can fix it.
func (b Backoff) Wait(attempt uint64, rnd func() float64) time.Duration {
	b = b.WithDefaults()
	if attempt < 1 {
		attempt = 1
	}
	w := float64(b.Initial) * math.Pow(b.Multiplier, float64(attempt-1))
	if w > float64(b.Max) || math.IsInf(w, 0) || math.IsNaN(w) {
		w = float64(b.Max)
	}
	w *= 1 + b.Jitter*(2*rnd()-1)
	if w < 1 {
		w = 1
	}
	return time.Duration(w)
}
