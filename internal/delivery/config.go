package delivery

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/webhook"
)

// Names on NATS.
const (
	// KVBucket holds the subscriptions (sub.<id>), their delivery status
	// (status.<id>) and the last development published for each (pos.<id>).
	KVBucket = "PARLEY_ALERTS"
	// DeliveriesStream queues alerts, one subject per subscription, each
	// message removed once its consumer acknowledges it.
	DeliveriesStream = "PARLEY_DELIVERIES"
	DeliveriesPrefix = "parley.deliveries."
	// DeadStream keeps the alerts that could not be delivered.
	DeadStream = "PARLEY_DEAD_DELIVERIES"
	DeadPrefix = "parley.deaddeliveries."
)

// Buckets of the read model file that this package keeps. They are not
// projected from the stream: a rebuild carries them over.
const (
	BucketSubscriptions = "alert_subscriptions" // id -> Subscription, with its secret
	BucketStatus        = "alert_status"        // id -> Status
	BucketScanned       = "alert_scanned"       // id -> last stream sequence matched (8 bytes)
)

// Buckets lists the buckets the store must create.
var Buckets = []string{BucketSubscriptions, BucketStatus, BucketScanned}

// Config configures the alerts. The zero value, with a Logger, is the
// production default.
type Config struct {
	// Sender configures the HTTP attempts (timeouts, the loopback switch).
	Sender webhook.Config
	// Backoff is the wait between attempts of one alert.
	Backoff alert.Backoff
	// Horizon is how long an alert is retried, from when it was queued,
	// before it goes to the dead list; 0 means 24 h.
	Horizon time.Duration
	// AckWait is how long a replica may hold an alert before JetStream
	// gives it to another; 0 means the request timeout plus 5 s.
	AckWait time.Duration
	// DuplicateWindow of PARLEY_DELIVERIES; 0 means 10 min.
	DuplicateWindow time.Duration
	// DeadMaxAge is how long the dead list keeps an alert; 0 means 30 days.
	DeadMaxAge time.Duration
	// Replicas of the KV bucket and streams; 0 means 3 when the server is
	// clustered and 1 when it is alone.
	Replicas int
	// MaxSubscriptions bounds the subscriptions; 0 means 1,000.
	MaxSubscriptions int
	// SecretOverlap is how long a rotated-out secret signs deliveries
	// beside the new one; 0 means 24 h.
	SecretOverlap time.Duration
	// BacklogEvery is how often the alerts queued per subscription are
	// counted for /metrics; 0 means 5 s.
	BacklogEvery time.Duration
	// Vocabulary checks filters; nil accepts any party, issue or type.
	Vocabulary *events.Vocabulary
	// Token guards the write endpoints; "" leaves them open.
	Token string
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Defaults of Config.
const (
	DefaultHorizon          = 24 * time.Hour
	DefaultDuplicateWindow  = 10 * time.Minute
	DefaultDeadMaxAge       = 30 * 24 * time.Hour
	DefaultMaxSubscriptions = 1000
	DefaultSecretOverlap    = 24 * time.Hour
	DefaultBacklogEvery     = 5 * time.Second
)

// ErrTooMany is returned when MaxSubscriptions are in place.
var ErrTooMany = errors.New("too many subscriptions: delete one first")

func (c *Config) setDefaults() {
	c.Sender = c.Sender.WithDefaults()
	c.Backoff = c.Backoff.WithDefaults()
	if c.Horizon == 0 {
		c.Horizon = DefaultHorizon
	}
	if c.AckWait == 0 {
		c.AckWait = c.Sender.RequestTimeout + 5*time.Second
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.DeadMaxAge == 0 {
		c.DeadMaxAge = DefaultDeadMaxAge
	}
	if c.MaxSubscriptions == 0 {
		c.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if c.SecretOverlap == 0 {
		c.SecretOverlap = DefaultSecretOverlap
	}
	if c.BacklogEvery <= 0 {
		c.BacklogEvery = DefaultBacklogEvery
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if err := c.Sender.Validate(); err != nil {
		return err
	}
	if err := c.Backoff.Validate(); err != nil {
		return err
	}
	switch {
	case c.Horizon < 0 || c.AckWait < 0 || c.DuplicateWindow < 0 || c.DeadMaxAge < 0 || c.SecretOverlap < 0:
		return errors.New("alerts: negative duration")
	case c.MaxSubscriptions < 0:
		return errors.New("alerts: negative MaxSubscriptions")
	case c.Replicas < 0 || c.Replicas > 5:
		return fmt.Errorf("alerts: replicas %d out of range 0-5", c.Replicas)
	case c.AckWait != 0 && c.Sender.RequestTimeout != 0 && c.AckWait <= c.Sender.RequestTimeout:
		return errors.New("alerts: ack wait must exceed the request timeout, or a slow attempt is handed to a second replica")
	}
	return nil
}
