package bench

import (
	"math"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(n int) []time.Duration {
		d := make([]time.Duration, n)
		for i := range d {
			d[i] = time.Duration(n-i) * time.Millisecond // 1..n ms, unsorted
		}
		return d
	}
	for _, c := range []struct {
		name string
		d    []time.Duration
		p    float64
		want float64
	}{
		{"one sample", ms(1), 0.99, 1},
		{"p50 of 2 is the lower", ms(2), 0.50, 1},
		{"p50 of 3 is the middle", ms(3), 0.50, 2},
		{"p99 of 10 is the largest", ms(10), 0.99, 10},
		{"p99 of 100 is the 99th", ms(100), 0.99, 99},
		{"p99 of 150 is the 149th", ms(150), 0.99, 149},
		{"p99 of 1000 is the 990th", ms(1000), 0.99, 990},
		{"p50 of 1000 is the 500th", ms(1000), 0.50, 500},
		{"p100 is the largest", ms(7), 1, 7},
		{"p0 is the smallest", ms(7), 0, 1},
	} {
		if got := percentile(c.d, c.p); got != c.want {
			t.Errorf("%s: %v ms, want %v", c.name, got, c.want)
		}
	}
	if got := percentile(nil, 0.99); !math.IsNaN(got) {
		t.Errorf("no samples: %v ms, want NaN (not a figure)", got)
	}
}

// TestUnmeasuredIsAnError: a percentile of no samples is refused and
// left out, not shown as 0 ms.
func TestUnmeasuredIsAnError(t *testing.T) {
	r := Results{"visible_p99_ms": percentile(nil, 0.99), "visible_p50_ms": 2}
	if err := unmeasured(r); err == nil {
		t.Fatal("no error for a figure without samples")
	}
	if _, ok := r["visible_p99_ms"]; ok || r["visible_p50_ms"] != 2 {
		t.Errorf("results after: %v", r)
	}
	if err := WriteJSON(t.TempDir()+"/b.json", r); err != nil {
		t.Errorf("the rest cannot be written: %v", err)
	}
	if err := unmeasured(Results{"a": 1}); err != nil {
		t.Errorf("measured figures refused: %v", err)
	}
}
