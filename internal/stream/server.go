package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerConfig configures the embedded NATS server.
type ServerConfig struct {
	// Dir holds the JetStream store (Dir/jetstream). Required.
	Dir string
	// Listen is host:port for clients; "" means 127.0.0.1:4222, and port 0
	// picks a free one. It stays on loopback unless told otherwise.
	Listen string
	// SyncInterval is how often JetStream fsyncs its files. Zero means
	// every write ("sync_interval: always"), so that an acknowledged event
	// survives an OS crash or power loss, not only a process crash.
	SyncInterval time.Duration
	// ServerName names the server in logs; "" means "parley".
	ServerName string
	// Logger receives the server's warnings and errors (a stream that
	// cannot write its store, among them); nil means slog.Default().
	Logger *slog.Logger
}

// DefaultListen is where the embedded server listens when not told.
const DefaultListen = "127.0.0.1:4222"

// Validate reports a configuration that cannot start.
func (c ServerConfig) Validate() error {
	if c.Dir == "" {
		return fmt.Errorf("embedded nats: Dir is required")
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return fmt.Errorf("embedded nats: listen %q: %w", c.Listen, err)
		}
	}
	return nil
}

// Server is a NATS server with JetStream running in this process.
type Server struct {
	cfg  ServerConfig
	host string
	port int // the port clients use, kept over a restart
	log  *serverLog
	lock *os.File // the store's, held while the server runs

	mu     sync.Mutex // held by Restart and Shutdown
	closed bool
	ns     atomic.Pointer[server.Server]
}

// StartServer starts an embedded NATS server with JetStream on file storage
// and waits until it accepts clients.
func StartServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "parley"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	listen := cfg.Listen
	if listen == "" {
		listen = DefaultListen
	}
	host, portText, _ := net.SplitHostPort(listen)
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: port %q: %w", portText, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	// One server a store: a second would write the same files beside the
	// first, and its stream would lose or repeat messages.
	lock, err := lockStore(cfg.Dir)
	if err != nil {
		return nil, err
	}
	// A port in use is told now, not as a server that never gets ready.
	if port != server.RANDOM_PORT {
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			lock.Close()
			return nil, fmt.Errorf("embedded nats: %w", err)
		}
		ln.Close()
	}
	s := &Server{cfg: cfg, host: host, port: port, lock: lock, log: newServerLog(cfg.Logger)}
	ns, err := s.start(ctx)
	if err != nil {
		lock.Close()
		return nil, err
	}
	if a, ok := ns.Addr().(*net.TCPAddr); ok {
		s.port = a.Port // a restart listens where clients reconnect
	}
	s.ns.Store(ns)
	return s, nil
}

// start starts a server on the store and waits until it accepts clients.
func (s *Server) start(ctx context.Context) (*server.Server, error) {
	opts := &server.Options{
		ServerName: s.cfg.ServerName,
		Host:       s.host,
		Port:       s.port,
		JetStream:  true,
		StoreDir:   filepath.Join(s.cfg.Dir, "jetstream"),
		NoSigs:     true,
		// The embedded server serves this process and local tools; it is
		// not a public endpoint.
		MaxPayload: 8 << 20,
	}
	if s.cfg.SyncInterval <= 0 {
		opts.SyncAlways = true
	} else {
		opts.SyncInterval = s.cfg.SyncInterval
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	// Without a logger the server's own errors (a store it cannot write)
	// went nowhere, and a full disk showed only as appends never answered.
	ns.SetLoggerV2(s.log, false, false, false)
	go ns.Start()
	// A large store is read back before the server is ready (its
	// messages' index, the duplicate window's ids): seconds on a quiet
	// machine, more than ten on a busy one, where a shorter wait failed
	// a restart that would have succeeded.
	deadline := time.Minute
	if d, ok := ctx.Deadline(); ok {
		deadline = time.Until(d)
	}
	if !ns.ReadyForConnections(deadline) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready on %s:%d within %s", s.host, s.port, deadline)
	}
	return ns, nil
}

// ErrStoreInUse is returned when another process runs a server on the
// same store.
var ErrStoreInUse = errors.New("the stream's store is in use by another process")

// lockStore takes the lock of the store under dir, in a file of its own
// beside the store.
func lockStore(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	path := filepath.Join(dir, "jetstream.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("embedded nats: lock %s: %w", path, err)
	}
	return f, nil
}

// ClientURL is the URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.Load().ClientURL() }

// Shutdown stops the server and waits until it has.
func (s *Server) Shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	ns := s.ns.Load()
	ns.Shutdown()
	ns.WaitForShutdown()
	s.lock.Close()
}

// serverLog passes the server's warnings and errors to slog; its notices,
// debug and trace lines are left out. A line the server writes again and
// again (one per message refused by a store it cannot write: hundreds at
// once) is written once a minute at most, with how often it came since.
type serverLog struct {
	log    *slog.Logger
	mu     sync.Mutex
	told   map[string]time.Time // by format, when it was last written
	repeat map[string]int       // by format, how often left out since
}

// serverLogEvery is how often one line of the server is written at most.
const serverLogEvery = time.Minute

func newServerLog(log *slog.Logger) *serverLog {
	return &serverLog{log: log, told: map[string]time.Time{}, repeat: map[string]int{}}
}

func (l *serverLog) write(level slog.Level, format string, v ...any) {
	l.mu.Lock()
	now := time.Now()
	if t, ok := l.told[format]; ok && now.Sub(t) < serverLogEvery {
		l.repeat[format]++
		l.mu.Unlock()
		return
	}
	l.told[format] = now
	n := l.repeat[format]
	delete(l.repeat, format)
	l.mu.Unlock()
	args := []any{"component", "nats-server"}
	if n > 0 {
		args = append(args, "repeated", n)
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...), args...)
}

func (l *serverLog) Noticef(string, ...any)         {}
func (l *serverLog) Debugf(string, ...any)          {}
func (l *serverLog) Tracef(string, ...any)          {}
func (l *serverLog) Warnf(format string, v ...any)  { l.write(slog.LevelWarn, format, v...) }
func (l *serverLog) Errorf(format string, v ...any) { l.write(slog.LevelError, format, v...) }
func (l *serverLog) Fatalf(format string, v ...any) { l.write(slog.LevelError, format, v...) }
