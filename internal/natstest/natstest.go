// Package natstest starts a real NATS server with JetStream for tests: the
// embedded server on 127.0.0.1, a random port, its store in t.TempDir().
// Tests of this project never mock NATS.
package natstest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/parley-news/parley/internal/stream"
)

// Server starts an embedded NATS server for the test and stops it at the
// test's end. It returns the client URL.
func Server(t testing.TB) string { return Stoppable(t).ClientURL() }

// Stoppable starts an embedded NATS server for the test, for a test that
// stops it itself (the stream going away); it is stopped at the test's end
// in any case.
func Stoppable(t testing.TB) *stream.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := stream.StartServer(ctx, stream.ServerConfig{Dir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// Conn connects to the server at url with the stream in place, closed at
// the test's end.
func Conn(t testing.TB, url string) *stream.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := stream.Connect(ctx, stream.Config{URL: url, Name: t.Name()})
	if err != nil {
		t.Fatalf("connect nats: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// WithOptions starts a NATS server set as opts says, for a test of a
// server unlike the embedded default (a smaller max_payload, accounts
// from a config file). A zero Port is a random one; signals and logs are
// off; an Options without a StoreDir gets one in t.TempDir(). It is
// stopped at the test's end.
func WithOptions(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	if opts.Port == 0 {
		opts.Port = -1
	}
	if opts.StoreDir == "" {
		opts.StoreDir = t.TempDir()
	}
	opts.NoSigs, opts.NoLog = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	return srv
}

// WithAccounts starts a NATS server with JetStream whose accounts block
// is accounts (users and their permissions, as in a config file), for a
// test of what a user may and may not do. It listens on 127.0.0.1 at a
// random port, keeps its store in t.TempDir(), and is stopped at the
// test's end.
func WithAccounts(t testing.TB, accounts string) *server.Server {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	text := fmt.Sprintf("listen: \"127.0.0.1:-1\"\njetstream { store_dir: %q }\naccounts {\n%s\n}\n", filepath.Join(dir, "js"), accounts)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("nats config: %v", err)
	}
	return WithOptions(t, opts)
}
