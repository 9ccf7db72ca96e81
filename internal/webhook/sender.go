package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Config configures a Sender. The zero value is the safe default.
type Config struct {
	// ConnectTimeout bounds the TCP connect and the TLS handshake; 0 means
	// 5 s.
	ConnectTimeout time.Duration
	// RequestTimeout bounds one whole attempt, from dial to the end of the
	// response; 0 means 15 s.
	RequestTimeout time.Duration
	// MaxResponseBody is how much of a response is read before the
	// connection is dropped; 0 means 64 KiB.
	MaxResponseBody int64
	// AllowLoopback lets deliveries reach 127.0.0.0/8 and ::1, for local
	// testing.
	AllowLoopback bool
	// Resolver resolves receivers' names; nil means net.DefaultResolver.
	// Whatever it answers, the address dialled is checked.
	Resolver *net.Resolver
	// UserAgent is sent with each delivery; "" means "Parley-Webhooks/1".
	UserAgent string
}

// Defaults of Config.
const (
	DefaultConnectTimeout  = 5 * time.Second
	DefaultRequestTimeout  = 15 * time.Second
	DefaultMaxResponseBody = 64 << 10
)

// MaxResponseHeader bounds the headers of a receiver's answer: an
// attempt with more fails.
const MaxResponseHeader = 16 << 10

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxResponseBody == 0 {
		c.MaxResponseBody = DefaultMaxResponseBody
	}
	if c.UserAgent == "" {
		c.UserAgent = "Parley-Webhooks/1"
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.ConnectTimeout < 0 || c.RequestTimeout < 0 || c.MaxResponseBody < 0 {
		return errors.New("webhook: negative timeout or limit")
	}
	return nil
}

// Sender posts signed deliveries.
type Sender struct {
	cfg    Config
	guard  Guard
	client *http.Client
}

// NewSender returns a sender whose every connection passes the guard.
func NewSender(cfg Config) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	g := Guard{AllowLoopback: cfg.AllowLoopback}
	d := &net.Dialer{
		Timeout:  cfg.ConnectTimeout,
		Resolver: cfg.Resolver,
		// Control runs on the address about to be connected, after name
		// resolution: the only check DNS rebinding cannot get around.
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: dial %s: %v", ErrForbiddenAddress, address, err)
			}
			return g.CheckAddr(ap.Addr())
		},
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us, past the check
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ResponseHeaderTimeout: cfg.RequestTimeout,
		// net/http reads up to 10 MiB of a response's headers by default:
		// a receiver (anyone who may subscribe) could have every attempt,
		// of up to MaxSubscriptions at once, hold that much.
		MaxResponseHeaderBytes: MaxResponseHeader,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return &Sender{cfg: cfg, guard: g, client: &http.Client{
		Transport: tr,
		Timeout:   cfg.RequestTimeout,
		// A redirect is an answer, not an instruction: it counts as a
		// failure, and its target is never dialled.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// Guard is the sender's address guard, for checking URLs at creation.
func (s *Sender) Guard() Guard { return s.guard }

// Message is one delivery attempt's content. ID and Body are the same on
// every attempt of the same alert; the timestamp and so the signature are
// of the attempt.
type Message struct {
	ID     string
	URL    string
	Secret string
	// Previous, when set, signs the message too: a secret being rotated
	// out, which the receiver may still check against.
	Previous string
	Body     []byte
}

// Outcome is what an attempt came to.
type Outcome int

// The outcomes of an attempt.
const (
	// Failed: try again later (network error, timeout, 3xx, 4xx, 5xx).
	Failed Outcome = iota
	// Delivered: the receiver answered 2xx.
	Delivered
	// Gone: the receiver answered 410; stop delivering to it.
	Gone
)

func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Gone:
		return "gone"
	}
	return "failed"
}

// Result is the outcome of one attempt.
type Result struct {
	Outcome Outcome
	// Status is the HTTP status, 0 when there was no answer.
	Status int
	// Reason says why an attempt failed, for the subscription's status.
	Reason string
	// Err is the error behind a failure without an answer.
	Err error
}

// Send makes one attempt: a POST of the body, signed at now.
func (s *Sender) Send(ctx context.Context, m Message, now time.Time) Result {
	if err := s.guard.CheckURL(m.URL); err != nil {
		return Result{Reason: err.Error(), Err: err}
	}
	sig, err := Sign(m.Secret, m.ID, now, m.Body)
	if err == nil && m.Previous != "" {
		// Standard Webhooks: signatures separated by spaces, each one
		// checked until one matches.
		var old string
		old, err = Sign(m.Previous, m.ID, now, m.Body)
		sig += " " + old
	}
	if err != nil {
		return Result{Reason: err.Error(), Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(m.Body))
	if err != nil {
		return Result{Reason: err.Error(), Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	req.Header.Set(HeaderID, m.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	resp, err := s.client.Do(req)
	if err != nil {
		return Result{Reason: reason(err), Err: err}
	}
	// Read a little, for the reason of a failure and so that a short
	// answer leaves the connection reusable; never more than the limit.
	head := make([]byte, 200)
	n, _ := io.ReadFull(resp.Body, head)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, s.cfg.MaxResponseBody-int64(n)))
	resp.Body.Close()
	r := Result{Status: resp.StatusCode}
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		r.Outcome = Delivered
	case c == http.StatusGone:
		r.Outcome, r.Reason = Gone, "HTTP 410 Gone: the receiver asked to stop"
	case c >= 300 && c < 400:
		r.Reason = fmt.Sprintf("HTTP %d redirect, not followed (Location: %s)", c, clip(resp.Header.Get("Location")))
	default:
		r.Reason = "HTTP " + resp.Status
		if t := clip(string(head[:n])); t != "" {
			r.Reason += ": " + t
		}
	}
	return r
}

// RedactURL is a webhook URL as logs and statuses show it: its scheme
// and host. Many receivers (Slack's, say) put their secret in the path or
// the query, which only the subscriber should see.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(a URL)"
	}
	out := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		out += "/…"
	}
	return out
}

// reason is the short form of a transport error for the status, its URL
// redacted.
func reason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = &url.Error{Op: ue.Op, URL: RedactURL(ue.URL), Err: ue.Err}
	}
	var ne net.Error
	switch {
	case errors.Is(err, ErrForbiddenAddress):
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			return op.Err.Error()
		}
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout: " + err.Error()
	}
	return err.Error()
}

// clip keeps a receiver's text short and printable.
func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > 120 {
		cut := 120
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
