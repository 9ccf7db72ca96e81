package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/metrics"
	"github.com/parley-news/parley/internal/projections"
)

// Keys of the KV bucket.
func subKey(id string) string    { return "sub." + id }
func statusKey(id string) string { return "status." + id }
func posKey(id string) string    { return "pos." + id }

// registry is this replica's copy of the KV bucket: the subscriptions and
// their status in the bbolt file and in memory, the positions in memory.
// The watcher is its only writer from the bucket; the matcher adds what
// it scanned.
type registry struct {
	s *Service

	mu     sync.Mutex
	subs   map[string]*alert.Subscription
	status map[string]*alert.Status
	// statusRev is the KV revision of each status in status: the watch
	// may bring an older one after this replica wrote a newer.
	statusRev map[string]uint64
	pos       map[string]position
	scanned   map[string]mark
	rev       uint64        // the last KV revision applied
	changed   chan struct{} // closed and replaced on each apply
}

// position is the last development published for a subscription, the
// highest sequence published in its stream (posValue), and the KV
// revision that says so (for compare-and-set).
type position struct {
	mark
	high, rev uint64
}

func newRegistry(s *Service) *registry {
	return &registry{s: s, subs: map[string]*alert.Subscription{}, status: map[string]*alert.Status{},
		statusRev: map[string]uint64{}, pos: map[string]position{}, scanned: map[string]mark{}, changed: make(chan struct{})}
}

// load reads what the file kept from the last run.
func (r *registry) load(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.s.store.View(ctx, func(tx projections.Tx) error {
		err := each(tx, BucketSubscriptions, func(id string, v []byte) error {
			var sub alert.Subscription
			if err := json.Unmarshal(v, &sub); err != nil {
				return fmt.Errorf("subscription %s: %w", id, err)
			}
			r.subs[id] = &sub
			return nil
		})
		if err != nil {
			return err
		}
		err = each(tx, BucketStatus, func(id string, v []byte) error {
			var st alert.Status
			if err := json.Unmarshal(v, &st); err != nil {
				return fmt.Errorf("status %s: %w", id, err)
			}
			r.status[id] = &st
			return nil
		})
		if err != nil {
			return err
		}
		return each(tx, BucketScanned, func(id string, v []byte) error {
			if m, ok := decodeScanned(v); ok {
				r.scanned[id] = m
			}
			return nil
		})
	})
}

func each(tx projections.Tx, bucket string, fn func(id string, v []byte) error) error {
	c := tx.Bucket(bucket).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := fn(string(k), v); err != nil {
			return err
		}
	}
	return nil
}

// watch applies the KV bucket to the registry until ctx ends: first its
// whole content (then synced gets nil, and subscriptions the bucket no
// longer has are dropped), then each change as it comes.
func (r *registry) watch(ctx context.Context, synced chan<- error) {
	first := true
	for ctx.Err() == nil {
		err := r.watchOnce(ctx, &first, synced)
		if ctx.Err() != nil {
			return
		}
		if first {
			synced <- err
			return
		}
		r.s.log.Warn("subscription watch ended; watching again", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (r *registry) watchOnce(ctx context.Context, first *bool, synced chan<- error) error {
	w, err := r.s.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch %s: %w", KVBucket, err)
	}
	defer w.Stop()
	seen := map[string]bool{}
	initial := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watcher closed")
			}
			if e == nil { // the end of the initial values
				if initial {
					initial = false
					if err := r.reconcile(ctx, seen); err != nil {
						return err
					}
					// Only now is every status known: a router started
					// before a disabled one's status was read would
					// deliver its queued alerts.
					r.s.routers.ensureAll(ctx)
					if *first {
						*first = false
						synced <- nil
					}
				}
				continue
			}
			if initial && e.Operation() == jetstream.KeyValuePut {
				seen[e.Key()] = true
			}
			if err := r.apply(ctx, e, !initial); err != nil {
				// The file refused a write: the next watch replays the
				// bucket, applying is idempotent.
				return err
			}
		}
	}
}

// reconcile drops the subscriptions the bucket no longer has: deleted
// while this replica was away.
func (r *registry) reconcile(ctx context.Context, seen map[string]bool) error {
	r.mu.Lock()
	var gone []string
	for id := range r.subs {
		if !seen[subKey(id)] {
			gone = append(gone, id)
		}
	}
	r.mu.Unlock()
	for _, id := range gone {
		if err := r.drop(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// apply applies one KV entry; deliver says whether a subscription put
// starts delivering at once.
func (r *registry) apply(ctx context.Context, e jetstream.KeyValueEntry, deliver bool) error {
	kind, id, _ := strings.Cut(e.Key(), ".")
	put := e.Operation() == jetstream.KeyValuePut
	var err error
	if alert.ValidID(id) {
		switch kind {
		case "sub":
			if put {
				err = r.putSub(ctx, e.Value(), deliver)
			} else {
				err = r.drop(ctx, id)
			}
		case "status":
			err = r.putStatus(ctx, id, e.Value(), put, e.Revision())
		case "pos":
			r.mu.Lock()
			if !put {
				delete(r.pos, id)
			} else if m, high, ok := decodePos(e.Value()); ok && e.Revision() > r.pos[id].rev {
				r.pos[id] = position{mark: m, high: high, rev: e.Revision()}
			}
			r.mu.Unlock()
		}
	}
	if err != nil {
		return fmt.Errorf("apply %s: %w", e.Key(), err)
	}
	r.mu.Lock()
	if e.Revision() > r.rev {
		r.rev = e.Revision()
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	return nil
}

func (r *registry) putSub(ctx context.Context, v []byte, deliver bool) error {
	var sub alert.Subscription
	if err := json.Unmarshal(v, &sub); err != nil || !alert.ValidID(sub.ID) {
		r.s.log.Warn("subscription entry not understood; skipped", "err", err)
		return nil
	}
	err := r.s.store.Update(ctx, func(tx projections.Tx) error {
		return tx.Bucket(BucketSubscriptions).Put([]byte(sub.ID), v)
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.subs[sub.ID] = &sub
	disabled := r.status[sub.ID].Disabled()
	r.mu.Unlock()
	if deliver && !disabled {
		r.s.routers.ensure(ctx, sub.ID)
	}
	r.s.Notify()
	return nil
}

func (r *registry) putStatus(ctx context.Context, id string, v []byte, put bool, rev uint64) error {
	var st alert.Status
	if put {
		if err := json.Unmarshal(v, &st); err != nil {
			r.s.log.Warn("status entry not understood; skipped", "subscription", id, "err", err)
			return nil
		}
	}
	err := r.s.store.Update(ctx, func(tx projections.Tx) error {
		if !put {
			return tx.Bucket(BucketStatus).Delete([]byte(id))
		}
		return tx.Bucket(BucketStatus).Put([]byte(id), v)
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	switch {
	case !put:
		delete(r.status, id)
		delete(r.statusRev, id)
	case rev >= r.statusRev[id]:
		r.status[id] = &st
		r.statusRev[id] = rev
	default:
		// Older than what this replica wrote since (a 410 that disabled
		// the subscription, say): the watch brings the newer one next.
		// Taken now, it would deliver to a receiver that asked to stop.
	}
	r.mu.Unlock()
	// A router of a subscription disabled meanwhile is not stopped here,
	// where its alert in flight could lose its acknowledgement (the
	// alert that disabled it, moving to the dead list): its handler
	// stops it on the next alert, which stays queued.
	return nil
}

// drop forgets a subscription that was deleted.
func (r *registry) drop(ctx context.Context, id string) error {
	r.s.routers.stop(id)
	err := r.s.store.Update(ctx, func(tx projections.Tx) error {
		for _, b := range Buckets {
			if err := tx.Bucket(b).Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.subs, id)
	delete(r.status, id)
	delete(r.statusRev, id)
	delete(r.scanned, id)
	r.mu.Unlock()
	metrics.ForgetSubscription(alert.MetricsLabel(id))
	return nil
}

// waitFor blocks until the watcher has applied revision rev, or until
// cond holds when rev is 0, or ctx ends: a write's answer then agrees
// with a read that follows it.
func (r *registry) waitFor(ctx context.Context, rev uint64, cond func() bool) error {
	for {
		r.mu.Lock()
		done := rev > 0 && r.rev >= rev || rev == 0 && cond()
		ch := r.changed
		r.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// get reads a subscription and its status from the file.
func (r *registry) get(ctx context.Context, id string) (sub *alert.Subscription, st *alert.Status, err error) {
	err = r.s.store.View(ctx, func(tx projections.Tx) error {
		v := tx.Bucket(BucketSubscriptions).Get([]byte(id))
		if v == nil {
			return errNoSubscription
		}
		sub, st, err = decodeEntry(tx, []byte(id), v)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return sub, st, nil
}

// list returns every subscription with its status, oldest first.
func (r *registry) list(ctx context.Context) ([]View, error) {
	out := []View{}
	err := r.s.store.View(ctx, func(tx projections.Tx) error {
		c := tx.Bucket(BucketSubscriptions).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			sub, st, err := decodeEntry(tx, k, v)
			if err != nil {
				return err
			}
			out = append(out, newView(sub.View(), &StatusView{Status: *st}))
		}
		return nil
	})
	slices.SortStableFunc(out, func(a, b View) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, err
}

// decodeEntry reads a subscription as kept in the read model, v under id,
// and its status (active when none is kept).
func decodeEntry(tx projections.Tx, id, v []byte) (*alert.Subscription, *alert.Status, error) {
	sub := new(alert.Subscription)
	if err := json.Unmarshal(v, sub); err != nil {
		return nil, nil, fmt.Errorf("subscription %s: %w", id, err)
	}
	st := &alert.Status{State: alert.StateActive}
	if v := tx.Bucket(BucketStatus).Get(id); v != nil {
		if err := json.Unmarshal(v, st); err != nil {
			return nil, nil, fmt.Errorf("status %s: %w", id, err)
		}
	}
	return sub, st, nil
}

// active returns the subscription with its secret, if it is known, and
// whether it is active.
func (r *registry) active(id string) (*alert.Subscription, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sub := r.subs[id]
	return sub, sub != nil && !r.status[id].Disabled()
}

// start is where matching resumes for sub in the read model tx, of the
// stream cur whose last development is at last: after the last
// development scanned here or published by any replica, never before the
// subscription's start; marks of another stream or history count only
// as far as they cover what this one holds (reach). seen keeps what reach
// answered in tx: the subscriptions mostly share their scanned mark.
func (r *registry) start(tx projections.Tx, sub *alert.Subscription, cur string, last uint64, seen map[reachKey]uint64) (uint64, error) {
	r.mu.Lock()
	scanned, scannedOK := r.scanned[sub.ID]
	pos, posOK := r.pos[sub.ID]
	r.mu.Unlock()
	var at uint64
	var err error
	for _, m := range []struct {
		mark
		ok bool
	}{{scanned, scannedOK}, {pos.mark, posOK}, {startMark(sub, cur, last), true}} {
		if !m.ok || !m.in(cur, sub) {
			continue
		}
		k := reachKey{m.Seq, m.At.UnixNano(), at}
		if got, ok := seen[k]; ok {
			at = got
			continue
		}
		if at, err = reach(tx, m.mark, at); err != nil {
			return 0, fmt.Errorf("start of %s: %w", sub.ID, err)
		}
		seen[k] = at
	}
	return at, nil
}

// snapshot lists the active subscriptions.
func (r *registry) snapshot() []*alert.Subscription {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*alert.Subscription, 0, len(r.subs))
	for id, sub := range r.subs {
		if !r.status[id].Disabled() {
			out = append(out, sub)
		}
	}
	return out
}

// reachKey is what reach answers from, in one transaction and stream.
type reachKey struct {
	seq   uint64
	at    int64
	floor uint64
}

// markScanned records that developments up to m have been matched for
// the subscriptions.
func (r *registry) markScanned(ctx context.Context, ids []string, m mark) error {
	val := encodeScanned(m)
	r.mu.Lock()
	var todo []string
	for _, id := range ids {
		old, known := r.scanned[id]
		if r.subs[id] != nil && (!known || old.Stream != m.Stream || m.after(old)) {
			todo = append(todo, id)
		}
	}
	r.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	err := r.s.store.Update(ctx, func(tx projections.Tx) error {
		for _, id := range todo {
			if err := tx.Bucket(BucketScanned).Put([]byte(id), val); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record scanned: %w", err)
	}
	r.mu.Lock()
	for _, id := range todo {
		if r.subs[id] != nil {
			r.scanned[id] = m
		}
	}
	r.mu.Unlock()
	return nil
}

// setPos records in the bucket that the development at m is published
// for sub, unless a later one of the same stream already is. A position
// of another stream gives way.
func (r *registry) setPos(ctx context.Context, sub *alert.Subscription, m mark) error {
	id := sub.ID
	for range 20 {
		r.mu.Lock()
		p, known := r.pos[id]
		r.mu.Unlock()
		same := known && p.in(m.Stream, sub)
		if same && !m.after(p.mark) {
			return nil
		}
		high := m.Seq
		if same {
			high = max(high, p.high)
		}
		val := encodePos(m, high)
		var rev uint64
		var err error
		if known {
			rev, err = r.s.kv.Update(ctx, posKey(id), val, p.rev)
		} else {
			rev, err = r.s.kv.Create(ctx, posKey(id), val)
		}
		if err == nil {
			r.mu.Lock()
			if rev > r.pos[id].rev {
				r.pos[id] = position{mark: m, high: high, rev: rev}
			}
			r.mu.Unlock()
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("record position of %s: %w", id, err)
		}
		// Another replica moved it: read it and decide again.
		e, err := r.s.kv.Get(ctx, posKey(id))
		r.mu.Lock()
		switch {
		case err == nil:
			if pm, high, ok := decodePos(e.Value()); ok {
				r.pos[id] = position{mark: pm, high: high, rev: e.Revision()}
			}
		case isNotFound(err):
			delete(r.pos, id)
		}
		r.mu.Unlock()
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("read position of %s: %w", id, err)
		}
	}
	return fmt.Errorf("record position of %s: too many conflicts", id)
}

// adopt records cur as the stream sub's After counts in, for a
// subscription made before streams were kept (alert.Subscription.Stream):
// the read model's stream is the one it was made on, unless the stream was
// replaced before this version first ran, which nothing can tell now.
// Once recorded, a later replacement is known for one. A conflict (a
// rotation meanwhile) leaves it to the next round.
func (r *registry) adopt(ctx context.Context, id, cur string) error {
	e, err := r.s.kv.Get(ctx, subKey(id))
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read subscription %s: %w", id, err)
	}
	var sub alert.Subscription
	if err := json.Unmarshal(e.Value(), &sub); err != nil {
		return fmt.Errorf("subscription %s: %w", id, err)
	}
	if sub.Stream != "" {
		return nil
	}
	sub.Stream = cur
	b, err := json.Marshal(sub)
	if err != nil {
		return err
	}
	_, err = r.s.kv.Update(ctx, subKey(id), b, e.Revision())
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return fmt.Errorf("record the stream of %s: %w", id, err)
	}
	return nil
}

// updateStatus changes a subscription's status in the bucket with
// compare-and-set, so that replicas never undo each other's changes.
func (r *registry) updateStatus(ctx context.Context, id string, fn func(*alert.Status)) error {
	for range 20 {
		if sub, _ := r.active(id); sub == nil {
			return nil // deleted meanwhile: no status to keep
		}
		st := alert.Status{State: alert.StateActive}
		var rev uint64
		e, err := r.s.kv.Get(ctx, statusKey(id))
		switch {
		case err == nil:
			if err := json.Unmarshal(e.Value(), &st); err != nil {
				return fmt.Errorf("status of %s: %w", id, err)
			}
			rev = e.Revision()
		case !isNotFound(err):
			return fmt.Errorf("read status of %s: %w", id, err)
		}
		fn(&st)
		b, _ := json.Marshal(st)
		var newRev uint64
		if rev == 0 {
			newRev, err = r.s.kv.Create(ctx, statusKey(id), b)
		} else {
			newRev, err = r.s.kv.Update(ctx, statusKey(id), b, rev)
		}
		if err == nil {
			// Known here at once, before the watch brings it back: the
			// next alert's handler must see a subscription just
			// disabled as disabled.
			r.mu.Lock()
			if newRev >= r.statusRev[id] {
				r.status[id] = &st
				r.statusRev[id] = newRev
			}
			r.mu.Unlock()
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("record status of %s: %w", id, err)
		}
	}
	return fmt.Errorf("record status of %s: too many conflicts", id)
}

// published is the last development published for a subscription, as
// this replica knows it, and whether one is.
func (r *registry) published(id string) (position, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.pos[id]
	return p, ok
}

// each calls fn with the id of every subscription this replica knows,
// under the lock drop forgets one under: a gauge set by fn is never set
// again for a subscription whose series drop has removed.
func (r *registry) each(fn func(id string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.subs {
		fn(id)
	}
}

// count is how many subscriptions this replica knows.
func (r *registry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.subs)
}
