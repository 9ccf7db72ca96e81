package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/procstat"
	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/projector"
)

// Rebuild replays the whole stream into a new read model in DataDir and
// swaps it in. On the embedded default it opens the JetStream store under
// DataDir itself, on a free loopback port, so no projector may be running
// on the folder.
func Rebuild(ctx context.Context, c Config) (projector.RebuildStats, error) {
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return projector.RebuildStats{}, err
	}
	if c.NATSURL == "" {
		// A mistyped folder would otherwise get an empty store, and a
		// rebuild of nothing that says it succeeded.
		if _, err := os.Stat(filepath.Join(c.DataDir, "jetstream")); err != nil {
			return projector.RebuildStats{}, fmt.Errorf("no stream in %s to rebuild from (%w): is -data right, or is the stream on a server (-nats)?", c.DataDir, err)
		}
	}
	if err := writable(c.DataDir); err != nil {
		return projector.RebuildStats{}, err
	}
	path := filepath.Join(c.DataDir, projector.ModelFile)
	// Holding the file's lock for the whole rebuild keeps a projector from
	// starting on the folder meanwhile.
	lock, err := bolt.Open(path, bolt.Options{})
	if err != nil && !errors.Is(err, bolt.ErrLocked) && !errors.Is(err, os.ErrPermission) {
		// A file bbolt refuses is what a rebuild is for: kept aside, as a
		// start does, and replaced. One this process may not open is not.
		aside, aerr := projector.KeepAside(path, "damaged")
		if aerr != nil {
			return projector.RebuildStats{}, fmt.Errorf("%w (and %v)", err, aerr)
		}
		fmt.Fprintf(c.Out, "rebuild: %v; kept aside as %s\n", err, aside)
		lock, err = bolt.Open(path, bolt.Options{})
	}
	if err != nil {
		return projector.RebuildStats{}, LockedHint(c.DataDir, inUseRebuild, err)
	}
	defer lock.Close()
	st, err := OpenStream(ctx, c, "127.0.0.1:0")
	if err != nil {
		return projector.RebuildStats{}, LockedHint(c.DataDir, inUseRebuild, err)
	}
	defer st.Close()
	// The parts' buckets (alert subscriptions, their status and position)
	// are not in the stream: they come across from the file being replaced.
	buckets := partBuckets()
	stats, err := projector.Rebuild(ctx, st.Conn, path, c.Out, buckets, func(new *bolt.Store) error {
		return bolt.CopyBuckets(ctx, lock, new, buckets)
	})
	if err == nil {
		if peak := procstat.PeakRSSMiB(); peak > 0 {
			fmt.Fprintf(c.Out, "rebuild: peak resident memory %.0f MiB\n", peak)
		}
	}
	return stats, err
}

// OpenReadModel opens the read model file in DataDir for the replay
// commands (state, history, diff), which read it without a server.
func OpenReadModel(c Config) (*bolt.Store, error) {
	path := filepath.Join(c.DataDir, projector.ModelFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no read model in %s: run the projector on it first (%w)", c.DataDir, err)
	}
	// A sealed file whose bytes differ is never handed to bbolt, which
	// would print what a flipped bit says, or crash.
	if _, err := bolt.VerifyFile(context.Background(), path); err != nil {
		return nil, fmt.Errorf("%w: start the projector on %s, which keeps it aside and rebuilds it", err, c.DataDir)
	}
	// Read only: the file stays as the projector left it, seal and all.
	st, err := bolt.Open(path, bolt.Options{ReadOnly: true})
	if err != nil {
		return nil, LockedHint(c.DataDir, inUseRead, err)
	}
	var v uint64
	_ = st.View(context.Background(), func(tx projections.Tx) error { v = projections.ModelVersion(tx); return nil })
	if v != projections.Version {
		st.Close()
		return nil, fmt.Errorf("read model %s is of projection version %d, this binary reads %d: run 'projector rebuild -data %s'", path, v, projections.Version, c.DataDir)
	}
	return st, nil
}
