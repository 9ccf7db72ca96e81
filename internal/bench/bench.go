// Package bench measures Parley against the engine it stands on, in one
// process run: each figure of the service beside the raw JetStream or
// bbolt figure it is judged by, on synthetic events of about 1 KiB, so
// that a noisy machine moves both alike and the ratio holds.
package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config says how much to measure. The zero value is not usable: use
// Default or Quick.
type Config struct {
	// AppendN events for the append figures (with fsync on every write the
	// raw baseline is slow: keep it modest).
	AppendN int
	// RebuildN events in the stream that is replayed and rebuilt.
	RebuildN int
	// QuerySizes are the history sizes the queries are timed at.
	QuerySizes []int
	// Queries per kind and size, spread over Clients.
	Queries, Clients int
	// VisibleRate events/s for VisibleFor.
	VisibleRate int
	VisibleFor  time.Duration
	// Only runs the named scenarios (append, rebuild, visible, query, fanout);
	// empty runs all.
	Only []string
	// Dir holds the data; "" means a temporary folder.
	Dir string
	// RebuildProfile, when set, is where the rebuild process writes its
	// CPU profile.
	RebuildProfile string
	// QueryCPUProfile and QueryHeapProfile, when set, are where the query
	// phase at the largest size writes a CPU profile of the benchmark's
	// process (server, projector and clients) and a heap profile at its
	// end.
	QueryCPUProfile, QueryHeapProfile string
	// Quick makes the fan-out smaller too.
	Quick bool
	// Timeout bounds the whole run: a scenario still running then (a
	// stream that stopped answering, a rebuild that hangs) fails instead
	// of waiting for ever. Zero means no bound.
	Timeout time.Duration
	// Progress receives a line per step.
	Progress io.Writer
}

// Default is the full suite: 1M events for rebuild and queries.
func Default() Config {
	return Config{AppendN: 50_000, RebuildN: 1_000_000, QuerySizes: []int{10_000, 100_000, 1_000_000},
		Queries: 2000, Clients: 8, VisibleRate: 1000, VisibleFor: 10 * time.Second, Timeout: 30 * time.Minute}
}

// Quick is a run of a minute or less.
func Quick() Config {
	return Config{AppendN: 5_000, RebuildN: 50_000, QuerySizes: []int{10_000, 50_000},
		Queries: 500, Clients: 8, VisibleRate: 1000, VisibleFor: 3 * time.Second, Quick: true, Timeout: 5 * time.Minute}
}

// WithN is the configuration with n events for the rebuild and as the
// largest query size: the query sizes below n stay, so that the growth
// from the smallest still reads across the table.
func (c Config) WithN(n int) Config {
	c.RebuildN = n
	sizes := make([]int, 0, len(c.QuerySizes))
	for _, s := range c.QuerySizes[:max(len(c.QuerySizes)-1, 0)] {
		if s < n {
			sizes = append(sizes, s)
		}
	}
	c.QuerySizes = append(sizes, n)
	return c
}

func (c Config) runs(name string) bool {
	if len(c.Only) == 0 {
		return true
	}
	for _, o := range c.Only {
		if o == name {
			return true
		}
	}
	return false
}

// Results are the figures by key, as in the JSON object.
type Results map[string]float64

// Row is one line of the table: a figure of the service beside the raw
// engine's, and the target it is judged by.
type Row struct {
	What, Key, RawKey, Unit, Target string
}

var rows = []Row{
	{"append, fsync always", "append_eps", "raw_publish_eps", "ev/s", ">= 50% of raw"},
	{"append, no fsync (reference)", "append_nosync_eps", "raw_publish_nosync_eps", "ev/s", ""},
	{"rebuild", "rebuild_eps", "raw_replay_eps", "ev/s", ">= 40% of raw, >= 60,000"},
	{"  bbolt floor of the layout", "rebuild_eps", "bbolt_floor_eps", "ev/s", ""},
	{"rebuild peak RSS", "rebuild_peak_rss_mb", "", "MiB", "< 512"},
	{"  rebuild CPU, cores busy", "rebuild_cpu_cores", "", "cores", ""},
	{"rebuild, embedded (server in the process)", "rebuild_embedded_eps", "raw_replay_eps", "ev/s", ">= 40% of raw, >= 60,000"},
	{"rebuild, embedded, peak RSS", "rebuild_embedded_peak_rss_mb", "", "MiB", "< 512"},
	{"  rebuild, embedded, cores busy", "rebuild_embedded_cpu_cores", "", "cores", ""},
	{"visible p50 (readable and on the feed)", "visible_p50_ms", "", "ms", ""},
	{"visible p99 (readable and on the feed)", "visible_p99_ms", "", "ms", "< 10"},
	{"  publish to commit, p99", "visible_commit_p99_ms", "", "ms", ""},
	{"  publish to the feed, p99", "visible_sse_p99_ms", "", "ms", ""},
	{"  the append, acknowledged, p99", "visible_ack_p99_ms", "", "ms", ""},
	{"  over HTTP (polled), p99", "visible_http_p99_ms", "", "ms", ""},
	{"  the sender behind its schedule, max", "visible_late_max_ms", "", "ms", ""},
	{"SSE p50, 1,000 clients at 100 ev/s", "sse_p50_ms_1k", "", "ms", ""},
	{"SSE p99, 1,000 clients at 100 ev/s", "sse_p99_ms_1k", "", "ms", "< 50"},
	{"10,000 idle SSE clients, RSS", "sse_idle_rss_mb_10k", "", "MiB", "< 1024"},
	{"SSE p50, 10,000 clients at 10 ev/s", "sse_p50_ms_10k", "", "ms", ""},
	{"SSE p99, 10,000 clients at 10 ev/s", "sse_p99_ms_10k", "", "ms", ""},
	{"webhooks to 100 receivers", "webhook_eps_100", "", "del/s", ""},
}

// Table writes the results for a person: each figure, the raw figure, the
// ratio, the target.
func Table(w io.Writer, r Results) {
	fmt.Fprintf(w, "%-40s %14s %14s %8s  %s\n", "figure", "parley", "raw engine", "ratio", "target")
	line := func(what, unit string, v, raw float64, hasRaw bool, target string) {
		rs, ratio := "", ""
		if hasRaw {
			rs = num(raw) + " " + unit
			if raw > 0 {
				ratio = fmt.Sprintf("%.0f%%", 100*v/raw)
			}
		}
		fmt.Fprintf(w, "%-40s %14s %14s %8s  %s\n", what, num(v)+" "+unit, rs, ratio, target)
	}
	for _, row := range rows {
		v, ok := r[row.Key]
		if !ok {
			continue
		}
		raw, hasRaw := r[row.RawKey]
		line(row.What, row.Unit, v, raw, hasRaw, row.Target)
	}
	queryTable(w, r)
	// Figures of sizes the rows above do not name (a quick run's smaller
	// fan-out), as their keys.
	shown := map[string]bool{}
	for _, row := range rows {
		shown[row.Key], shown[row.RawKey] = true, true
	}
	var rest []string
	for k := range r {
		grid := strings.HasPrefix(k, "query_rss_mb_")
		for _, q := range queryRows {
			grid = grid || strings.HasPrefix(k, q.key+"_p50_ms_") || strings.HasPrefix(k, q.key+"_p99_ms_")
		}
		if !shown[k] && !grid && (strings.Contains(k, "_ms_") || strings.Contains(k, "_rss_mb_")) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for i, k := range rest {
		if i == 0 {
			fmt.Fprintln(w)
		}
		unit := "ms"
		if strings.Contains(k, "rss") {
			unit = "MiB"
		}
		line(sizedLabel(k), unit, r[k], 0, false, "")
	}
}

// sizedLabel names a figure of a size the rows do not name (a quick
// run's), as the rows name their own, or gives its key.
func sizedLabel(k string) string {
	for _, l := range []struct{ prefix, format string }{
		{"sse_p50_ms_", "SSE p50, %s clients"},
		{"sse_p99_ms_", "SSE p99, %s clients"},
		{"sse_idle_rss_mb_", "%s idle SSE clients, RSS"},
	} {
		if size, ok := strings.CutPrefix(k, l.prefix); ok {
			return fmt.Sprintf(l.format, size)
		}
	}
	return k
}

// queryRows are the rows of the query table: a figure's key without its
// percentile and size, its name, and its target at the largest size.
var queryRows = []struct{ key, what, target string }{
	{"state_at", "GET /v1/state?at=T", "p99 < 5 at 1m"},
	{"timeline", "GET /v1/timeline (page of 100)", "p99 < 10 at 1m"},
	{"history", "GET /v1/issues/{issue}/history", "p99 < 10 at 1m"},
}

// queryTable writes the query figures as a grid, a column per history
// size, so that their growth with the history reads across: p50 / p99
// in each cell, and how many times the p50 grew from the smallest size
// to the largest.
func queryTable(w io.Writer, r Results) {
	var sizes []string
	for k := range r {
		if rest, ok := strings.CutPrefix(k, "query_rss_mb_"); ok {
			sizes = append(sizes, rest)
		}
	}
	if len(sizes) == 0 {
		return
	}
	sort.Slice(sizes, func(i, j int) bool { return sizeOf("_"+sizes[i]) < sizeOf("_"+sizes[j]) })
	fmt.Fprintf(w, "\n%-34s", "query, p50 / p99 ms (8 clients)")
	for _, size := range sizes {
		fmt.Fprintf(w, " %15s", size+" events")
	}
	fmt.Fprintf(w, " %8s  %s\n", "growth", "target")
	for _, q := range queryRows {
		fmt.Fprintf(w, "%-34s", q.what)
		for _, size := range sizes {
			p50, ok50 := r[q.key+"_p50_ms_"+size]
			p99, ok99 := r[q.key+"_p99_ms_"+size]
			cell := ""
			if ok50 && ok99 {
				cell = num(p50) + " / " + num(p99)
			}
			fmt.Fprintf(w, " %15s", cell)
		}
		growth := ""
		first, okF := r[q.key+"_p50_ms_"+sizes[0]]
		last, okL := r[q.key+"_p50_ms_"+sizes[len(sizes)-1]]
		if okF && okL && first > 0 && len(sizes) > 1 {
			growth = fmt.Sprintf("%.1fx", last/first)
		}
		fmt.Fprintf(w, " %8s  %s\n", growth, q.target)
	}
	fmt.Fprintf(w, "%-34s", "resident memory, MiB")
	for _, size := range sizes {
		fmt.Fprintf(w, " %15s", num(r["query_rss_mb_"+size]))
	}
	fmt.Fprintln(w)
}

func sizeOf(k string) int {
	i := strings.LastIndex(k, "_")
	s := strings.ToLower(k[i+1:])
	mult := 1
	switch {
	case strings.HasSuffix(s, "m"):
		mult, s = 1_000_000, strings.TrimSuffix(s, "m")
	case strings.HasSuffix(s, "k"):
		mult, s = 1_000, strings.TrimSuffix(s, "k")
	}
	n, _ := strconv.Atoi(s)
	return n * mult
}

func num(v float64) string {
	switch {
	case v >= 1000:
		s := strconv.FormatFloat(v, 'f', 0, 64)
		var b strings.Builder
		for i, r := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(r)
		}
		return b.String()
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// WriteJSON writes the results as one flat JSON object.
func WriteJSON(path string, r Results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// sizeKey names a history size in a key: 10k, 100k, 1m.
func sizeKey(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dm", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

// percentile of durations (sorted in place), in milliseconds, by nearest
// rank: the smallest sample that at least p of the samples do not exceed.
// Of 10 samples the p99 is the largest, not the ninth. With no samples
// it is NaN, which Run refuses: a figure measured on nothing must not
// show as 0 ms.
func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return math.NaN()
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(math.Ceil(p*float64(len(d)))) - 1
	i = min(max(i, 0), len(d)-1)
	return float64(d[i]) / float64(time.Millisecond)
}

// unmeasured removes the figures that have no value (a percentile of no
// samples) and returns an error naming them, or nil.
func unmeasured(r Results) error {
	var keys []string
	for k, v := range r {
		if math.IsNaN(v) {
			keys = append(keys, k)
			delete(r, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	return fmt.Errorf("no samples for %s", strings.Join(keys, ", "))
}
