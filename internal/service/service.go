// Package service assembles the projector process from its parts: the
// stream (an embedded NATS server by default, or a cluster), the read
// model file, the projection loop, the HTTP API and, on request, the seed
// timeline. cmd/projector only parses flags into a Config.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/feed"
	"github.com/parley-news/parley/internal/httpapi"
	"github.com/parley-news/parley/internal/ingest"
	"github.com/parley-news/parley/internal/metrics"
	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/projector"
	"github.com/parley-news/parley/internal/stream"
)

// Config configures the projector process.
type Config struct {
	// DataDir holds the read model and, on the embedded default, the
	// JetStream store. Required.
	DataDir string
	// HTTPAddr is where the API listens; "" means 127.0.0.1:8080.
	HTTPAddr string
	// NATSURL is one or more NATS URLs; "" starts the embedded server.
	NATSURL string
	// NATSListen is where the embedded server listens; "" means
	// 127.0.0.1:4222.
	NATSListen string
	// NATSSyncInterval is the embedded server's fsync interval; 0 means
	// every write.
	NATSSyncInterval time.Duration
	// CredsFile and TLSCA secure the connection to a NATS cluster.
	CredsFile, TLSCA string
	// Seed appends the shipped seed timeline at start (idempotent).
	Seed bool
	// VocabularyFile replaces the shipped vocabulary.
	VocabularyFile string
	// APIToken, when set, guards the write endpoints.
	APIToken string
	// PublicURL is where readers reach the service (behind a proxy, say),
	// for the links of the Atom and JSON feeds; "" takes the scheme and
	// host of each request.
	PublicURL string
	// FeedTitle names the Atom and JSON feeds ("" means "Parley"), and
	// FeedID starts their ids, a URI of the deployment's own such as
	// "tag:newsroom.example,2026:trade-talks:" ("" means
	// feed.DefaultIDPrefix): two deployments that follow different
	// negotiations need different ids, or a reader that takes both mixes
	// them up.
	FeedTitle, FeedID string
	// FeedMaxStreams caps the live-feed (SSE) streams served at once (0
	// means feed.DefaultMaxClients); past it, a reader is asked to come
	// back in a few seconds.
	FeedMaxStreams int
	// PrivateReads makes the read API (/v1/ GETs, feeds included) require
	// the APIToken too. The page, /healthz, /readyz and /metrics stay open.
	PrivateReads bool
	// CORSOrigins are the origins whose web pages may read the read API
	// and the feeds from another site (a live blog following /v1/feed),
	// or "*" for any; none (the default) lets no other site's page read.
	// Writes are never opened to other origins.
	CORSOrigins []string
	// WebhookAllowLoopback lets alerts be delivered to 127.0.0.1, for
	// local testing; other private addresses stay refused.
	WebhookAllowLoopback bool
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Out receives what a person running the command reads: the URL,
	// rebuild progress, the seed's counts. nil means os.Stdout.
	Out io.Writer
}

// DefaultHTTPAddr is where the API listens when not told.
const DefaultHTTPAddr = "127.0.0.1:8080"

func (c *Config) setDefaults() {
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
}

// Validate reports a configuration that cannot run.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("a data folder is required (-data DIR)")
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); c.HTTPAddr != "" && err != nil {
		return fmt.Errorf("http address %q: %w", c.HTTPAddr, err)
	}
	if c.PublicURL != "" {
		if err := feed.CheckBaseURL(c.PublicURL); err != nil {
			return fmt.Errorf("public URL %q: %w", c.PublicURL, err)
		}
	}
	if c.FeedID != "" {
		if u, err := url.Parse(c.FeedID); err != nil || u.Scheme == "" {
			return fmt.Errorf("feed id %q: not a URI (want one such as tag:newsroom.example,2026:trade-talks:)", c.FeedID)
		}
	}
	if c.FeedMaxStreams < 0 {
		return fmt.Errorf("feed max streams %d: negative (-feed-max-streams)", c.FeedMaxStreams)
	}
	if err := httpapi.CheckOrigins(c.CORSOrigins); err != nil {
		return fmt.Errorf("CORS origins (-cors-origins): %w", err)
	}
	if c.PrivateReads && c.APIToken == "" {
		// Without a token the reads would stay open, silently.
		return errors.New("private reads need a token (-api-token or PARLEY_API_TOKEN)")
	}
	return nil
}

// vocabularyName says which vocabulary an id was looked up in, for
// errors: the file given, or the shipped one and how to give another.
func (c Config) vocabularyName() string {
	if c.VocabularyFile != "" {
		return "the vocabulary " + c.VocabularyFile
	}
	return "the shipped vocabulary (-vocabulary FILE or PARLEY_VOCABULARY gives your own)"
}

// Vocabulary loads the configured vocabulary, or the shipped one.
func (c Config) Vocabulary() (*events.Vocabulary, error) {
	if c.VocabularyFile == "" {
		return data.Vocabulary(), nil
	}
	return events.LoadVocabulary(c.VocabularyFile)
}

// Stream is a connection to the stream and, on the embedded default, the
// server it runs on.
type Stream struct {
	Conn   *stream.Conn
	server *stream.Server
	url    string
}

// URL is where the stream's server listens: the embedded one's client URL,
// or the configured URLs.
func (s *Stream) URL() string {
	if s.server != nil {
		return s.server.ClientURL()
	}
	return s.url
}

// Close closes the connection and stops the embedded server.
func (s *Stream) Close() {
	s.Conn.Close()
	if s.server != nil {
		s.server.Shutdown()
	}
}

// OpenStream connects to the configured NATS, starting the embedded
// server first, listening on listen ("" for the default), when no URL is
// given.
func OpenStream(ctx context.Context, c Config, listen string) (*Stream, error) {
	s := &Stream{}
	url := c.NATSURL
	if url == "" {
		srv, err := stream.StartServer(ctx, stream.ServerConfig{Dir: c.DataDir, Listen: listen, SyncInterval: c.NATSSyncInterval, Logger: c.Logger})
		if err != nil {
			return nil, err
		}
		s.server, url = srv, srv.ClientURL()
	}
	conn, err := stream.Connect(ctx, stream.Config{URL: url, CredsFile: c.CredsFile, TLSCA: c.TLSCA, Name: "parley-projector", Logger: c.Logger, OnConnection: metrics.SetNATSConnected})
	if err != nil {
		if s.server != nil {
			s.server.Shutdown()
		}
		return nil, err
	}
	s.Conn, s.url = conn, url
	return s, nil
}

// writable makes sure the data folder exists and takes a file, so that a
// read-only or full folder is reported as such at start rather than as a
// server that never comes up.
func writable(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("data folder %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("data folder %s is not writable: %w", dir, err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("ok"))
	f.Close()
	os.Remove(name)
	if werr != nil {
		return fmt.Errorf("data folder %s is not writable: %w", dir, werr)
	}
	return nil
}

// Running is a started projector process.
type Running struct {
	// HTTPURL is the API's base URL, NATSURL the stream's.
	HTTPURL, NATSURL string
	Store            *bolt.Store
	Projector        *projector.Projector

	cfg      Config
	stream   *Stream
	srv      *http.Server
	stopProj context.CancelFunc
	runErr   chan error
	httpErr  chan error
	stops    []func()
}

// part is one capability mounted on the process (live feeds, alerts, the
// web page): it adds routes to the mux and may react to each applied
// batch. It returns a function that stops it, or nil.
type part func(ctx context.Context, p *parts) (onApply func(uint64, []*projections.Development), stop func(), err error)

// parts are what a part may use.
type parts struct {
	cfg   Config
	log   *slog.Logger
	vocab *events.Vocabulary
	conn  *stream.Conn
	store *bolt.Store
	mux   *http.ServeMux
}

// servingGCPercent is the GOGC of a serving process unless the
// environment sets one.
const servingGCPercent = 200

// collectLess sets GOGC to servingGCPercent unless GOGC is set. What a
// serving process allocates is nearly all answers, garbage at once,
// beside a live heap of the read model's caches and, embedded, the NATS
// server's per-subject state (about 200 MB at a million events). At the
// default of 100 it collected every couple of thousand queries at that
// size, and queries during a mark were slowed by its assists: in the
// benchmark's 1M query phase one 243 ms mark took the history p99 to
// 10.7 ms, where a run at 200, with no collection in the phase, had 2.7.
// At 200 a collection comes half as often, for a heap that may reach
// three times the live one instead of twice.
func collectLess() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(servingGCPercent)
	}
}

// Start starts the projector process: stream, read model, projection
// loop, the parts, the HTTP server. It returns once the server listens.
func Start(ctx context.Context, c Config) (_ *Running, err error) {
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	log := c.Logger
	c.FeedMaxStreams = feedStreams(c.FeedMaxStreams, log)
	collectLess()
	vocab, err := c.Vocabulary()
	if err != nil {
		return nil, err
	}
	r := &Running{cfg: c, runErr: make(chan error, 1), httpErr: make(chan error, 1)}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if err := writable(c.DataDir); err != nil {
		return nil, err
	}
	// The server listens before anything starts or is appended, so that a
	// port in use is told at once, and answers as a service starting (a
	// start may rebuild the read model for minutes) until it is ready:
	// probes and /metrics (the rebuild's progress) work meanwhile.
	sw := &handlerSwitch{}
	starting := http.NewServeMux()
	starting.Handle("GET /metrics", metrics.Handler())
	starting.Handle("/", httpapi.Starting(projector.RebuildProgress))
	sw.set(starting)
	ln, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", c.HTTPAddr, err)
	}
	r.HTTPURL = "http://" + ln.Addr().String()
	r.srv = &http.Server{
		// On loopback, no page of another site may reach it by a name
		// made to resolve here.
		Handler:           metrics.Instrument(httpapi.LocalHosts(ln.Addr(), []string{httpapi.HostOf(c.PublicURL)}, sw)),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln = &filesListener{Listener: ln, log: log}
	srv := r.srv
	go func() { r.httpErr <- srv.Serve(ln) }()
	if r.stream, err = OpenStream(ctx, c, c.NATSListen); err != nil {
		return nil, LockedHint(c.DataDir, inUseServe, err)
	}
	r.NATSURL = r.stream.URL()
	if r.Store, err = projector.OpenModel(ctx, r.stream.Conn, c.DataDir, partBuckets(), c.Out, log); err != nil {
		return nil, LockedHint(c.DataDir, inUseServe, err)
	}

	warnUnnamed(ctx, r.Store, vocab, log)

	mux := http.NewServeMux()
	ps := &parts{cfg: c, log: log, vocab: vocab, conn: r.stream.Conn, store: r.Store, mux: mux}
	var hooks []func(uint64, []*projections.Development)
	for _, mount := range mounted {
		onApply, stop, err := mount(ctx, ps)
		if err != nil {
			return nil, err
		}
		if onApply != nil {
			hooks = append(hooks, onApply)
		}
		if stop != nil {
			r.stops = append(r.stops, stop)
		}
	}
	conn := r.stream.Conn
	r.Projector = projector.New(conn, r.Store, projector.Config{Logger: log, CheckFile: r.Store.CheckFile,
		OnApply: func(cp uint64, devs []*projections.Development) {
			for _, h := range hooks {
				h(cp, devs)
			}
		},
		OnSkip: func(s *projections.Skipped) {
			if err := conn.DeadLetter(s.Seq, s.Subject, s.Reason); err != nil {
				log.Warn("dead letter not published", "seq", s.Seq, "err", err)
			}
		}})
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.stopProj = stop
	go func() { r.runErr <- r.Projector.Run(runCtx) }()
	go r.Store.KeepMapped(runCtx, time.Second)
	if srv := r.stream.server; srv != nil {
		// A write error (a full disk) leaves JetStream refusing every
		// append until its server restarts: restarted once there is room.
		go srv.Mend(runCtx, stream.MendConfig{Logger: log, OnStore: func(ok bool) {
			failing := 1.0
			if ok {
				failing = 0
			}
			metrics.StreamStoreFailing.Set(failing)
		}})
	}

	ing := &ingest.Ingester{Stream: r.stream.Conn, Decoder: events.Decoder{Vocabulary: vocab}}
	if c.Seed {
		if err := seed(ctx, ing, c.Out, c.DataDir); err != nil {
			return nil, err
		}
	}
	(&httpapi.API{Store: r.Store, Vocabulary: vocab, Status: r.Projector, Logger: log}).Register(mux)
	(&httpapi.Ingest{Ingester: ing, Token: c.APIToken, Logger: log}).Register(mux)
	mux.Handle("GET /metrics", metrics.Handler())
	var handler http.Handler = httpapi.JSONErrors(mux)
	if c.PrivateReads {
		handler = privateReads(c.APIToken, handler)
	}
	// Writes from another site's page are refused with or without a
	// token: without one they would be open to any page a reader has open.
	handler = httpapi.SameOrigin(handler)
	// Outermost: a preflight is answered before a private read asks for
	// the token it does not carry.
	handler = httpapi.CORS(c.CORSOrigins, handler)
	sw.set(handler)
	return r, nil
}

// writeTimeout bounds how long an answer may take to be written, from
// the end of its request's headers: a client that asks for a large
// answer (a timeline page of 10,000 events is megabytes) and reads none
// of it would otherwise hold it in memory, with its goroutine, for as
// long as it keeps the connection open, and a few hundred such clients
// exhaust the process. It leaves room for a body read for 30 s and an
// append waited on for 30 s. The live feed sets its own deadline on each
// write, so a stream stays open for days.
var writeTimeout = 2 * time.Minute

// handlerSwitch serves with one handler, then another: the server of a
// service starting, then of the service.
type handlerSwitch struct{ h atomic.Pointer[http.Handler] }

func (s *handlerSwitch) set(h http.Handler) { s.h.Store(&h) }

func (s *handlerSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

// CaughtUp waits until the projector has applied everything the stream
// holds now.
func (r *Running) CaughtUp(ctx context.Context) error {
	last, err := r.stream.Conn.LastSeq(ctx)
	if err != nil {
		return err
	}
	return r.Projector.WaitFor(ctx, last)
}

// Wait serves until ctx ends or a part fails, then shuts down in order:
// the HTTP server drains, the projection loop stops after its current
// batch, the parts stop, the file and the stream close.
func (r *Running) Wait(ctx context.Context) error {
	var err error
	select {
	case <-ctx.Done():
	case e := <-r.httpErr:
		err = fmt.Errorf("http: %w", e)
	case e := <-r.runErr:
		r.runErr <- e
		if e != nil {
			err = fmt.Errorf("projector: %w", e)
		}
	}
	r.close()
	return err
}

// Close shuts the process down; it is Wait with a context already done.
func (r *Running) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return r.Wait(ctx)
}

func (r *Running) close() {
	log := r.cfg.Logger
	if r.srv == nil && r.stopProj == nil && r.Store == nil && r.stream == nil {
		return // closed before
	}
	// A stop is logged as one, so that it can be told from a crash.
	log.Info("stopping")
	defer func() {
		if r.Projector == nil {
			// Stopped while starting (opening or rebuilding the read
			// model): nothing was applied by this process to tell of.
			log.Info("stopped before serving")
			return
		}
		log.Info("stopped", "checkpoint", r.Projector.Applied())
	}()
	if r.srv != nil {
		shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := r.srv.Shutdown(shutCtx); err != nil {
			log.Warn("http shutdown", "err", err)
		}
		cancel()
		r.srv = nil
	}
	if r.stopProj != nil {
		r.stopProj()
		if err := <-r.runErr; err != nil {
			// What ends the process (exit 1): said at the level it merits.
			log.Error("projector stopped", "err", err)
		}
		r.stopProj = nil
	}
	for i := len(r.stops) - 1; i >= 0; i-- {
		r.stops[i]()
	}
	r.stops = nil
	if r.Store != nil {
		// A clean stop seals the file: the next start can tell it from a
		// file damaged while nobody was watching.
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := r.Store.SealAndClose(sctx); err != nil {
			log.Warn("seal read model", "err", err)
		}
		cancel()
		r.Store = nil
	}
	if r.stream != nil {
		r.stream.Close()
		r.stream = nil
	}
}

// Run runs the projector process until ctx ends.
func Run(ctx context.Context, c Config) error {
	c.setDefaults()
	r, err := Start(ctx, c)
	if err != nil {
		return err
	}
	if c.Seed {
		// The URL is printed once the seed is in the read model, so that
		// the first look shows it whole.
		if err := r.CaughtUp(ctx); err != nil {
			r.Close()
			return err
		}
	}
	fmt.Fprintf(c.Out, "Parley is serving on %s/ (NATS at %s, data in %s)\n", r.HTTPURL, natsShown(c, r.NATSURL), c.DataDir)
	return r.Wait(ctx)
}

// privateReads requires the token for every read of the API, as the
// write endpoints already do.
func privateReads(token string, next http.Handler) http.Handler {
	guarded := httpapi.RequireToken(token, next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			guarded.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func natsShown(c Config, url string) string {
	if c.NATSURL != "" {
		return stream.Redact(c.NATSURL)
	}
	return url + " (embedded)"
}

// ErrSeedChanged is returned by a seeded start on a folder whose stream
// holds another version of the shipped seed.
var ErrSeedChanged = errors.New("the shipped seed has changed since this folder was seeded")

// seed appends the shipped timeline, file by file in name order; on a
// second start everything is a duplicate and nothing changes.
func seed(ctx context.Context, ing *ingest.Ingester, out io.Writer, dir string) error {
	fsys, names := data.Timeline()
	for _, name := range names {
		f, err := fsys.Open(name)
		if err != nil {
			return err
		}
		res, err := ing.Ingest(ctx, filepath.Join("data", name), f, events.YAML)
		f.Close()
		if err != nil {
			return fmt.Errorf("seed %s: %w", name, err)
		}
		ingest.Print(res, out, out)
		if res.Conflict > 0 && res.Rejected+res.Failed == 0 {
			// The stream keeps what it recorded: a folder seeded by an
			// earlier release holds that release's seed, which has been
			// corrected since.
			return fmt.Errorf("seed %s: %d of its events differ from those the stream in %s recorded from an earlier seed, which it keeps: %w; to load this seed, start on another -data folder (or remove %s)",
				name, res.Conflict, dir, ErrSeedChanged, dir)
		}
		if !res.OK() {
			return fmt.Errorf("seed %s: %d records did not go in", name, res.Rejected+res.Conflict+res.Failed)
		}
	}
	return nil
}

// What to do about a folder in use, by the command that found it so: a
// second projector or a rebuild cannot share it, a query can ask the
// projector that holds it instead.
const (
	inUseServe   = "stop it first, or give this one a -data of its own"
	inUseRebuild = "stop it first: a rebuild needs the folder to itself"
	inUseRead    = "ask the projector's HTTP API, or wait until it stops"
)

// LockedHint explains, with todo, what to do when the read model or the
// stream's store is in use.
func LockedHint(dir, todo string, err error) error {
	switch {
	case errors.Is(err, stream.ErrStoreInUse):
		return fmt.Errorf("%w: a projector or a rebuild is running on %s; %s", err, dir, todo)
	case errors.Is(err, bolt.ErrLocked):
		// The stream's store was free, or not asked for: the file may be
		// held by a replay command reading it, for the time it reads.
		return fmt.Errorf("%w: a projector, a rebuild or a command reading it (state, history, diff, dump) is running on %s; %s", err, dir, todo)
	}
	return err
}

// warnUnnamed says at start which issues and parties have positions in
// the record but no term in the vocabulary: a file that lost them after
// events used them. The events stay, but readers can no longer name them.
func warnUnnamed(ctx context.Context, st *bolt.Store, v *events.Vocabulary, log *slog.Logger) {
	var issues, parties []string
	err := st.View(ctx, func(tx projections.Tx) error {
		issues, parties = projections.Unnamed(tx, v)
		return nil
	})
	if err == nil && len(issues)+len(parties) > 0 {
		log.Warn("the record has positions on issues or of parties the vocabulary lacks; their history and filters are refused until they are back in it",
			"issues", strings.Join(issues, ","), "parties", strings.Join(parties, ","))
	}
}
