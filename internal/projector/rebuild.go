package projector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/metrics"
	"github.com/parley-news/parley/internal/progress"
	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/stream"
)

// ModelFile is the read model's file name in the data folder.
const ModelFile = "readmodel.db"

// RebuildBatch is the batch of a rebuild: larger than the live one, since
// nobody waits for a single event to become visible, but not so large that
// bbolt's in-memory nodes grow long (it splits them only at commit, and
// every insert into a long node moves its tail).
const RebuildBatch = 4000

// RebuildRemap is how many events a rebuild applies between reopening its
// file. bbolt reads through a memory map, and every page it has read stays
// in the process's resident memory until the map goes: reopening keeps a
// rebuild of millions of events within a few hundred MiB. (The pages it
// writes go through the file, not the map.)
const RebuildRemap = 4_000

// rebuildHeap is the room a rebuild's own garbage may take above the heap
// live when it starts: well above what a batch keeps live, so that
// collection runs before the heap doubles rather than after.
const rebuildHeap = 256 << 20

// rebuildMemoryLimit is the soft ceiling a rebuild sets on the heap: the
// heap live when it starts, plus its own room. On the embedded default the
// NATS server's heap is in the process too (a few hundred MiB for a
// million events, one subject each); a ceiling below it would have the
// collector run back to back for the whole rebuild.
func rebuildMemoryLimit() int64 {
	runtime.GC()
	s := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
	rtmetrics.Read(s)
	var live int64
	if s[0].Value.Kind() == rtmetrics.KindUint64 {
		live = int64(s[0].Value.Uint64())
	}
	return live + rebuildHeap
}

// RebuildStats are the figures of one rebuild.
type RebuildStats struct {
	Events   uint64
	Duration time.Duration
}

// Rate is the rebuild's events per second.
func (s RebuildStats) Rate() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.Events) / s.Duration.Seconds()
}

// reopen closes and opens the rebuild's file, to let go of the pages its
// memory map has read. The file is unlocked in between: another rebuild,
// or a projector starting, may take it for the leftover of a killed one
// and remove it, and opening would then start an empty file. So the file
// opened must be the one the rebuild started (first), or the rebuild
// fails rather than swap in what it holds.
func reopen(st *bolt.Store, tmp string, buckets []string, first os.FileInfo) (*bolt.Store, error) {
	if err := st.Close(); err != nil {
		return nil, err
	}
	st, err := bolt.Open(tmp, bolt.Options{NoSync: true, Buckets: buckets})
	if err != nil {
		return nil, err
	}
	if now, err := os.Stat(tmp); err != nil || !os.SameFile(first, now) {
		return st, fmt.Errorf("%s was removed while the rebuild wrote it (another rebuild, or a projector starting on the same folder)", tmp)
	}
	return st, nil
}

// RebuildFile is where a rebuild of the model at path writes until its
// swap.
func RebuildFile(path string) string { return path + ".rebuild" }

// Rebuild replays the whole stream into a new read model next to path and
// renames it over path only when it is complete and synced, so that a
// crash in the middle leaves the old file as it was. Progress goes to w
// (nil for none). Extra buckets are created for adapters sharing the file;
// carry, when not nil, is called with the new store before the swap, to
// carry over state that is not projected from the stream.
func Rebuild(ctx context.Context, conn *stream.Conn, path string, w io.Writer, buckets []string, carry func(new *bolt.Store) error) (RebuildStats, error) {
	tmp := RebuildFile(path)
	// A rebuild that died leaves its file, only ever a partial copy; one
	// that is running keeps it locked, and two at once would clobber it.
	if _, err := bolt.RemoveStale(tmp); errors.Is(err, bolt.ErrLocked) {
		return RebuildStats{}, fmt.Errorf("rebuild: another rebuild is writing %s: %w", tmp, bolt.ErrLocked)
	} else if err != nil {
		return RebuildStats{}, fmt.Errorf("rebuild: %w", err)
	}
	start := time.Now()
	st, err := bolt.Open(tmp, bolt.Options{NoSync: true, Buckets: buckets})
	if err != nil {
		return RebuildStats{}, fmt.Errorf("rebuild: %w", err)
	}
	defer func() {
		if st != nil {
			st.Close()
			os.Remove(tmp)
		}
	}()
	first, err := os.Stat(tmp)
	if err != nil {
		return RebuildStats{}, fmt.Errorf("rebuild: %w", err)
	}
	state, err := conn.State(ctx)
	if err != nil {
		return RebuildStats{}, fmt.Errorf("rebuild: %w", err)
	}
	last := state.LastSeq
	err = st.Update(ctx, func(tx projections.Tx) error {
		if err := projections.Init(tx); err != nil {
			return err
		}
		return projections.SetStreamID(tx, state.ID)
	})
	if err != nil {
		return RebuildStats{}, fmt.Errorf("rebuild: %w", err)
	}
	metrics.RebuildTotal.Set(float64(last))
	metrics.RebuildDone.Set(0)
	rebuilding.total.Store(last)
	rebuilding.applied.Store(0)
	rebuilding.running.Add(1)
	defer rebuilding.running.Add(-1)
	var bar *progress.Bar
	if w != nil {
		bar = progress.New(w, "rebuild", "events", last)
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(rebuildMemoryLimit()))
	var n, sinceOpen uint64
	if last > 0 {
		err = conn.Consume(ctx, stream.ConsumeConfig{From: 1, Until: last, BatchMax: RebuildBatch, Prepare: prepare}, func(ctx context.Context, batch []stream.Message) error {
			err := st.Update(ctx, func(tx projections.Tx) error {
				_, err := projections.ApplyBatch(tx, messages(batch))
				return err
			})
			if err != nil {
				return err
			}
			n += uint64(len(batch))
			if sinceOpen += uint64(len(batch)); sinceOpen >= RebuildRemap {
				sinceOpen = 0
				if st, err = reopen(st, tmp, buckets, first); err != nil {
					return err
				}
			}
			metrics.RebuildDone.Set(float64(batch[len(batch)-1].Seq))
			rebuilding.applied.Store(batch[len(batch)-1].Seq)
			if bar != nil {
				bar.Set(batch[len(batch)-1].Seq)
			}
			return nil
		})
		if err != nil {
			return RebuildStats{}, fmt.Errorf("rebuild: replay: %w", err)
		}
	}
	if bar != nil {
		bar.Finish(last)
	}
	if carry != nil {
		if err := carry(st); err != nil {
			return RebuildStats{}, fmt.Errorf("rebuild: carry over: %w", err)
		}
	}
	// Synced once: the rebuilt file is whole before it is swapped in.
	if err := st.Sync(); err != nil {
		return RebuildStats{}, fmt.Errorf("rebuild: sync: %w", err)
	}
	if err := st.Close(); err != nil {
		return RebuildStats{}, fmt.Errorf("rebuild: close: %w", err)
	}
	st = nil
	// The old file's seal does not describe the new one.
	if err := bolt.UnsealFile(path); err != nil {
		return RebuildStats{}, fmt.Errorf("rebuild: %w", err)
	}
	if err := swap(tmp, path); err != nil {
		return RebuildStats{}, fmt.Errorf("rebuild: %w", err)
	}
	return RebuildStats{Events: n, Duration: time.Since(start)}, nil
}

// rebuilding mirrors the rebuild gauges for RebuildProgress: a process
// runs one rebuild at a time (a second beside it refuses).
var rebuilding struct {
	applied, total atomic.Uint64
	running        atomic.Int32
}

// RebuildProgress reports the progress of the rebuild running in this
// process: the last stream sequence replayed of the total, and whether
// one runs. A service starting on a read model it must rebuild says it
// on /readyz.
func RebuildProgress() (applied, total uint64, running bool) {
	return rebuilding.applied.Load(), rebuilding.total.Load(), rebuilding.running.Load() > 0
}

// swap renames the new file over the old one and syncs the folder, so that
// after a crash the path names one whole file or the other.
func swap(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("swap in %s: %w", tmp, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	return nil
}

// ErrNeedsRebuild says why a read model file cannot be served as it is.
var ErrNeedsRebuild = errors.New("read model needs a rebuild")

// OpenModel opens the read model in dir, rebuilding it from the stream
// first when it was written by another projection version, fails bbolt's
// consistency check or cannot be opened at all. A damaged file is kept
// aside (renamed with a .damaged-TIME suffix), never deleted.
func OpenModel(ctx context.Context, conn *stream.Conn, dir string, buckets []string, w io.Writer, log *slog.Logger) (*bolt.Store, error) {
	if log == nil {
		log = slog.Default()
	}
	path := filepath.Join(dir, ModelFile)
	if removed, err := bolt.RemoveStale(RebuildFile(path)); removed {
		log.Info("removed the file of an interrupted rebuild", "path", RebuildFile(path))
	} else if err != nil && !errors.Is(err, bolt.ErrLocked) {
		// A rebuild against a NATS server may be running: its file is
		// left alone. Anything else is worth a line, not a refusal.
		log.Warn("could not remove the file of an interrupted rebuild", "err", err)
	}
	cp, built, reason := check(ctx, path, buckets)
	if reason == nil && cp > 0 {
		s, err := conn.State(ctx)
		if err != nil {
			return nil, err
		}
		// Consuming from a checkpoint past the stream's end, or in
		// another stream, would skip every event up to it.
		switch {
		case built != "" && built != s.ID:
			reason = fmt.Errorf("%w: it was built from the stream %s, and the stream now is %s", errAhead, built, s.ID)
		case cp > s.LastSeq:
			reason = fmt.Errorf("%w: it holds the stream up to message %d, and the stream ends at %d", errAhead, cp, s.LastSeq)
		}
	}
	if reason == nil {
		return bolt.Open(path, bolt.Options{Buckets: buckets})
	}
	if !errors.Is(reason, ErrNeedsRebuild) {
		return nil, reason // locked by another process, not readable by this one
	}
	log.Warn("rebuilding read model", "path", path, "reason", reason)
	if w != nil {
		fmt.Fprintf(w, "rebuilding read model %s: %v\n", path, reason)
	}
	var carry func(new *bolt.Store) error
	if errors.Is(reason, errVersion) {
		carry = func(new *bolt.Store) error {
			old, err := bolt.Open(path, bolt.Options{Buckets: buckets})
			if err != nil {
				return err
			}
			defer old.Close()
			return bolt.CopyBuckets(ctx, old, new, buckets)
		}
	} else if _, err := os.Stat(path); err == nil {
		why := "damaged"
		if errors.Is(reason, errAhead) {
			why = "other-stream"
		}
		aside, err := KeepAside(path, why)
		if err != nil {
			return nil, err
		}
		log.Warn("read model kept aside", "path", aside)
	}
	stats, err := Rebuild(ctx, conn, path, w, buckets, carry)
	if err != nil {
		return nil, err
	}
	log.Info("read model rebuilt", "events", stats.Events, "duration", stats.Duration, "events_per_second", int(stats.Rate()))
	return bolt.Open(path, bolt.Options{Buckets: buckets})
}

// KeepAside renames a read model file that cannot be served with a
// .WHY-TIME suffix (damaged, other-stream), never deleting it, and returns
// the new name. Its seal goes: left in place, it would judge the file
// rebuilt in its stead if that rebuild were killed before its swap.
func KeepAside(path, why string) (string, error) {
	aside := fmt.Sprintf("%s.%s-%s", path, why, time.Now().UTC().Format("20060102T150405.000"))
	if err := os.Rename(path, aside); err != nil {
		return "", fmt.Errorf("keep damaged read model aside: %w", err)
	}
	if err := bolt.UnsealFile(path); err != nil {
		return "", err
	}
	return aside, nil
}

var (
	errVersion = fmt.Errorf("%w: written by another projection version", ErrNeedsRebuild)
	errAhead   = fmt.Errorf("%w: not built from this stream (restored from an older backup, or another stream)", ErrNeedsRebuild)
)

// check returns the checkpoint of the file at path and the stream it was
// built from (projections.StreamID), or why it cannot be served. A
// missing file is fine: it is a new, empty read model that catches up by
// consuming. A file this process may not read is an error, not a reason
// to rebuild.
func check(ctx context.Context, path string, buckets []string) (cp uint64, built string, reason error) {
	// bbolt trusts its pages; a damaged one can panic on read. That is a
	// reason to rebuild, not to crash in a loop.
	defer func() {
		if r := recover(); r != nil {
			cp, built, reason = 0, "", fmt.Errorf("%w: %v", ErrNeedsRebuild, r)
		}
	}()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return 0, "", nil
	}
	// The bytes first: a damaged file is never handed to bbolt. The seal
	// has then told what it could, and goes: opening the file writes to
	// it, and a seal left on other bytes would make the next start take
	// the file for damaged.
	sealed, err := bolt.VerifyFile(ctx, path)
	switch {
	case ctx.Err() != nil:
		// A stop asked for while checking says nothing of the file.
		return 0, "", ctx.Err()
	case errors.Is(err, os.ErrPermission):
		return 0, "", fmt.Errorf("read model: %w", err)
	case err != nil:
		return 0, "", fmt.Errorf("%w: %v", ErrNeedsRebuild, err)
	}
	if err := bolt.UnsealFile(path); err != nil {
		return 0, "", err
	}
	st, err := bolt.Open(path, bolt.Options{Buckets: buckets})
	if errors.Is(err, bolt.ErrLocked) || errors.Is(err, os.ErrPermission) {
		return 0, "", err
	}
	if err != nil {
		return 0, "", fmt.Errorf("%w: %v", ErrNeedsRebuild, err)
	}
	defer st.Close()
	// A sealed file's bytes are those a clean stop left, which bbolt wrote
	// whole: its structure needs no check, which would read every page (a
	// minute and more at a million events, at every start). A file left
	// by a crash has no seal, and is checked.
	if !sealed {
		if err := st.Check(ctx); ctx.Err() != nil {
			return 0, "", ctx.Err()
		} else if err != nil {
			return 0, "", fmt.Errorf("%w: %v", ErrNeedsRebuild, err)
		}
	}

	var v uint64
	if err := st.View(ctx, func(tx projections.Tx) error {
		v, cp, built = projections.ModelVersion(tx), projections.Checkpoint(tx), projections.StreamID(tx)
		return nil
	}); err != nil {
		return 0, "", fmt.Errorf("%w: %v", ErrNeedsRebuild, err)
	}
	if v != 0 && v != projections.Version {
		return 0, "", fmt.Errorf("%w (file version %d, code version %d)", errVersion, v, projections.Version)
	}
	return cp, built, nil
}
