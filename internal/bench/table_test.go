package bench

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// TestTableReadsAcrossSizes: the query figures come out a row per query
// and a column per history size, with the growth of the p50.
func TestTableReadsAcrossSizes(t *testing.T) {
	r := Results{"append_eps": 12000, "raw_publish_eps": 6000, "sse_p99_ms_200": 7}
	for _, size := range []string{"10k", "1m", "100k"} {
		r["query_rss_mb_"+size] = 100
		for _, q := range queryRows {
			r[q.key+"_p50_ms_"+size] = 1
			r[q.key+"_p99_ms_"+size] = 3
		}
	}
	r["state_at_p50_ms_1m"] = 2.5
	var b bytes.Buffer
	Table(&b, r)
	out := b.String()
	// Compared a word at a time: the columns' widths are not the point.
	words := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		"append, fsync always 12,000 ev/s 6,000 ev/s 200%",
		"10k events 100k events 1m events growth target",
		"GET /v1/state?at=T 1.00 / 3.00 1.00 / 3.00 2.50 / 3.00 2.5x p99 < 5 at 1m",
		"resident memory, MiB 100.0 100.0 100.0",
		"SSE p99, 200 clients 7.00 ms",
	} {
		if !strings.Contains(words, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "state_at_p99_ms_") {
		t.Errorf("table shows raw keys:\n%s", out)
	}
}

// TestWithN: -n sets the largest query size and keeps the smaller ones.
func TestWithN(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		n    int
		want []int
	}{
		{"larger than the default", Default(), 2_000_000, []int{10_000, 100_000, 2_000_000}},
		{"between", Default(), 200_000, []int{10_000, 100_000, 200_000}},
		{"below the middle size", Default(), 50_000, []int{10_000, 50_000}},
		{"below every size", Default(), 5_000, []int{5_000}},
		{"quick", Quick(), 20_000, []int{10_000, 20_000}},
	} {
		got := c.cfg.WithN(c.n)
		if !slices.Equal(got.QuerySizes, c.want) || got.RebuildN != c.n {
			t.Errorf("%s: sizes %v, rebuild %d; want %v, %d", c.name, got.QuerySizes, got.RebuildN, c.want, c.n)
		}
	}
	if d := Default(); d.QuerySizes[2] != 1_000_000 {
		t.Errorf("WithN changed the default's sizes: %v", d.QuerySizes)
	}
}
