package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
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
	ns   *server.Server
	lock *os.File // the store's, held while the server runs
}

// StartServer starts an embedded NATS server with JetStream on file storage
// and waits until it accepts clients.
func StartServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
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
	name := cfg.ServerName
	if name == "" {
		name = "parley"
	}
	opts := &server.Options{
		ServerName: name,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   filepath.Join(cfg.Dir, "jetstream"),
		NoSigs:     true,
		// The embedded server serves this process and local tools; it is
		// not a public endpoint.
		MaxPayload: 8 << 20,
	}
	if cfg.SyncInterval <= 0 {
		opts.SyncAlways = true
	} else {
		opts.SyncInterval = cfg.SyncInterval
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
	ns, err := server.NewServer(opts)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
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
		lock.Close()
		return nil, fmt.Errorf("embedded nats: not ready on %s within %s", listen, deadline)
	}
	return &Server{ns: ns, lock: lock}, nil
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
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Shutdown stops the server and waits until it has.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	s.lock.Close()
}
