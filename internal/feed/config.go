package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"
)

// Config configures a Broker. The zero value of each field means its
// default.
type Config struct {
	// MaxClients caps the SSE streams served at once; 0 means
	// DefaultMaxClients. One more is answered 429.
	MaxClients int
	// MaxClientsPerAddr caps the SSE streams of one remote address; 0
	// means DefaultMaxClientsPerAddr.
	MaxClientsPerAddr int
	// LimitLoopback applies MaxClientsPerAddr to loopback addresses too.
	// By default they are exempt: behind a reverse proxy on the same host
	// every reader comes from 127.0.0.1, and the cap would be the site's.
	LimitLoopback bool
	// Buffer is how many developments may wait for one SSE client; 0
	// means DefaultBuffer. A client that lets more pile up is cut off. It
	// should hold a whole batch of the projector (stream.DefaultBatchMax),
	// or a burst would cut off every client.
	Buffer int
	// LastSeq, when set, returns the stream's last sequence: a client
	// resuming from an id past it was never sent that id by any replica
	// (a stream restored from an older backup, a made-up id) and is told
	// so, rather than wait for the stream to grow past it in silence.
	LastSeq func(ctx context.Context) (uint64, error)
	// KeepAlive is how long an SSE stream may stay silent before a comment
	// is sent, so that proxies do not close it; 0 means DefaultKeepAlive.
	KeepAlive time.Duration
	// WriteTimeout bounds each write to an SSE client (a deadline set per
	// write, as a server-wide write timeout would end every stream); 0
	// means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Retry is the reconnection delay the stream suggests to clients; 0
	// means DefaultRetry.
	Retry time.Duration
	// Entries is how many entries the Atom and JSON feeds hold when the
	// request does not say (limit); 0 means DefaultEntries.
	Entries int
	// Title names the Atom and JSON feeds; "" means "Parley".
	Title string
	// BaseURL is the public URL of the service, for the links of the Atom
	// and JSON feeds ("https://parley.example"); "" means the scheme and
	// Host of each request.
	BaseURL string
	// IDPrefix starts the Atom and JSON Feed ids, which readers use to
	// tell entries apart; "" means DefaultIDPrefix. Changing it makes
	// readers show every entry again.
	IDPrefix string
	// OnStreams, when set, is told the number of open SSE streams each
	// time it changes, and OnSlowClient each time a client is cut off for
	// being too slow: the hooks of a metrics gauge and counter. They are
	// called under the broker's lock and must return at once.
	OnStreams    func(n int)
	OnSlowClient func()
	// OnRefused, when set, is told each stream not admitted, and why:
	// "full" (MaxClients), "address" (MaxClientsPerAddr) or "closed".
	OnRefused func(reason string)
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultMaxClients        = 20000
	DefaultMaxClientsPerAddr = 100
	DefaultBuffer            = 2048
	DefaultKeepAlive         = 15 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultRetry             = 2 * time.Second
	DefaultEntries           = 50
	DefaultIDPrefix          = "tag:parley,2025:"
)

// MaxEntries bounds the limit parameter of the Atom and JSON feeds.
const MaxEntries = 500

func (c *Config) setDefaults() {
	if c.MaxClients == 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.MaxClientsPerAddr == 0 {
		c.MaxClientsPerAddr = DefaultMaxClientsPerAddr
	}
	if c.Buffer == 0 {
		c.Buffer = DefaultBuffer
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.Retry == 0 {
		c.Retry = DefaultRetry
	}
	if c.Entries == 0 {
		c.Entries = DefaultEntries
	}
	if c.Title == "" {
		c.Title = "Parley"
	}
	if c.IDPrefix == "" {
		c.IDPrefix = DefaultIDPrefix
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.OnStreams == nil {
		c.OnStreams = func(int) {}
	}
	if c.OnSlowClient == nil {
		c.OnSlowClient = func() {}
	}
	if c.OnRefused == nil {
		c.OnRefused = func(string) {}
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"MaxClients", int64(c.MaxClients)}, {"MaxClientsPerAddr", int64(c.MaxClientsPerAddr)},
		{"Buffer", int64(c.Buffer)}, {"KeepAlive", int64(c.KeepAlive)},
		{"WriteTimeout", int64(c.WriteTimeout)}, {"Retry", int64(c.Retry)}, {"Entries", int64(c.Entries)},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("feed: %s is negative", f.name))
		}
	}
	if c.Entries > MaxEntries {
		errs = append(errs, fmt.Errorf("feed: Entries %d is more than %d", c.Entries, MaxEntries))
	}
	if c.BaseURL != "" {
		if err := CheckBaseURL(c.BaseURL); err != nil {
			errs = append(errs, fmt.Errorf("feed: BaseURL %q: %w", c.BaseURL, err))
		}
	}
	return errors.Join(errs...)
}

// CheckBaseURL says whether s can be the public URL the feeds' links are
// made under: http or https, a host, and no query or fragment, which the
// links' own paths and queries would land after.
func CheckBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("want http(s)://host[:port][/path]")
	}
	return nil
}
