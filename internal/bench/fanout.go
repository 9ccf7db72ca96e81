package bench

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// runFanout measures the live feed with many clients. The clients are
// opened by the feed package's load benchmarks (they raise the file limit,
// and run the 10,000 idle clients in a child process, since one process
// cannot hold 20,000 descriptors here); this runs them and reads their
// figures.
func runFanout(ctx context.Context, cfg Config, _ string, res Results) error {
	clients, dur, idle := 1000, 10*time.Second, 10000
	if cfg.Quick {
		clients, dur, idle = 300, 3*time.Second, 2000
	}
	out, err := goBench(ctx, "./internal/feed", "BenchmarkSSELatency", "-feed.clients", strconv.Itoa(clients), "-feed.rate", "100", "-feed.duration", dur.String())
	if err != nil {
		return err
	}
	sk := sizeKey(clients)
	v, err := metrics(out, "p50-ms", "p99-ms", "missing")
	if err != nil {
		return err
	}
	if v[2] != 0 {
		return fmt.Errorf("live feed: %v messages missing", v[2])
	}
	res["sse_p50_ms_"+sk], res["sse_p99_ms_"+sk] = v[0], v[1]
	say(cfg, "SSE: %d clients at 100 events/s, p50 %.1f ms, p99 %.1f ms", clients, res["sse_p50_ms_"+sk], res["sse_p99_ms_"+sk])
	// The idle clients' memory, then their delivery latency at a rate
	// that makes as many writes a second as the figure above (10,000
	// clients at 10 events/s).
	idleRate := max(100*clients/idle, 1)
	out, err = goBench(ctx, "./internal/feed", "BenchmarkSSEIdleClients", "-feed.idle", strconv.Itoa(idle), "-feed.idle-rate", strconv.Itoa(idleRate))
	if err != nil {
		return err
	}
	ik := sizeKey(idle)
	if v, err = metrics(out, "rss-MiB", "p50-ms", "p99-ms"); err != nil {
		return err
	}
	res["sse_idle_rss_mb_"+ik], res["sse_p50_ms_"+ik], res["sse_p99_ms_"+ik] = v[0], v[1], v[2]
	say(cfg, "SSE: %d idle clients held in %.0f MiB; %d events at %d/s to them, p50 %.1f ms, p99 %.1f ms",
		idle, res["sse_idle_rss_mb_"+ik], idleRate, idleRate, v[1], v[2])
	out, err = goBench(ctx, "./internal/delivery", "BenchmarkDeliveryFanout")
	if err != nil {
		return err
	}
	if v, err = metrics(out, "deliveries/s"); err != nil {
		return err
	}
	res["webhook_eps_100"] = v[0]
	say(cfg, "webhooks: %.0f deliveries/s to 100 receivers", res["webhook_eps_100"])
	return nil
}

func goBench(ctx context.Context, pkg, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"test", pkg, "-run", "^$", "-bench", "^" + name + "$", "-benchtime", "1x", "-args"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s (run from the repository's root): %v\n%s", name, err, out)
	}
	return string(out), nil
}

// metrics reads the b.ReportMetric figures of the given units from go
// test's output, in their order. A figure missing from the output is an
// error, not a zero in the table.
func metrics(out string, units ...string) ([]float64, error) {
	v := make([]float64, len(units))
	for i, unit := range units {
		m := regexp.MustCompile(`([0-9.]+) ` + regexp.QuoteMeta(unit) + `\b`).FindStringSubmatch(out)
		if m == nil {
			return nil, fmt.Errorf("no %s figure in the benchmark's output:\n%s", unit, out)
		}
		v[i], _ = strconv.ParseFloat(m[1], 64)
	}
	return v, nil
}
