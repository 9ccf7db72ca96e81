// Package bench measures Parley against the engine it stands on, in one
// process run: each figure of the service beside the raw JetStream or
// bbolt figure it is judged by, on synthetic events of about 1 KiB, so
// that a noisy machine moves both alike and the ratio holds.
package bench

import (
	"encoding/json"
	"fmt"
	"io"
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
	// Progress receives a line per step.
	Progress io.Writer
}

// Default is the full suite: 1M events for rebuild and queries.
func Default() Config {
	return Config{AppendN: 50_000, RebuildN: 1_000_000, QuerySizes: []int{10_000, 100_000, 1_000_000},
		Queries: 2000, Clients: 8, VisibleRate: 1000, VisibleFor: 10 * time.Second}
}

// Quick is a run of a minute or less.
func Quick() Config {
	return Config{AppendN: 5_000, RebuildN: 50_000, QuerySizes: []int{10_000, 50_000},
		Queries: 500, Clients: 8, VisibleRate: 1000, VisibleFor: 3 * time.Second, Quick: true}
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
	{"SSE p50, 1,000 clients at 100 ev/s", "sse_p50_ms_1k", "", "ms", ""},
	{"SSE p99, 1,000 clients at 100 ev/s", "sse_p99_ms_1k", "", "ms", "< 50"},
	{"10,000 idle SSE clients, RSS", "sse_idle_rss_mb_10k", "", "MiB", "< 1024"},
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
	inRows := map[string]bool{}
	for _, row := range rows {
		inRows[row.Key] = true
	}
	var keys []string
	for k := range r {
		if inRows[k] {
			continue
		}
		if strings.Contains(k, "_p50_ms_") || strings.Contains(k, "_p99_ms_") || strings.HasPrefix(k, "query_rss_mb_") {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		return sizeOf(keys[i]) < sizeOf(keys[j]) || (sizeOf(keys[i]) == sizeOf(keys[j]) && keys[i] < keys[j])
	})
	for _, k := range keys {
		target := ""
		switch {
		case strings.HasPrefix(k, "state_at_p99"):
			target = "< 5 (1m)"
		case strings.HasPrefix(k, "timeline_p99"), strings.HasPrefix(k, "history_p99"):
			target = "< 10 (1m)"
		}
		unit := "ms"
		if strings.Contains(k, "rss") {
			unit = "MiB"
		}
		line(k, unit, r[k], 0, false, target)
	}
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

// percentile of sorted durations, in milliseconds.
func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(p * float64(len(d)-1))
	return float64(d[i]) / float64(time.Millisecond)
}
