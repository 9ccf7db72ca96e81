package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names on the wire. Each event has a subject of its own, so that "append
// only if absent" is a per-subject expectation with no time window.
const (
	DefaultStreamName = "PARLEY"
	EventsPrefix      = "parley.events."
	EventsSubjects    = EventsPrefix + ">"
	// DeadLetterSubject receives messages the projector could not decode,
	// with the reason in a header. It is a plain NATS subject: whoever
	// watches it (the nats CLI, an alert) sees them; the projector also keeps
	// them in its read model.
	DeadLetterSubject = "parley.dead.events"
)

// DefaultDuplicateWindow is short because appends do not need it: the
// per-subject expectation (and max one message a subject) already refuses
// a second copy of an id however late it comes, and a taken id is looked
// up either way to tell a duplicate from a conflict. The window's ids are
// heap the server keeps, and rebuilds on start by reading the blocks they
// are in: a projector started within a 10-minute window of a bulk ingest
// of a million events held 175 MB for it, which every collection of a
// process that embeds the server marks. The server takes no window
// shorter than 100 ms, and 0 means its default of two minutes.
const DefaultDuplicateWindow = 2 * time.Second

// publishAckTimeout is how long an append waits for its acknowledgement
// before it asks again: longer than a stream leader election takes. A
// variable for the tests.
var publishAckTimeout = 10 * time.Second

// Config configures the connection to NATS and the stream.
type Config struct {
	// URL is one or more NATS URLs separated by commas. Required.
	URL string
	// Stream is the stream's name; "" means DefaultStreamName.
	Stream string
	// Replicas of the stream; 0 means 3 when the server is clustered and 1
	// when it is alone, or more when an existing stream has more.
	Replicas int
	// DuplicateWindow of the stream; 0 means DefaultDuplicateWindow.
	DuplicateWindow time.Duration
	// CredsFile is a NATS credentials file (user JWT and nkey seed).
	CredsFile string
	// TLSCA is a CA certificate file to verify the servers with.
	TLSCA string
	// Name is the client's name in the server's connection list.
	Name string
	// Logger gets connection events; nil means slog.Default().
	Logger *slog.Logger
	// OnConnection is told when the connection goes down (false) and
	// comes back (true), and once connected; nil means nobody.
	OnConnection func(up bool)
}

func (c *Config) setDefaults() {
	if c.Stream == "" {
		c.Stream = DefaultStreamName
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.OnConnection == nil {
		c.OnConnection = func(bool) {}
	}
}

// Validate reports a configuration that cannot connect.
func (c Config) Validate() error {
	if strings.TrimSpace(c.URL) == "" {
		return errors.New("nats: URL is required")
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		return fmt.Errorf("nats: replicas %d out of range 0-5", c.Replicas)
	}
	if c.DuplicateWindow < 0 {
		return fmt.Errorf("nats: negative duplicate window %s", c.DuplicateWindow)
	}
	return nil
}

// Conn is a connection to NATS with the stream in place.
type Conn struct {
	cfg    Config
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
}

// Connect connects to NATS, reconnecting to another URL of the list when a
// server goes away, and creates or updates the stream.
func Connect(ctx context.Context, cfg Config) (*Conn, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
			cfg.OnConnection(false)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
			cfg.OnConnection(true)
		}),
		// The client's own complaints (a consumer gone quiet during an
		// outage) go to the log as everything else does, not to stderr
		// in another format.
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Warn("nats", "err", err, "subject", sub.Subject)
				return
			}
			log.Warn("nats", "err", err)
		}),
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect nats %s: %w", Redact(cfg.URL), err)
	}
	cfg.OnConnection(true)
	// A publish whose server dies before answering, on a connection that
	// stays up, would otherwise wait for its acknowledgement forever: the
	// timeout turns it into an unknown outcome, which Append retries.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncTimeout(publishAckTimeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	c := &Conn{cfg: cfg, nc: nc, js: js}
	if err := c.ensureStream(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// Redact drops user:password from NATS URLs before they are shown.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if s := strings.Index(p, "://"); s >= 0 && s < at {
				parts[i] = p[:s+3] + "***" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

// StreamConfig is the stream's configuration for a server with the given
// number of replicas: file storage, every event kept, the duplicate window,
// and atomic batches for bulk appends.
func (c *Conn) streamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        c.cfg.Stream,
		Description: "Parley: dated events of a negotiation, one CloudEvent per message",
		Subjects:    []string{EventsSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		// Nothing expires and nothing is discarded: the stream is the
		// record. Each subject holds one event.
		MaxAge:               0,
		MaxMsgsPerSubject:    1,
		Discard:              jetstream.DiscardNew,
		DiscardNewPerSubject: true,
		Duplicates:           c.cfg.DuplicateWindow,
		Replicas:             replicas,
		DenyDelete:           true,
		DenyPurge:            true,
		AllowAtomicPublish:   true,
	}
}

func (c *Conn) ensureStream(ctx context.Context) error {
	replicas := c.cfg.Replicas
	if replicas == 0 {
		replicas = 1
		// A server in a cluster names its cluster in the INFO it sends.
		if c.nc.ConnectedClusterName() != "" {
			replicas = 3
		}
	}
	// A stream that is already as wanted is left alone: a user that may
	// only read it (the projector on a secured cluster) has no permission
	// to update it, and needs none.
	have, lookErr := c.lookUpStream(ctx)
	if lookErr == nil {
		replicas = wantReplicas(c.cfg.Replicas, replicas, have.CachedInfo().Config.Replicas)
	}
	want := c.streamConfig(replicas)
	switch {
	case lookErr == nil && sameConfig(have.CachedInfo().Config, want):
		c.stream = have
		return nil
	case lookErr != nil && !errors.Is(lookErr, jetstream.ErrStreamNotFound):
		// Never created or updated on a look-up that got no answer: the
		// stream may well be there, with its leader being elected.
		return fmt.Errorf("look up stream %s: %w", c.cfg.Stream, lookErr)
	}
	if lookErr != nil { // not found
		s, err := c.js.CreateStream(ctx, want)
		if err != nil {
			// A refused create gets no answer, only a permissions error on
			// the connection, and the request then times out: the refusal
			// is the reason to tell (a projector, which may only read the
			// stream, started before any ingest created it).
			if refusal := c.refused("STREAM.CREATE." + c.cfg.Stream); refusal != nil {
				err = fmt.Errorf("%w: this user may not create it; an ingest (or an admin) does, on its first start", refusal)
			}
			return fmt.Errorf("create stream %s: %w", c.cfg.Stream, err)
		}
		c.stream = s
		return nil
	}
	// The stream is there but set otherwise. Only an operator's user may
	// change it (the services' users may not: a leaked password could set
	// limits that drop events), and a refused update gets no answer, only
	// a permissions error on the connection: the try is kept short, and
	// the stream used as it is whatever the reason, which the log tells.
	uctx, cancel := context.WithTimeout(ctx, UpdateWait)
	defer cancel()
	s, err := c.js.UpdateStream(uctx, want)
	if err != nil {
		c.cfg.Logger.Warn(c.whyNotUpdated(err), "stream", c.cfg.Stream, "err", err)
		c.stream = have
		return nil
	}
	c.stream = s
	return nil
}

// wantReplicas is the replica count of an existing stream that has
// have: the one configured, or else (auto, the count a new stream would
// get) at least auto, keeping more that an operator set (an R5 stream is
// not brought down to R3 by a service connecting with an admin's rights).
func wantReplicas(configured, auto, have int) int {
	if configured > 0 {
		return configured
	}
	return max(auto, have)
}

// whyNotUpdated says why the stream's settings were left as they differ:
// this user may not update them (the server said so on the connection),
// the server refused the change itself, or no answer came within
// UpdateWait (a server or a leader busy), which the next connect tries
// again. Each reads differently to an operator: the first wants an admin
// connect, the second a change by hand, the third nothing.
func (c *Conn) whyNotUpdated(err error) string {
	const using = "; using the stream as it is"
	// The refusal comes at once, long before UpdateWait.
	if c.refused("STREAM.UPDATE."+c.cfg.Stream) != nil {
		return "stream settings differ and this user may not update them (permission refused)" + using
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return "stream settings differ and the server refused to update them" + using
	}
	return fmt.Sprintf("stream settings differ and the update got no answer within %s%s; the next connect tries again", UpdateWait, using)
}

// refused returns the connection's last error when it is a permissions
// violation naming subject (or a subject that contains it), else nil. The
// server refuses such a publish or request on the connection (an -ERR
// naming the subject, which stays the connection's last error) and never
// answers it: the caller would otherwise wait for its timeout and tell
// that instead of the refusal.
func (c *Conn) refused(subject string) error {
	if last := c.nc.LastError(); errors.Is(last, nats.ErrPermissionViolation) && strings.Contains(last.Error(), subject) {
		return last
	}
	return nil
}

// UpdateWait bounds the try to update the stream's settings. A variable
// for the tests.
var UpdateWait = 5 * time.Second

// StartWait bounds how long Connect waits for the stream to answer its
// look-up: a cluster electing a leader, or a quorum coming back, answers
// within seconds. A variable for the tests.
var StartWait = 30 * time.Second

// lookUpStream looks the stream up, asking again while it gets no answer.
func (c *Conn) lookUpStream(ctx context.Context) (jetstream.Stream, error) {
	var s jetstream.Stream
	err := UntilAnswered(ctx, c.cfg.Logger, "look up stream "+c.cfg.Stream, func(ctx context.Context) error {
		var err error
		s, err = c.js.Stream(ctx, c.cfg.Stream)
		return err
	})
	return s, err
}

// UntilAnswered calls call, which must be safe to repeat, again while it
// gets no answer from JetStream (a stream's leader being elected, a
// quorum coming back), backing off and saying so every 5 s, for up to
// StartWait. what names the call in the notices.
func UntilAnswered(parent context.Context, log *slog.Logger, what string, call func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(parent, StartWait)
	defer cancel()
	start, told := time.Now(), time.Now()
	answered, err := askAgain(ctx, call, func(err error) bool { return err == nil || !unanswered(err) || refused(err) }, func(err error) {
		if time.Since(told) >= 5*time.Second {
			told = time.Now()
			log.Warn("waiting for JetStream to answer", "what", what, "waited", time.Since(start).Round(time.Second), "err", err)
		}
	})
	switch {
	case answered:
		return err
	case parent.Err() != nil:
		// Stopped, not given up: callers tell the two apart.
		return fmt.Errorf("%w (last error: %v)", parent.Err(), err)
	}
	return fmt.Errorf("no answer in %s (last error: %v)", time.Since(start).Round(time.Second), err)
}

// askAgain calls call, each try bounded by lookupTimeout, until what it
// returns is an answer, backing off from 50 ms to 2 s between tries and
// telling waiting (when set) of each error that is not, until ctx ends.
// It returns whether it got an answer, and the last error.
func askAgain(ctx context.Context, call func(context.Context) error, answer func(error) bool, waiting func(error)) (bool, error) {
	backoff := 50 * time.Millisecond
	for {
		tctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		err := call(tctx)
		cancel()
		if answer(err) {
			return true, err
		}
		if waiting != nil {
			waiting(err)
		}
		select {
		case <-ctx.Done():
			return false, err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// refused reports whether err is an answer that asking again would not
// change, though it is no API error: JetStream not enabled, a permission
// refused.
func refused(err error) bool {
	return errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) ||
		errors.Is(err, nats.ErrPermissionViolation) || errors.Is(err, nats.ErrAuthorization)
}

// sameConfig reports whether a stream's configuration has every setting
// that streamConfig makes; the server's defaults for the others are left
// as they are.
func sameConfig(have, want jetstream.StreamConfig) bool {
	return slices.Equal(have.Subjects, want.Subjects) && have.Description == want.Description &&
		have.Storage == want.Storage && have.Retention == want.Retention && have.MaxAge == want.MaxAge &&
		have.MaxMsgsPerSubject == want.MaxMsgsPerSubject && have.Discard == want.Discard &&
		have.DiscardNewPerSubject == want.DiscardNewPerSubject && have.Duplicates == want.Duplicates &&
		have.Replicas == want.Replicas && have.DenyDelete == want.DenyDelete && have.DenyPurge == want.DenyPurge &&
		have.AllowAtomicPublish == want.AllowAtomicPublish
}

// Close waits up to 5 s for the acknowledgements of appends in flight,
// and closes the connection. Without a connection there is nothing to
// wait for: it closes at once (a run giving up on a stream out of reach
// should not then sit for 5 s).
func (c *Conn) Close() {
	if c.nc.IsConnected() {
		select {
		case <-c.js.PublishAsyncComplete():
		case <-time.After(5 * time.Second):
		}
	}
	c.nc.Close()
}

// StreamName is the name of the stream this connection appends to.
func (c *Conn) StreamName() string { return c.cfg.Stream }

// LastSeq returns the stream's last sequence: what a caught-up projector
// has applied.
func (c *Conn) LastSeq(ctx context.Context) (uint64, error) {
	s, err := c.State(ctx)
	return s.LastSeq, err
}

// State is what a projector watches of the stream: how far it goes, and
// which stream it is.
type State struct {
	LastSeq uint64
	// ID names the stream and its creation: a stream deleted and created
	// again under the same name (or restored from another's backup) has
	// another, and its sequences number other events. A stream restored
	// from its own backup keeps its ID.
	ID string
	// LastTime is when the last message was stored, by the server's
	// clock (the time developments carry as recorded_at); zero when the
	// stream is empty.
	LastTime time.Time
}

// State returns the stream's last sequence and identity.
func (c *Conn) State(ctx context.Context) (State, error) {
	info, err := c.stream.Info(ctx)
	if err != nil {
		return State{}, fmt.Errorf("stream %s info: %w", c.cfg.Stream, err)
	}
	id := info.Config.Name + "@" + info.Created.UTC().Format(time.RFC3339Nano)
	return State{LastSeq: info.State.LastSeq, ID: id, LastTime: info.State.LastTime}, nil
}

// DeadLetter publishes to DeadLetterSubject a notice of a stored message
// the projector could not apply: its sequence, subject and the reason, in
// headers, for whoever watches. The message itself stays in the stream.
// It is best effort: the read model keeps the same record in its skipped
// bucket.
func (c *Conn) DeadLetter(seq uint64, subject, reason string) error {
	m := nats.NewMsg(DeadLetterSubject)
	m.Header.Set("Parley-Stream-Sequence", strconv.FormatUint(seq, 10))
	m.Header.Set("Parley-Subject", subject)
	m.Header.Set("Parley-Reason", reason)
	return c.nc.PublishMsg(m)
}

// NATS returns the underlying connection, for adapters that publish or
// subscribe to subjects of their own (alerts, dead letters).
func (c *Conn) NATS() *nats.Conn { return c.nc }

// Connected reports whether the connection is up now (not reconnecting,
// not closed).
func (c *Conn) Connected() bool { return c.nc.IsConnected() }

// JetStream returns the JetStream context of the connection.
func (c *Conn) JetStream() jetstream.JetStream { return c.js }
