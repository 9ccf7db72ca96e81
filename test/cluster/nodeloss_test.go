//go:build cluster

package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-news/parley/internal/stream"
)

// TestClusterNodeLoss ingests events with the ingest binary into a
// three-node cluster while the stream's leader is killed with SIGKILL and
// restarted, twice, on two different nodes; two projector replicas consume
// meanwhile, and one of them is killed with SIGKILL and restarted. Then:
// every event ingest appended is in the stream exactly once and nothing it
// rejected is; both replicas, a third one started empty afterwards and a
// rebuild have the same read model, byte for byte.
func TestClusterNodeLoss(t *testing.T) {
	bins := build(t)
	n := eventCount(t)
	dir := testDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	began := time.Now()

	c := startCluster(t, bins.NATSServer, dir)
	js := c.adminJS(t)
	corp := writeCorpus(t, dir, "", n, 10)
	t.Logf("cluster up, %d records in %d files, in %s", n, len(corp.Files), time.Since(began).Round(time.Millisecond))

	ingestStart := time.Now()
	ing := start(t, dir, "ingest", nil, bins.Ingest,
		append([]string{"-nats", c.URLs("ingest"), "-tls-ca", c.ca}, corp.Files...)...)
	info := waitStream(t, ctx, js)
	checkStreamConfig(t, info)

	mon := watchProgress(ctx, js)
	a := startReplica(t, bins, c, dir, "projector-a")
	b := startReplica(t, bins, c, dir, "projector-b")

	// Two stream leaders killed, each a different node.
	var kills []kill
	for i, at := range []int{n / 4, n / 2} {
		if !mon.waitFor(ctx, uint64(at), ing) {
			t.Fatalf("ingest did not reach %d events (at %d; ingest exited: %v)", at, mon.last(), ing.exited())
		}
		avoid := ""
		if i > 0 {
			avoid = kills[0].node
		}
		k := killLeader(t, ctx, c, js, mon, avoid)
		kills = append(kills, k)
	}

	// A projector replica killed in the middle of the stream.
	if !mon.waitFor(ctx, uint64(n*7/10), ing) {
		t.Fatalf("ingest did not reach %d events", n*7/10)
	}
	bKilledAt, _ := b.applied(ctx)
	b.p.kill()
	time.Sleep(time.Second)
	restarted := time.Now()
	b = startReplica(t, bins, c, dir, "projector-b")
	head := mon.last()
	b.waitApplied(t, ctx, head)
	t.Logf("projector-b killed with SIGKILL at applied %d, restarted, back at the stream's head %d (and ingest going on) in %s",
		bKilledAt, head, time.Since(restarted).Round(time.Millisecond))

	code := ing.wait(t, time.Until(deadline(ctx)))
	ingestTook := time.Since(ingestStart)
	mon.stop()
	got := parseIngest(t, ing.output())
	if code != 1 || got.Failed != 0 || got.Rejected != corp.Rejected || got.Conflict != corp.Conflict || got.Appended+got.Duplicate != corp.Appended+corp.Duplicate {
		t.Errorf("ingest exited %d with %d appended, %d duplicate, %d rejected, %d conflict, %d failed; want exit 1 (rejections) with %d appended, %d duplicate, %d rejected, %d conflict, 0 failed",
			code, got.Appended, got.Duplicate, got.Rejected, got.Conflict, got.Failed, corp.Appended, corp.Duplicate, corp.Rejected, corp.Conflict)
	}
	if got.Appended != corp.Appended {
		// A retry after a lost acknowledgement of a record that is a
		// duplicate of an earlier one is reported appended: the retry
		// cannot tell "stored by my lost attempt" from "stored before".
		t.Logf("ingest classified %d records as appended, %d as duplicate (generated %d and %d)", got.Appended, got.Duplicate, corp.Appended, corp.Duplicate)
	}
	for id := range got.RejectedIDs {
		if !corp.Invalid[id] && corp.Want[id] == ([32]byte{}) {
			t.Errorf("ingest rejected %s, which is neither invalid nor a conflict", id)
		}
	}

	// Every node is back and current; the stream holds each appended event
	// once and nothing rejected.
	info, err := waitCurrent(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	st, err := readStream(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, corp, st)
	t.Logf("ingest: %d records in %s (%.0f/s), through %d leader kills; stream last seq %d, leader %s",
		n, ingestTook.Round(time.Millisecond), float64(n)/ingestTook.Seconds(), len(kills), st.Last, info.Cluster.Leader)
	for _, k := range kills {
		t.Logf("SIGKILL of stream leader %s at seq %d: %s took over after %s; %s restarted after %s",
			k.node, k.atSeq, k.newLeader, k.elected.Round(time.Millisecond), k.node, k.down.Round(time.Millisecond))
	}

	// Both replicas catch up; then a third starts empty and catches up by
	// itself; then a rebuild.
	catchStart := time.Now()
	a.waitApplied(t, ctx, st.Last)
	b.waitApplied(t, ctx, st.Last)
	t.Logf("replicas a and b caught up %s after ingest ended", time.Since(catchStart).Round(time.Millisecond))
	a.p.stop(t, 30*time.Second)
	b.p.stop(t, 30*time.Second)

	t.Logf("sizes: read model %s of replica a, JetStream store of node n1 %s", humanSize(dirSize(filepath.Join(a.dir, "readmodel.db"))), humanSize(dirSize(filepath.Join(dir, "n1"))))

	newStart := time.Now()
	fresh := startReplica(t, bins, c, dir, "projector-c")
	fresh.waitApplied(t, ctx, st.Last)
	took := time.Since(newStart)
	fresh.p.stop(t, 30*time.Second)
	t.Logf("replica c started empty and applied %d events in %s: %.0f events/s", st.Last, took.Round(time.Millisecond), float64(st.Last)/took.Seconds())

	rebuildDir := filepath.Join(dir, "rebuild")
	if err := os.MkdirAll(rebuildDir, 0o750); err != nil {
		t.Fatal(err)
	}
	rb := start(t, dir, "rebuild", nil, bins.Projector, "rebuild", "-data", rebuildDir, "-nats", c.URLs("projector"), "-tls-ca", c.ca)
	if code := rb.wait(t, time.Until(deadline(ctx))); code != 0 {
		t.Fatalf("projector rebuild exited %d:\n%s", code, rb.tail(10))
	}

	ref := readDump(t, rebuildDir, filepath.Join(dir, "rebuild.dump"))
	if ref.size == 0 {
		t.Fatal("the rebuilt read model is empty")
	}
	same := true
	for _, r := range []*replica{a, b, fresh} {
		if d := readDump(t, r.dir, filepath.Join(dir, r.name+".dump")); d.sum != ref.sum {
			same = false
			t.Errorf("%s's read model differs from the rebuild: %s", r.name, firstDifference(d, ref))
		}
	}
	if same {
		t.Logf("read models of a, b, c and the rebuild identical (%d dump bytes)", ref.size)
	}
	t.Logf("whole test %s", time.Since(began).Round(time.Second))
}

// dirSize is the bytes in the files under path.
func dirSize(path string) int64 {
	var n int64
	_ = filepath.WalkDir(path, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func humanSize(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// waitStream waits until the ingest has created the stream.
func waitStream(t *testing.T, ctx context.Context, js jetstream.JetStream) *jetstream.StreamInfo {
	t.Helper()
	for {
		info, err := streamInfo(ctx, js)
		if err == nil {
			return info
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no stream %s: %v", stream.DefaultStreamName, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// checkStreamConfig checks what internal/stream chose on a cluster.
func checkStreamConfig(t *testing.T, info *jetstream.StreamInfo) {
	t.Helper()
	cfg := info.Config
	// Right after creation the group may have no leader yet: its peers
	// are then all listed as replicas.
	peers := len(info.Cluster.Replicas)
	if info.Cluster.Leader != "" {
		peers++
	}
	if cfg.Replicas != 3 || peers != 3 {
		t.Errorf("stream has %d replicas (%d peers: %+v), want 3 on a three-node cluster", cfg.Replicas, peers, info.Cluster)
	}
	if cfg.Storage != jetstream.FileStorage {
		t.Errorf("stream storage %v, want file", cfg.Storage)
	}
	if cfg.Duplicates != stream.DefaultDuplicateWindow {
		t.Errorf("duplicate window %s, want %s", cfg.Duplicates, stream.DefaultDuplicateWindow)
	}
	if cfg.MaxMsgsPerSubject != 1 || !cfg.DenyDelete || !cfg.DenyPurge {
		t.Errorf("stream config %+v: want one message per subject, no delete, no purge", cfg)
	}
}

type kill struct {
	node, newLeader string
	atSeq           uint64
	elected         time.Duration // until another node led the stream (its log)
	at              time.Time
	down            time.Duration // how long the node was down
}

// killLeader kills the stream leader (moving leadership off avoid first),
// waits for a new leader, and restarts the node after three seconds.
func killLeader(t *testing.T, ctx context.Context, c *natsCluster, js jetstream.JetStream, mon *progress, avoid string) kill {
	t.Helper()
	l, err := leader(ctx, js, "")
	if err != nil {
		t.Fatal(err)
	}
	for tries := 0; l == avoid && tries < 10; tries++ {
		// Ask the leader to step down so that another node is killed.
		_, _ = js.Conn().RequestWithContext(ctx, fmt.Sprintf("$JS.API.STREAM.LEADER.STEPDOWN.%s", stream.DefaultStreamName), nil)
		if l, err = leader(ctx, js, avoid); err != nil {
			t.Fatal(err)
		}
	}
	if l == avoid {
		t.Fatalf("leadership stays on %s", avoid)
	}
	i := c.index(l)
	k := kill{node: l, atSeq: mon.last()}
	killed := time.Now()
	c.kill(i)
	k.at = killed
	// The new leader says so in its log, to the microsecond.
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	nl, at, err := c.waitLog(wctx, killed, "new stream leader for 'PARLEY > "+stream.DefaultStreamName+"'")
	if err != nil {
		t.Fatal(err)
	}
	k.newLeader, k.elected = nl, at.Sub(killed)
	if d := time.Until(killed.Add(3 * time.Second)); d > 0 {
		time.Sleep(d)
	}
	c.start(i)
	k.down = time.Since(killed)
	return k
}

// progress samples the stream's last sequence ten times a second.
type progress struct {
	mu      sync.Mutex
	samples []sample
	cancel  context.CancelFunc
	done    chan struct{}
}

type sample struct {
	at  time.Time
	seq uint64
}

func watchProgress(ctx context.Context, js jetstream.JetStream) *progress {
	ctx, cancel := context.WithCancel(ctx)
	p := &progress{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			qctx, qcancel := context.WithTimeout(ctx, 2*time.Second)
			info, err := streamInfo(qctx, js)
			qcancel()
			if err != nil {
				continue
			}
			p.mu.Lock()
			p.samples = append(p.samples, sample{time.Now(), info.State.LastSeq})
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *progress) stop() { p.cancel(); <-p.done }

func (p *progress) last() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.samples) == 0 {
		return 0
	}
	return p.samples[len(p.samples)-1].seq
}

// waitFor waits until the stream's last sequence reaches seq; false if ctx
// ended or the ingest exited first.
func (p *progress) waitFor(ctx context.Context, seq uint64, ing *proc) bool {
	for p.last() < seq {
		if ing != nil && ing.exited() {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return true
}

// ingestCounts are ingest's per-file lines added up.
type ingestCounts struct {
	Appended, Duplicate, Rejected, Conflict, Failed int
	RejectedIDs                                     map[string]bool
}

var (
	countsLine = regexp.MustCompile(`^\S+\.ndjson: (\d+) appended, (\d+) duplicate, (\d+) rejected(?:, (\d+) conflict)?(?:, (\d+) failed)?$`)
	idInError  = regexp.MustCompile(`\(id ([a-z0-9._-]+)\)|^id ([a-z0-9._-]+):`)
)

func parseIngest(t *testing.T, lines []string) ingestCounts {
	t.Helper()
	c := ingestCounts{RejectedIDs: map[string]bool{}}
	files := 0
	for _, l := range lines {
		if m := countsLine.FindStringSubmatch(l); m != nil {
			files++
			for i, into := range []*int{&c.Appended, &c.Duplicate, &c.Rejected, &c.Conflict, &c.Failed} {
				if m[i+1] != "" {
					v, _ := strconv.Atoi(m[i+1])
					*into += v
				}
			}
			continue
		}
		status, reason, ok := strings.Cut(strings.TrimSpace(l), ": ")
		if !ok || !strings.HasPrefix(l, "  ") {
			continue
		}
		if m := idInError.FindStringSubmatch(reason); m != nil && (status == "rejected" || status == "conflict") {
			c.RejectedIDs[m[1]+m[2]] = true
		}
	}
	if files == 0 {
		t.Fatalf("ingest printed no counts:\n%s", strings.Join(lines, "\n"))
	}
	return c
}

// checkStored compares the stream with what the corpus must leave in it.
func checkStored(t *testing.T, corp corpus, st *stored) {
	t.Helper()
	if len(st.Gaps) > 0 {
		t.Errorf("stream has %d gaps, first at %d", len(st.Gaps), st.Gaps[0])
	}
	if int(st.Last) != len(corp.Want) {
		t.Errorf("stream holds %d messages, want %d", st.Last, len(corp.Want))
	}
	bad := 0
	for id, want := range corp.Want {
		switch {
		case st.Count[id] != 1:
			t.Errorf("event %s is in the stream %d times, want once", id, st.Count[id])
			bad++
		case st.Sum[id] != want:
			t.Errorf("event %s is stored with other content", id)
			bad++
		}
		if bad > 10 {
			t.Fatal("too many differences")
		}
	}
	for id := range corp.Invalid {
		if st.Count[id] != 0 {
			t.Errorf("rejected record %s is in the stream", id)
		}
	}
}
