package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/httpapi"
	"github.com/parley-news/parley/internal/ingest"
	"github.com/parley-news/parley/internal/metrics"
	"github.com/parley-news/parley/internal/stream"
)

// IngestConfig configures the ingest command.
type IngestConfig struct {
	// NATSURL is one or more NATS URLs. Required unless Check.
	NATSURL          string
	CredsFile, TLSCA string
	// Check validates the input without appending it.
	Check bool
	// Source is the CloudEvents source of the appended events.
	Source         string
	VocabularyFile string
	// HTTPAddr, APIToken and MaxBody configure 'ingest serve'.
	HTTPAddr string
	APIToken string
	MaxBody  int64
	Logger   *slog.Logger
}

func (c IngestConfig) ingester(ctx context.Context) (*ingest.Ingester, func(), error) {
	vocab, err := Config{VocabularyFile: c.VocabularyFile}.Vocabulary()
	if err != nil {
		return nil, nil, err
	}
	in := &ingest.Ingester{Decoder: events.Decoder{Vocabulary: vocab}, Source: c.Source}
	if c.Check {
		return in, func() {}, nil
	}
	conn, err := stream.Connect(ctx, stream.Config{URL: c.NATSURL, CredsFile: c.CredsFile, TLSCA: c.TLSCA, Name: "parley-ingest", Logger: c.Logger, OnConnection: metrics.SetNATSConnected})
	if err != nil {
		return nil, nil, err
	}
	in.Stream = conn
	return in, conn.Close, nil
}

// IngestFiles appends the named files ("-" for stdin) and reports whether
// every record went in.
func IngestFiles(ctx context.Context, c IngestConfig, names []string, stdin io.Reader, out, errOut io.Writer) (bool, error) {
	if len(names) == 0 {
		return false, fmt.Errorf("no input: name files (.yaml, .json, .ndjson) or - for stdin")
	}
	in, done, err := c.ingester(ctx)
	if err != nil {
		return false, err
	}
	defer done()
	in.Progress = errOut
	// A stream that stays away stops the run, as a POST is answered,
	// instead of hanging it.
	in.Wait = httpapi.DefaultAppendTimeout
	// And one that is there but answers nothing (its disk full), once it
	// has been silent far longer than an election takes.
	in.Silence = unansweredAfter
	// Interrupted, the batch in flight may finish, so that the report
	// tells what went in; a second interrupt ends the process at once.
	in.Grace = interruptGrace
	in.VocabularyName = "the shipped vocabulary; -vocabulary FILE or PARLEY_VOCABULARY gives your own"
	if c.VocabularyFile != "" {
		in.VocabularyName = c.VocabularyFile
	}
	return in.Files(ctx, names, stdin, out, errOut)
}

// interruptGrace is how long the ingest command lets the batch in flight
// finish once interrupted: a batch's answer takes milliseconds, or an
// election's few seconds.
const interruptGrace = 10 * time.Second

// unansweredAfter is how long the ingest command waits for a batch's
// answer from a stream it is connected to before it stops.
const unansweredAfter = 2 * time.Minute

// ServeIngest serves POST /v1/events until ctx ends.
func ServeIngest(ctx context.Context, c IngestConfig, out io.Writer) error {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	in, done, err := c.ingester(ctx)
	if err != nil {
		return err
	}
	defer done()
	mux := http.NewServeMux()
	(&httpapi.Ingest{Ingester: in, Token: c.APIToken, MaxBody: c.MaxBody, Logger: c.Logger}).Register(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"status": "ok", "time": time.Now().UTC()})
	})
	// Ready while connected to NATS: a load balancer sends no post to an
	// instance that would hold it for 30 s and answer 503.
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ready := true
		if conn, ok := in.Stream.(ingest.Connected); ok {
			ready = conn.Connected()
		}
		status := http.StatusOK
		if !ready {
			status = http.StatusServiceUnavailable
		}
		httpapi.WriteJSON(w, status, struct {
			Ready         bool `json:"ready"`
			NATSConnected bool `json:"nats_connected"`
		}{ready, ready})
	})
	mux.Handle("GET /metrics", metrics.Handler())
	ln, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", c.HTTPAddr, err)
	}
	// On loopback, no page of another site may post to it by a name made
	// to resolve here.
	// Its 404 and 405 in JSON too, as the projector's: a client reads
	// one error shape from both.
	handler := httpapi.LocalHosts(ln.Addr(), nil, httpapi.SameOrigin(httpapi.JSONErrors(mux)))
	srv := &http.Server{Handler: metrics.Instrument(handler), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: writeTimeout, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(out, "ingest is serving POST http://%s/v1/events\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
