package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrStoreFailed is returned by StoreError when JetStream cannot store.
var ErrStoreFailed = errors.New("JetStream cannot write its store")

// StoreError returns why the server's JetStream cannot store, or nil. A
// stream whose store met a write error (a full disk) refuses every message
// from then on, leaving each publish unanswered, and a store that lost its
// write permission shuts JetStream down, even once the disk would take the
// writes again: only a restart of the server clears either.
func (s *Server) StoreError() error {
	h := s.ns.Load().Healthz(&server.HealthzOptions{Details: true})
	var why []string
	for _, e := range h.Errors {
		// Only what a restart mends: JetStream shut down, a store's write
		// error. A stream the server could not recover at start is no
		// reason to restart it again and again.
		switch {
		case e.Type == server.HealthzErrorJetStream,
			(e.Type == server.HealthzErrorStream || e.Type == server.HealthzErrorConsumer) && strings.Contains(e.Error, "write error"):
			why = append(why, e.Error)
		}
	}
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrStoreFailed, strings.Join(why, "; "))
}

// Restart stops the server and starts it again on the same store and
// port, keeping the store's lock. Clients reconnect by themselves; a
// publish left unanswered meanwhile is asked again by Append, which its
// headers make safe. The store is read back as at any start.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("restart: the server was shut down")
	}
	old := s.ns.Load()
	old.Shutdown()
	old.WaitForShutdown()
	ns, err := s.start(ctx)
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	s.ns.Store(ns)
	return nil
}

// limitMargin is how close to JetStream's storage limit the store must be
// for appends to be refused by it: within the largest message.
const limitMargin = 8 << 20

// limitGrowth is how much more storage a restart must give JetStream to be
// worth one.
const limitGrowth = 64 << 20

// limitReached returns, when JetStream's storage is within limitMargin of
// its limit, the limit and the limit a restart would set now. JetStream
// sets its limit once, at start, to three quarters of the disk's free
// space plus what the store holds: a disk that had little room at start
// keeps refusing appends (insufficient resources) after room is made,
// until a restart.
func (s *Server) limitReached(dir string) (limit, now int64, reached bool) {
	ns := s.ns.Load()
	cfg := ns.JetStreamConfig()
	if cfg == nil || cfg.MaxStore <= 0 {
		return 0, 0, false
	}
	used := int64(ns.GlobalAccount().JetStreamUsage().Store)
	if cfg.MaxStore-used > limitMargin {
		return 0, 0, false
	}
	free, ok := diskFree(dir)
	if !ok {
		return cfg.MaxStore, 0, true
	}
	return cfg.MaxStore, (int64(free) + used) / 4 * 3, true
}

// probeSize is what Mend writes to tell that the store's disk takes
// writes again: room for more than a few messages.
const probeSize = 1 << 20

// roomToWrite reports whether dir takes a file of probeSize bytes.
func roomToWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".room-probe-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(make([]byte, probeSize))
	if err := f.Close(); werr == nil {
		werr = err
	}
	return werr
}

// MendConfig configures Server.Mend.
type MendConfig struct {
	// Every is how often the store is looked at; 0 means 5 s.
	Every time.Duration
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// OnStore is told whether the store can write, at each look; nil
	// means nobody.
	OnStore func(ok bool)
}

// Mend watches the server's store until ctx ends. When a write error has
// left JetStream unable to store (see StoreError), it says so once, and
// restarts the server as soon as the store's folder takes a write again:
// a disk that filled up and was given room, a folder made writable again.
// When the store has reached the storage limit JetStream set itself at
// start from the disk's free space, it says so once, and restarts the
// server once the disk has room for a larger one. Without it, appends
// went on failing in either case until someone restarted the process.
func (s *Server) Mend(ctx context.Context, cfg MendConfig) {
	if cfg.Every <= 0 {
		cfg.Every = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OnStore == nil {
		cfg.OnStore = func(bool) {}
	}
	dir := filepath.Join(s.cfg.Dir, "jetstream")
	t := time.NewTicker(cfg.Every)
	defer t.Stop()
	var since, limitSince time.Time
	// A restart that did not mend the store is tried again later and
	// later, up to every 5 minutes: not a restart every few seconds.
	var next time.Time
	wait := cfg.Every
	restart := func(why string, args ...any) {
		if time.Now().Before(next) {
			return
		}
		cfg.Logger.Warn(why, args...)
		if err := s.Restart(ctx); err != nil {
			cfg.Logger.Error("embedded NATS server restart failed; will try again", "err", err)
		}
		next = time.Now().Add(wait)
		wait = min(2*wait, 5*time.Minute)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.StoreError()
		cfg.OnStore(err == nil)
		if err == nil {
			if !since.IsZero() {
				cfg.Logger.Info("stream store writable again", "failed_for", time.Since(since).Round(time.Second))
				since = time.Time{}
			}
			if limitSince.IsZero() {
				next, wait = time.Time{}, cfg.Every
			}
			limit, now, reached := s.limitReached(dir)
			switch {
			case !reached:
				limitSince = time.Time{}
			case limitSince.IsZero():
				limitSince = time.Now()
				cfg.Logger.Error("the stream has reached the storage JetStream allowed itself at start (three quarters of the disk's free space then): appends are refused until the disk has more room, when the embedded server restarts by itself",
					"dir", dir, "limit_bytes", limit)
			}
			if reached && now > limit+limitGrowth {
				restart("the stream's disk has more room; restarting the embedded NATS server to raise its storage limit",
					"dir", dir, "limit_bytes", limit, "new_limit_bytes", now)
			}
			continue
		}
		if since.IsZero() {
			since = time.Now()
			cfg.Logger.Error("the stream cannot store: appends fail until its disk takes writes again, when the embedded server restarts by itself",
				"dir", dir, "err", err)
		}
		if roomToWrite(dir) != nil {
			continue
		}
		restart("the stream's disk takes writes again; restarting the embedded NATS server", "dir", dir)
	}
}
