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
	"os"
	"path/filepath"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/httpapi"
	"github.com/parley-news/parley/internal/ingest"
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
	return nil
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
}

// Close closes the connection and stops the embedded server.
func (s *Stream) Close() {
	s.Conn.Close()
	if s.server != nil {
		s.server.Shutdown()
	}
}

// OpenStream connects to the configured NATS, starting the embedded
// server first when no URL is given. listen overrides NATSListen.
func OpenStream(ctx context.Context, c Config, listen string) (*Stream, error) {
	s := &Stream{}
	url := c.NATSURL
	if url == "" {
		if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("data folder: %w", err)
		}
		srv, err := stream.StartServer(ctx, stream.ServerConfig{Dir: c.DataDir, Listen: listen, SyncInterval: c.NATSSyncInterval})
		if err != nil {
			return nil, err
		}
		s.server, url = srv, srv.ClientURL()
	}
	conn, err := stream.Connect(ctx, stream.Config{URL: url, CredsFile: c.CredsFile, TLSCA: c.TLSCA, Name: "parley-projector", Logger: c.Logger})
	if err != nil {
		if s.server != nil {
			s.server.Shutdown()
		}
		return nil, err
	}
	s.Conn = conn
	return s, nil
}

// Run runs the projector until ctx ends, then shuts down in order: the HTTP
// server drains, the projection loop stops after its current batch, the
// file and the stream close.
func Run(ctx context.Context, c Config) error {
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return err
	}
	log := c.Logger
	vocab, err := c.Vocabulary()
	if err != nil {
		return err
	}
	listen := c.NATSListen
	if listen == "" {
		listen = stream.DefaultListen
	}
	st, err := OpenStream(ctx, c, listen)
	if err != nil {
		return err
	}
	defer st.Close()

	store, err := projector.OpenModel(ctx, st.Conn, c.DataDir, nil, c.Out, log)
	if err != nil {
		return err
	}
	defer store.Close()

	proj := projector.New(st.Conn, store, projector.Config{Logger: log})
	runErr := make(chan error, 1)
	runCtx, stopProj := context.WithCancel(context.WithoutCancel(ctx))
	defer stopProj()
	go func() { runErr <- proj.Run(runCtx) }()

	ing := &ingest.Ingester{Stream: st.Conn, Decoder: events.Decoder{Vocabulary: vocab}}
	if c.Seed {
		if err := seed(ctx, ing, c.Out); err != nil {
			return err
		}
	}

	mux := http.NewServeMux()
	(&httpapi.API{Store: store, Vocabulary: vocab, Status: proj, Logger: log}).Register(mux)
	(&httpapi.Ingest{Ingester: ing, Token: c.APIToken, Logger: log}).Register(mux)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", c.HTTPAddr, err)
	}
	fmt.Fprintf(c.Out, "Parley is serving on http://%s/ (NATS at %s, data in %s)\n", ln.Addr(), natsShown(c, listen), c.DataDir)
	httpErr := make(chan error, 1)
	go func() { httpErr <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
	case err := <-httpErr:
		return fmt.Errorf("http: %w", err)
	case err := <-runErr:
		if err != nil {
			return fmt.Errorf("projector: %w", err)
		}
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	stopProj()
	if err := <-runErr; err != nil {
		log.Warn("projector stopped", "err", err)
	}
	return nil
}

func natsShown(c Config, listen string) string {
	if c.NATSURL != "" {
		return c.NATSURL
	}
	return "nats://" + listen + " (embedded)"
}

// seed appends the shipped timeline, file by file in name order; on a
// second start everything is a duplicate and nothing changes.
func seed(ctx context.Context, ing *ingest.Ingester, out io.Writer) error {
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
		if !res.OK() {
			return fmt.Errorf("seed %s: %d records did not go in", name, res.Rejected+res.Failed)
		}
	}
	return nil
}

// LockedHint explains what to do when the read model is in use.
func LockedHint(dir string, err error) error {
	if errors.Is(err, bolt.ErrLocked) {
		return fmt.Errorf("%w: a projector is running on %s; ask its HTTP API, or stop it first", err, dir)
	}
	return err
}

