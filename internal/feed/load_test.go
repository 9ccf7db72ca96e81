package feed_test

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/bench"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/service"
	"github.com/parley-news/parley/internal/stream"
)

// The load benchmarks' sizes. Every loop is bounded by them and by a
// deadline, and talks only to 127.0.0.1.
var (
	loadClients  = flag.Int("feed.clients", 1000, "SSE clients reading in BenchmarkSSELatency")
	loadRate     = flag.Int("feed.rate", 100, "events appended per second in BenchmarkSSELatency")
	loadDuration = flag.Duration("feed.duration", 10*time.Second, "how long BenchmarkSSELatency appends")
	loadIdle     = flag.Int("feed.idle", 10000, "idle SSE clients in BenchmarkSSEIdleClients")
	loadIdleRate = flag.Int("feed.idle-rate", 10, "events a second, for one second, to the idle clients once their memory is measured")
)

// raiseFileLimit lets the process hold n more descriptors: each client
// is two, its end and the server's.
func raiseFileLimit(b *testing.B, n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	want := n + 1024
	if lim.Cur >= want {
		return
	}
	lim.Cur = want
	if lim.Max < want {
		lim.Max = want // only a privileged process may raise the hard limit
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatalf("raise the open-file limit to %d: %v (run as root, or ulimit -n)", want, err)
	}
}

func startLoad(b *testing.B) *service.Running {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := service.Start(ctx, service.Config{DataDir: b.TempDir(), HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		Out: io.Discard, Logger: discard()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

// loadEvent is an event of about 1 KiB, each a minute after the last.
func loadEvent(i int) events.Event {
	e := event(fmt.Sprintf("load-%d", i), testTypes[i%len(testTypes)],
		pos(testParties[i%len(testParties)], testIssues[i%len(testIssues)], "proposes"))
	e.OccurredAt = events.MustTime(time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute).Format("2006-01-02T15:04Z"))
	e.Summary = strings.Repeat("Negotiators met again and exchanged drafts on the points still open. ", 12)
	return e
}

// dialSSE opens GET /v1/feed on a bare connection and reads its opening
// (retry and the id it starts after): the stream is subscribed from then
// on, and what follows is developments.
func dialSSE(addr string, bufSize int) (net.Conn, *bufio.Reader, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "GET /v1/feed HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	br := bufio.NewReaderSize(c, bufSize)
	opening := false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			c.Close()
			return nil, nil, fmt.Errorf("read stream start: %w", err)
		}
		if bytes.HasPrefix(line, []byte("HTTP/1.1 ")) && !bytes.HasPrefix(line, []byte("HTTP/1.1 200")) {
			c.Close()
			return nil, nil, fmt.Errorf("stream refused: %s", bytes.TrimSpace(line))
		}
		if bytes.HasPrefix(line, []byte("retry: ")) {
			opening = true
		}
		if opening && len(line) == 1 {
			break // the blank line that ends the opening
		}
	}
	c.SetDeadline(time.Time{})
	return c, br, nil
}

// BenchmarkSSELatency measures the time from an append to the stream
// (before the call) to a connected SSE client reading the message, at
// feed.rate events a second with feed.clients clients, on loopback, the
// whole process in this one.
//
//	go test -run '^$' -bench BenchmarkSSELatency -benchtime 1x ./internal/feed
func BenchmarkSSELatency(b *testing.B) {
	n := *loadClients
	raiseFileLimit(b, uint64(2*n))
	r := startLoad(b)
	addr := strings.TrimPrefix(r.HTTPURL, "http://")
	conn, err := stream.Connect(context.Background(), stream.Config{URL: r.NATSURL, Name: "parley-load"})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()

	type recv struct {
		seq uint64
		at  time.Time
	}
	got := make([][]recv, n)
	var wg sync.WaitGroup
	conns := make([]net.Conn, n)
	for i := range n {
		c, br, err := dialSSE(addr, 32<<10)
		if err != nil {
			b.Fatalf("client %d: %v", i, err)
		}
		conns[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The body is chunked; a frame's first line, its id, comes
			// right after a chunk header, as each flush starts a chunk.
			for {
				line, err := br.ReadSlice('\n')
				if err == bufio.ErrBufferFull {
					for err == bufio.ErrBufferFull {
						_, err = br.ReadSlice('\n')
					}
					continue
				}
				if err != nil {
					return
				}
				if bytes.HasPrefix(line, []byte("id: ")) {
					seq, _ := strconv.ParseUint(string(bytes.TrimSpace(line[4:])), 10, 64)
					got[i] = append(got[i], recv{seq, time.Now()})
				}
			}
		}()
	}

	b.ResetTimer()
	// Each append goes out when it is due, not after the previous one's
	// acknowledgement, and is timed from then: the rate holds whatever an
	// append costs, and a sender that falls behind adds its delay to the
	// latency instead of hiding it (bench.Steady).
	sent := map[uint64]time.Time{}
	var (
		smu    sync.Mutex
		last   uint64
		failed = make(chan error, 1)
	)
	total := int(float64(*loadRate) * loadDuration.Seconds())
	start, cpu0 := time.Now(), cpuTime()
	actx, cancel := context.WithTimeout(context.Background(), *loadDuration+time.Minute)
	defer cancel()
	late, err := bench.Steady(actx, *loadRate, total, func(i int, t0 time.Time) {
		res := conn.Append(actx, []events.Event{loadEvent(i)}, "load")
		if res[0].Status != stream.Appended {
			select {
			case failed <- fmt.Errorf("append %d: %s %v", i, res[0].Status, res[0].Err):
			default:
			}
			return
		}
		smu.Lock()
		sent[res[0].Seq], last = t0, max(last, res[0].Seq)
		smu.Unlock()
	})
	if err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-failed:
		b.Fatal(err)
	default:
	}
	rate := float64(total) / time.Since(start).Seconds()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Projector.WaitFor(ctx, last); err != nil {
		b.Fatal(err)
	}
	// Give the clients until a deadline to read the last message, then
	// close them.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		done := 0
		for i := range n {
			if k := len(got[i]); k > 0 && got[i][k-1].seq == last {
				done++
			}
		}
		if done == n {
			break
		}
	}
	b.StopTimer()
	cores := (cpuTime() - cpu0).Seconds() / time.Since(start).Seconds()
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()

	var lat []time.Duration
	missing := 0
	for i := range n {
		seen := map[uint64]bool{}
		for _, rc := range got[i] {
			if t0, ok := sent[rc.seq]; ok && !seen[rc.seq] {
				lat = append(lat, rc.at.Sub(t0))
				seen[rc.seq] = true
			}
		}
		missing += len(sent) - len(seen)
	}
	if len(lat) == 0 {
		b.Fatal("no message reached a client")
	}
	slices.Sort(lat)
	// By nearest rank, as the suite's other percentiles.
	q := func(p float64) float64 {
		i := min(max(int(math.Ceil(p*float64(len(lat))))-1, 0), len(lat)-1)
		return float64(lat[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(0.999), "p99.9-ms")
	b.ReportMetric(float64(lat[len(lat)-1])/float64(time.Millisecond), "max-ms")
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(float64(missing), "missing")
	b.ReportMetric(cores, "cpu-cores")
	b.ReportMetric(float64(late)/float64(time.Millisecond), "late-max-ms")
	b.Logf("%d clients, %d events at %.1f/s (the sender at most %v behind): %d deliveries, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms, %d missing; the process (server and clients) used %.2f of %d CPUs",
		n, total, rate, late.Round(time.Microsecond), len(lat), q(0.5), q(0.99), q(0.999), float64(lat[len(lat)-1])/float64(time.Millisecond), missing, cores, runtime.NumCPU())
}

// BenchmarkSSEIdleClients measures the memory the service needs to hold
// feed.idle idle SSE clients. The clients run in a child process (this
// test binary again, as TestIdleClientsHelper): the process then holds
// only the server's end of each connection, and neither process needs
// more descriptors than a container's hard limit (often 20,000) allows.
//
//	go test -run '^$' -bench BenchmarkSSEIdleClients -benchtime 1x ./internal/feed
func BenchmarkSSEIdleClients(b *testing.B) {
	n := *loadIdle
	raiseFileLimit(b, uint64(n))
	r := startLoad(b)
	before := memNow()

	b.ResetTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestIdleClientsHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "PARLEY_IDLE_ADDR="+strings.TrimPrefix(r.HTTPURL, "http://"), "PARLEY_IDLE_N="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	out := bufio.NewScanner(stdout)
	expect := func(prefix string) string {
		for out.Scan() {
			if line := out.Text(); strings.HasPrefix(line, prefix) {
				return strings.TrimPrefix(line, prefix)
			}
		}
		b.Fatalf("clients process ended before saying %q: %v", prefix, out.Err())
		return ""
	}
	expect("READY ")
	opened := time.Since(start)
	time.Sleep(time.Second) // let the handlers settle into their wait
	held := memNow()
	b.StopTimer()

	// Every one of them is live, and how fast: events at feed.idle-rate a
	// second for a second, each timed from when it was due (bench.Steady)
	// to each client reading it. The clients process notes when each
	// frame arrives; both processes read the same wall clock.
	conn, err := stream.Connect(ctx, stream.Config{URL: r.NATSURL, Name: "parley-load"})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	var (
		smu    sync.Mutex
		failed error
	)
	if _, err := bench.Steady(ctx, *loadIdleRate, *loadIdleRate, func(i int, t0 time.Time) {
		res := conn.Append(ctx, []events.Event{loadEvent(i)}, "load")
		smu.Lock()
		defer smu.Unlock()
		if res[0].Status != stream.Appended {
			failed = fmt.Errorf("append %d: %s %v", i, res[0].Status, res[0].Err)
			return
		}
		fmt.Fprintf(stdin, "%d %d\n", res[0].Seq, t0.UnixNano())
	}); err != nil {
		b.Fatal(err)
	}
	if failed != nil {
		b.Fatal(failed)
	}
	fmt.Fprintln(stdin, "END")
	reached, _ := strconv.Atoi(expect("REACHED "))
	var p50, p99 float64
	fmt.Sscan(expect("LATENCY "), &p50, &p99)

	mb := func(v uint64) float64 { return float64(v) / (1 << 20) }
	perClient := func(a, b uint64) float64 {
		if a < b {
			return 0
		}
		return float64(a-b) / float64(n) / 1024
	}
	b.ReportMetric(mb(held.rss), "rss-MiB")
	b.ReportMetric(perClient(held.rss, before.rss), "rss-KiB/client")
	b.ReportMetric(mb(held.goTotal), "go-MiB")
	b.ReportMetric(float64(reached), "reached")
	b.ReportMetric(p50, "p50-ms")
	b.ReportMetric(p99, "p99-ms")
	b.Logf("%d idle clients opened in %v; RSS %.0f MiB -> %.0f MiB (%.1f KiB a client); Go runtime %.0f MiB -> %.0f MiB (heap in use %.0f MiB); %d goroutines; %d events at %d/s reached %d of %d clients, p50 %.2f ms, p99 %.2f ms",
		n, opened.Round(time.Millisecond), mb(before.rss), mb(held.rss), perClient(held.rss, before.rss),
		mb(before.goTotal), mb(held.goTotal), mb(held.heapInuse), held.goroutines, *loadIdleRate, *loadIdleRate, reached, n, p50, p99)
	if reached != n {
		b.Errorf("every event reached %d of %d clients", reached, n)
	}
}

// TestIdleClientsHelper is BenchmarkSSEIdleClients's clients process: it
// opens PARLEY_IDLE_N streams to PARLEY_IDLE_ADDR, says READY, reads a
// sequence from stdin, reads each stream up to that message and says how
// many got it. Run alone, it skips.
func TestIdleClientsHelper(t *testing.T) {
	addr, n := os.Getenv("PARLEY_IDLE_ADDR"), os.Getenv("PARLEY_IDLE_N")
	if addr == "" {
		t.Skip("the clients process of BenchmarkSSEIdleClients")
	}
	count, _ := strconv.Atoi(n)
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	lim.Cur = lim.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	conns := make([]net.Conn, count)
	readersOf := make([]*bufio.Reader, count)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32) // the listen backlog is finite
	for i := range count {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, br, err := dialSSE(addr, 256)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("client %d: %w", i, err)
			}
			conns[i], readersOf[i] = c, br
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	// A reader per stream notes when each frame arrives, by its id (the
	// stream sequence), until its stream is closed or the deadline.
	type arrival struct {
		seq uint64
		at  int64 // Unix ns: the benchmark's process reads the same clock
	}
	got := make([][]arrival, count)
	deadline := time.Now().Add(60 * time.Second)
	var readers sync.WaitGroup
	for i, c := range conns {
		c.SetReadDeadline(deadline)
		readers.Add(1)
		go func() {
			defer readers.Done()
			br, atStart := readersOf[i], true
			for {
				line, err := br.ReadSlice('\n')
				if atStart && bytes.HasPrefix(line, []byte("id: ")) {
					seq, _ := strconv.ParseUint(string(bytes.TrimSpace(line[4:])), 10, 64)
					mu.Lock()
					got[i] = append(got[i], arrival{seq, time.Now().UnixNano()})
					mu.Unlock()
				}
				// A line longer than the buffer comes in pieces: only
				// the first is the start of a line.
				atStart = err != bufio.ErrBufferFull
				if err != nil && err != bufio.ErrBufferFull {
					return
				}
			}
		}()
	}
	fmt.Printf("READY %d\n", count)
	// The events, each with when it was due, until END.
	sent := map[uint64]int64{}
	for in := bufio.NewScanner(os.Stdin); in.Scan() && in.Text() != "END"; {
		var seq uint64
		var t0 int64
		if _, err := fmt.Sscan(in.Text(), &seq, &t0); err != nil {
			t.Fatalf("read %q: %v", in.Text(), err)
		}
		sent[seq] = t0
	}
	// Every stream has every event, or the deadline passed.
	complete := func(i int) bool {
		seen := 0
		for _, a := range got[i] {
			if _, ok := sent[a.seq]; ok {
				seen++
			}
		}
		return seen == len(sent)
	}
	reached := 0
	for time.Now().Before(deadline) {
		mu.Lock()
		reached = 0
		for i := range conns {
			if complete(i) {
				reached++
			}
		}
		mu.Unlock()
		if reached == count {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now()) // ends the readers
	}
	readers.Wait()
	var lat []float64
	for i := range conns {
		for _, a := range got[i] {
			if t0, ok := sent[a.seq]; ok {
				lat = append(lat, float64(a.at-t0)/1e6)
			}
		}
	}
	slices.Sort(lat)
	rank := func(p float64) float64 {
		if len(lat) == 0 {
			return math.NaN()
		}
		return lat[min(max(int(math.Ceil(p*float64(len(lat))))-1, 0), len(lat)-1)]
	}
	fmt.Printf("REACHED %d\n", reached)
	fmt.Printf("LATENCY %f %f\n", rank(0.50), rank(0.99))
	io.Copy(io.Discard, os.Stdin) // hold the streams until the benchmark is done
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type memSample struct {
	rss, goTotal, heapInuse uint64
	goroutines              int
}

// memNow measures after a collection: the resident set of the process
// (VmRSS) and what the Go runtime holds from the OS.
func memNow() memSample {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := memSample{goTotal: ms.Sys - ms.HeapReleased, heapInuse: ms.HeapInuse, goroutines: runtime.NumGoroutine()}
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				s.rss = kb * 1024
			}
		}
	}
	return s
}
