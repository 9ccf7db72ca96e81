package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/ingest"
	"github.com/parley-news/parley/internal/procstat"
	"github.com/parley-news/parley/internal/service"
	"github.com/parley-news/parley/internal/stream"
	"github.com/parley-news/parley/internal/synth"
)

// Run runs the configured scenarios and returns every figure.
func Run(ctx context.Context, cfg Config) (Results, error) {
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "parleybench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	res := Results{}
	steps := []struct {
		name string
		run  func(context.Context, Config, string, Results) error
	}{
		{"append", runAppend},
		{"visible", runVisible},
		{"fanout", runFanout},
		{"history", runHistory},
	}
	for _, s := range steps {
		if s.name == "history" && !cfg.runs("query") && !cfg.runs("rebuild") {
			continue
		}
		if s.name != "history" && !cfg.runs(s.name) {
			continue
		}
		if s.name != "history" { // which settles after each of its fills
			settle(cfg)
		}
		err := s.run(ctx, cfg, filepath.Join(dir, s.name), res)
		if err == nil {
			err = unmeasured(res)
		}
		if err != nil {
			return res, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return res, nil
}

func say(cfg Config, format string, args ...any) {
	fmt.Fprintf(cfg.Progress, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func gen(seed uint64) *synth.Generator {
	return &synth.Generator{Vocabulary: data.Vocabulary(), Seed: seed}
}

// server starts an embedded server with JetStream in dir and connects.
func server(ctx context.Context, dir string, sync time.Duration) (*stream.Server, *stream.Conn, error) {
	srv, err := stream.StartServer(ctx, stream.ServerConfig{Dir: dir, Listen: "127.0.0.1:0", SyncInterval: sync})
	if err != nil {
		return nil, nil, err
	}
	conn, err := stream.Connect(ctx, stream.Config{URL: srv.ClientURL(), Name: "parleybench"})
	if err != nil {
		srv.Shutdown()
		return nil, nil, err
	}
	return srv, conn, nil
}

// running starts the projector process on the embedded default in dir and
// connects a writer to its NATS server.
func running(ctx context.Context, dir string, sync time.Duration) (*service.Running, *stream.Conn, error) {
	r, err := service.Start(ctx, service.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		NATSSyncInterval: sync, Out: io.Discard, Logger: quiet()})
	if err != nil {
		return nil, nil, err
	}
	conn, err := stream.Connect(ctx, stream.Config{URL: r.NATSURL, Name: "parleybench"})
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	return r, conn, nil
}

// runAppend compares the ingest path (decode NDJSON, validate, wrap,
// atomic batches with the idempotency headers, per-record results) with a
// raw async publish of the same messages to the same stream
// configuration, with fsync on every write and, for reference, without.
func runAppend(ctx context.Context, cfg Config, dir string, res Results) error {
	evs := gen(1).Events(cfg.AppendN)
	var ndjson bytes.Buffer
	for _, e := range evs {
		ndjson.Write(e.Canonical())
		ndjson.WriteByte('\n')
	}
	for _, mode := range []struct {
		suffix string
		sync   time.Duration
	}{{"", 0}, {"_nosync", 2 * time.Minute}} {
		// Raw: the same messages, published async, acknowledged.
		srv, conn, err := server(ctx, filepath.Join(dir, "raw"+mode.suffix), mode.sync)
		if err != nil {
			return err
		}
		js := conn.JetStream()
		msgs := rawMessages(conn, evs)
		start := time.Now()
		// A window of acknowledgements in flight, as a raw client keeps.
		var window []jetstream.PubAckFuture
		for _, m := range msgs {
			if len(window) >= 4000 {
				select {
				case <-window[0].Ok():
				case err := <-window[0].Err():
					return err
				case <-ctx.Done():
					return ctx.Err()
				}
				window = window[1:]
			}
			f, err := js.PublishMsgAsync(m)
			if err != nil {
				return err
			}
			window = append(window, f)
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-ctx.Done():
			return ctx.Err()
		}
		raw := float64(len(evs)) / time.Since(start).Seconds()
		conn.Close()
		srv.Shutdown()

		srv, conn, err = server(ctx, filepath.Join(dir, "ingest"+mode.suffix), mode.sync)
		if err != nil {
			return err
		}
		in := &ingest.Ingester{Stream: conn, Decoder: events.Decoder{Vocabulary: data.Vocabulary()}}
		start = time.Now()
		r, err := in.Ingest(ctx, "bench", bytes.NewReader(ndjson.Bytes()), events.NDJSON)
		if err != nil {
			return err
		}
		if r.Appended != len(evs) {
			return fmt.Errorf("ingest appended %d of %d", r.Appended, len(evs))
		}
		eps := float64(len(evs)) / time.Since(start).Seconds()
		conn.Close()
		srv.Shutdown()
		res["raw_publish"+mode.suffix+"_eps"] = raw
		res["append"+mode.suffix+"_eps"] = eps
		say(cfg, "append%s: %d events, ingest %.0f/s, raw publish %.0f/s", mode.suffix, len(evs), eps, raw)
	}
	return nil
}

// rawMessages are the messages of the raw publish: those Append sends,
// the same bytes and headers (Nats-Msg-Id, the expected last subject
// sequence, the expected stream, the content type, and the token each
// append marks its message with), so that the raw figure carries the
// service's bytes. What the ingest path adds beyond them, the atomic
// batch's headers, is its own way of appending, not the message.
func rawMessages(conn *stream.Conn, evs []events.Event) []*nats.Msg {
	msgs := make([]*nats.Msg, len(evs))
	for i, e := range evs {
		msgs[i] = conn.NewMessage(e, "")
		msgs[i].Header.Set(stream.AttemptHeader, nuid.Next())
	}
	return msgs
}

// runVisible appends single events at a steady rate to a running
// projector (embedded default: fsync always) and times each from the
// moment its publish call was due on the schedule (see Steady) to its
// commit in the read model and its arrival on the feed, and a sample of
// them to the first HTTP answer that shows it.
func runVisible(ctx context.Context, cfg Config, dir string, res Results) error {
	r, conn, err := running(ctx, dir, 0)
	if err != nil {
		return err
	}
	defer r.Close()
	defer conn.Close()
	procstat.ResetPeak()
	// A live feed reader, as a dashboard is: it notes when each stream
	// sequence arrives.
	sse, err := followFeed(ctx, r.HTTPURL)
	if err != nil {
		return err
	}
	defer sse.close()
	n := int(float64(cfg.VisibleRate) * cfg.VisibleFor.Seconds())
	// Made before the clock starts: the sends run concurrently, and the
	// generator is not safe for that.
	evs := gen(2).Events(n)
	// One sample per event, by its stream sequence: when it was
	// published, and how long until it was acknowledged and committed.
	type sample struct {
		t0          time.Time
		ack, commit time.Duration
	}
	var (
		mu      sync.Mutex
		samples = map[uint64]sample{}
		viaHTTP []time.Duration
		failed  error
	)
	client := &http.Client{Timeout: 5 * time.Second}
	// Each append is timed from when it was due on the steady schedule:
	// that is the publish call, unless the sender fell behind, and then
	// the delay is part of what a steady producer would see.
	late, err := Steady(ctx, cfg.VisibleRate, n, func(i int, t0 time.Time) {
		e := evs[i]
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		rs := conn.Append(actx, []events.Event{e}, "")
		if rs[0].Status != stream.Appended {
			mu.Lock()
			failed = fmt.Errorf("append %s: %s %v", e.ID, rs[0].Status, rs[0].Err)
			mu.Unlock()
			return
		}
		da := time.Since(t0)
		if err := r.Projector.WaitFor(actx, rs[0].Seq); err != nil {
			mu.Lock()
			failed = err
			mu.Unlock()
			return
		}
		d := time.Since(t0)
		var dh time.Duration
		if i%10 == 0 {
			// Over HTTP: poll until the event answers.
			for time.Since(t0) < 10*time.Second {
				resp, err := client.Get(r.HTTPURL + "/v1/events/" + e.ID)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						dh = time.Since(t0)
						break
					}
				}
				time.Sleep(200 * time.Microsecond)
			}
			if dh == 0 {
				mu.Lock()
				failed = fmt.Errorf("event %s not readable over HTTP within 10 s", e.ID)
				mu.Unlock()
				return
			}
		}
		mu.Lock()
		samples[rs[0].Seq] = sample{t0: t0, ack: da, commit: d}
		if dh > 0 {
			viaHTTP = append(viaHTTP, dh)
		}
		mu.Unlock()
	})
	if err != nil {
		return err
	}
	if failed != nil {
		return failed
	}
	// Visible is readable and delivered on the feed, whichever is later.
	arrived, err := sse.wait(ctx, maps.Keys(samples), 10*time.Second)
	if err != nil {
		return err
	}
	var acked, commit, onFeed, visible []time.Duration
	for seq, s := range samples {
		f := arrived[seq].Sub(s.t0)
		acked, commit, onFeed = append(acked, s.ack), append(commit, s.commit), append(onFeed, f)
		visible = append(visible, max(f, s.commit))
	}
	res["visible_p50_ms"] = percentile(visible, 0.50)
	res["visible_p99_ms"] = percentile(visible, 0.99)
	res["visible_commit_p50_ms"] = percentile(commit, 0.50)
	res["visible_commit_p99_ms"] = percentile(commit, 0.99)
	res["visible_sse_p99_ms"] = percentile(onFeed, 0.99)
	res["visible_ack_p50_ms"] = percentile(acked, 0.50)
	res["visible_ack_p99_ms"] = percentile(acked, 0.99)
	res["visible_http_p50_ms"] = percentile(viaHTTP, 0.50)
	res["visible_http_p99_ms"] = percentile(viaHTTP, 0.99)
	res["visible_rss_mb"] = procstat.PeakRSSMiB()
	res["visible_late_max_ms"] = float64(late) / float64(time.Millisecond)
	say(cfg, "visible: %d events at %d/s (the sender at most %s behind), p50 %.2f ms p99 %.2f ms (commit p99 %.2f ms, on the feed p99 %.2f ms, append acknowledged p50 %.2f ms p99 %.2f ms), HTTP p99 %.2f ms",
		n, cfg.VisibleRate, late.Round(time.Microsecond), res["visible_p50_ms"], res["visible_p99_ms"], res["visible_commit_p99_ms"], res["visible_sse_p99_ms"],
		res["visible_ack_p50_ms"], res["visible_ack_p99_ms"], res["visible_http_p99_ms"])
	return nil
}

// feedReader follows GET /v1/feed and notes when each message (by its
// SSE id, the stream sequence) arrives.
type feedReader struct {
	resp    *http.Response
	mu      sync.Mutex
	arrived map[uint64]time.Time
	done    chan struct{}
	err     error
}

func followFeed(ctx context.Context, base string) (*feedReader, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/feed", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("feed: status %d", resp.StatusCode)
	}
	f := &feedReader{resp: resp, arrived: map[uint64]time.Time{}, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				f.mu.Lock()
				f.err = err
				f.mu.Unlock()
				return
			}
			if id, ok := bytes.CutPrefix(line, []byte("id: ")); ok {
				seq, err := strconv.ParseUint(string(bytes.TrimSpace(id)), 10, 64)
				if err == nil {
					now := time.Now()
					f.mu.Lock()
					f.arrived[seq] = now
					f.mu.Unlock()
				}
			}
		}
	}()
	return f, nil
}

// wait returns the arrival times once every sequence in want has arrived,
// or fails after within.
func (f *feedReader) wait(ctx context.Context, want iter.Seq[uint64], within time.Duration) (map[uint64]time.Time, error) {
	deadline := time.Now().Add(within)
	for {
		f.mu.Lock()
		missing := 0
		for seq := range want {
			if _, ok := f.arrived[seq]; !ok {
				missing++
			}
		}
		err := f.err
		var got map[uint64]time.Time
		if missing == 0 {
			got = maps.Clone(f.arrived)
		}
		f.mu.Unlock()
		switch {
		case missing == 0:
			return got, nil
		case err != nil:
			return nil, fmt.Errorf("feed ended with %d events not delivered: %w", missing, err)
		case time.Now().After(deadline):
			return nil, fmt.Errorf("%d events not delivered on the feed within %v", missing, within)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (f *feedReader) close() {
	f.resp.Body.Close()
	<-f.done
}

// runHistory grows one history through the query sizes, timing the
// queries at each, then replays the largest raw and rebuilds it.
func runHistory(ctx context.Context, cfg Config, dir string, res Results) error {
	sizes := cfg.QuerySizes
	if !cfg.runs("query") {
		sizes = nil
	}
	final := cfg.RebuildN
	if len(sizes) > 0 && sizes[len(sizes)-1] > final {
		final = sizes[len(sizes)-1]
	}
	// The history is filled without fsync per write: it is the setting,
	// not what is measured.
	r, conn, err := running(ctx, dir, time.Minute)
	if err != nil {
		return err
	}
	defer r.Close()
	defer conn.Close()
	g := gen(3)
	g.Amends = 2
	have := 0
	fill := func(to int) error {
		start := time.Now()
		for have < to {
			n := min(5000, to-have)
			for _, rr := range conn.Append(ctx, g.Events(n), "") {
				if rr.Status != stream.Appended {
					return fmt.Errorf("fill: %s %s %v", rr.ID, rr.Status, rr.Err)
				}
			}
			have += n
		}
		last, err := conn.LastSeq(ctx)
		if err != nil {
			return err
		}
		if err := r.Projector.WaitFor(ctx, last); err != nil {
			return err
		}
		say(cfg, "history at %d events (filled and applied in %s)", have, time.Since(start).Round(time.Millisecond))
		return nil
	}
	for i, size := range sizes {
		if err := fill(size); err != nil {
			return err
		}
		settle(cfg)
		last := i == len(sizes)-1
		stop := func() {}
		if last && cfg.QueryCPUProfile != "" {
			var err error
			if stop, err = procstat.CPUProfile(cfg.QueryCPUProfile); err != nil {
				return err
			}
		}
		err := queries(ctx, cfg, r.HTTPURL, size, g.Start, res)
		stop()
		if err != nil {
			return err
		}
		if last && cfg.QueryHeapProfile != "" {
			if err := procstat.HeapProfile(cfg.QueryHeapProfile); err != nil {
				return err
			}
		}
	}
	if !cfg.runs("rebuild") {
		return nil
	}
	if err := fill(final); err != nil {
		return err
	}
	settle(cfg)
	last, err := conn.LastSeq(ctx)
	if err != nil {
		return err
	}
	// Raw: an ordered consumer reading every message, nothing else.
	start := time.Now()
	if err := rawReplay(ctx, conn, last); err != nil {
		return err
	}
	raw := float64(last) / time.Since(start).Seconds()

	// The rebuild runs as users run it, `projector rebuild`, in a process
	// of its own, so that its peak memory is its own and not the
	// benchmark's server's.
	rate, rss, cores, err := rebuildProcess(ctx, filepath.Join(dir, "rebuilt"), r.NATSURL, last, cfg.RebuildProfile)
	if err != nil {
		return err
	}
	res["rebuild_cpu_cores"] = cores
	res["raw_replay_eps"] = raw
	res["rebuild_eps"] = rate
	res["rebuild_peak_rss_mb"] = rss
	say(cfg, "rebuild of %d events: %.0f/s, raw replay %.0f/s, peak RSS %.0f MiB, %.2f cores busy", last, rate, raw, rss, cores)

	// bbolt's own floor for what the rebuild wrote: its entries copied in
	// key order into a fresh file. The rebuild is judged against the
	// stream it reads; this says what the layout leaves it at best.
	settle(cfg)
	model := filepath.Join(dir, "rebuilt", "readmodel.db")
	took, entries, err := layoutFloor(ctx, model, model+".floor")
	if err != nil {
		return err
	}
	res["bbolt_floor_eps"] = float64(last) / took.Seconds()
	res["bbolt_floor_entries_per_event"] = float64(entries) / float64(last)
	say(cfg, "bbolt floor of the layout: %d entries (%.1f an event) written in key order in %s, %.0f events/s",
		entries, res["bbolt_floor_entries_per_event"], took.Round(time.Millisecond), res["bbolt_floor_eps"])

	// And as the embedded default runs it: `projector rebuild -data DIR`
	// opens the stream's store itself, so the NATS server's memory and
	// collections are the rebuild's too. The server must let go of the
	// store first.
	conn.Close()
	if err := r.Close(); err != nil {
		return err
	}
	rate, rss, cores, err = rebuildProcess(ctx, dir, "", last, "")
	if err != nil {
		return err
	}
	res["rebuild_embedded_eps"] = rate
	res["rebuild_embedded_peak_rss_mb"] = rss
	res["rebuild_embedded_cpu_cores"] = cores
	say(cfg, "rebuild of %d events, embedded: %.0f/s, peak RSS %.0f MiB, %.2f cores busy", last, rate, rss, cores)
	return nil
}

// rebuildProcess builds cmd/projector and runs `projector rebuild -data
// dir`, against the NATS server at natsURL or, when it is empty, on the
// embedded default, returning its rate and peak resident memory.
//
// cores is the process's CPU time over its wall time: how much of the
// machine the rebuild itself used, beside the server it reads from.
func rebuildProcess(ctx context.Context, dir, natsURL string, events uint64, profile string) (rate, rssMiB, cores float64, err error) {
	bin := filepath.Join(filepath.Dir(dir), "projector")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/projector").CombinedOutput(); err != nil {
		return 0, 0, 0, fmt.Errorf("build projector (run from the repository's root): %v\n%s", err, out)
	}
	args := []string{"rebuild", "-data", dir}
	if natsURL != "" {
		args = append(args, "-nats", natsURL)
	}
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("projector rebuild: %v\n%s", err, out)
	}
	el := time.Since(start)
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	// The rebuild reports its own peak: the kernel's ru_maxrss of a child
	// counts the parent's memory it shared between fork and exec.
	m := regexp.MustCompile(`peak resident memory ([0-9.]+) MiB`).FindSubmatch(out)
	if m == nil {
		return 0, 0, 0, fmt.Errorf("projector rebuild did not report its peak memory:\n%s", out)
	}
	rssMiB, _ = strconv.ParseFloat(string(m[1]), 64)
	return float64(events) / el.Seconds(), rssMiB, cpu.Seconds() / el.Seconds(), nil
}

func rawReplay(ctx context.Context, conn *stream.Conn, last uint64) error {
	s, err := conn.JetStream().Stream(ctx, conn.StreamName())
	if err != nil {
		return err
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2000))
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return err
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		if md.Sequence.Stream >= last {
			return nil
		}
	}
}

// queries times the three read queries with concurrent clients.
func queries(ctx context.Context, cfg Config, base string, size int, start time.Time, res Results) error {
	v := data.Vocabulary()
	days := max(size/synth.PerDay, 1)
	procstat.ResetPeak()
	kinds := []struct {
		key string
		url func(r *rand.Rand) string
	}{
		{"state_at", func(r *rand.Rand) string {
			return fmt.Sprintf("%s/v1/state?at=%s", base, start.AddDate(0, 0, r.IntN(days+1)).Format(time.DateOnly))
		}},
		{"timeline", func(r *rand.Rand) string {
			from := start.AddDate(0, 0, r.IntN(days+1))
			return fmt.Sprintf("%s/v1/timeline?issue=%s&from=%s&to=%s&limit=100", base, v.Issues[r.IntN(len(v.Issues))].ID,
				from.Format(time.DateOnly), from.AddDate(0, 0, 30).Format(time.DateOnly))
		}},
		{"history", func(r *rand.Rand) string {
			from := start.AddDate(0, 0, r.IntN(days+1))
			return fmt.Sprintf("%s/v1/issues/%s/history?from=%s&limit=100", base, v.Issues[r.IntN(len(v.Issues))].ID, from.Format(time.DateOnly))
		}},
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Clients}}
	for _, k := range kinds {
		// A warm-up the figures leave out: the first answers after the
		// fill fault the read model's pages into the projector's memory
		// map for the first time, which a projector that has been serving
		// has long done.
		if _, err := load(ctx, client, k.key, k.url, cfg.Clients*warmUp, cfg.Clients, size, 1); err != nil {
			return err
		}
		lat, err := load(ctx, client, k.key, k.url, cfg.Queries, cfg.Clients, size, 0)
		if err != nil {
			return err
		}
		sk := sizeKey(size)
		res[k.key+"_p50_ms_"+sk] = percentile(lat, 0.50)
		res[k.key+"_p99_ms_"+sk] = percentile(lat, 0.99)
		say(cfg, "%s at %s: p50 %.2f ms, p99 %.2f ms (%d queries, %d clients)", k.key, sk, res[k.key+"_p50_ms_"+sk], res[k.key+"_p99_ms_"+sk], len(lat), cfg.Clients)
	}
	res["query_rss_mb_"+sizeKey(size)] = procstat.PeakRSSMiB()
	return nil
}

// warmUp is the queries each client makes before a query figure is taken.
const warmUp = 25

// load makes n GET requests from the given number of concurrent clients,
// each with its own random source (seeded by client, size and round), and
// returns their latencies. Any error or non-200 answer fails it.
func load(ctx context.Context, client *http.Client, key string, url func(*rand.Rand) string, n, clients, size int, round uint64) ([]time.Duration, error) {
	var (
		mu   sync.Mutex
		lat  []time.Duration
		wg   sync.WaitGroup
		fail error
	)
	per := n / clients
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c)|round<<32, uint64(size)))
			local := make([]time.Duration, 0, per)
			for i := 0; i < per && ctx.Err() == nil; i++ {
				t0 := time.Now()
				resp, err := client.Get(url(r))
				if err != nil {
					mu.Lock()
					fail = err
					mu.Unlock()
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					mu.Lock()
					fail = fmt.Errorf("%s: status %d", key, resp.StatusCode)
					mu.Unlock()
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	if fail == nil {
		fail = ctx.Err()
	}
	return lat, fail
}

// settle flushes what earlier work left for the kernel to write and
// collects the heap, so that a figure is not charged with the writeback
// and garbage of the scenario or fill before it.
func settle(cfg Config) {
	start := time.Now()
	syscall.Sync()
	// A collection that also hands the freed memory back to the system
	// at once: left to the background scavenger, that work would run
	// during the next figure.
	debug.FreeOSMemory()
	say(cfg, "settled in %s", time.Since(start).Round(time.Millisecond))
}
