package delivery_test

import (
	"testing"
	"time"

	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/natstest"
)

// BenchmarkDelivery measures one subscription's pace, end to end: events
// appended, projected, matched, queued, and posted one at a time (in
// order) to a receiver on 127.0.0.1 that verifies each signature.
func BenchmarkDelivery(b *testing.B) {
	const n = 300
	for range b.N {
		b.StopTimer()
		url := natstest.Server(b)
		r := startReplica(b, url, b.TempDir(), fast())
		rc := newReceiver(b)
		subscribe(b, r, rc, alert.Filter{})
		b.StartTimer()
		start := time.Now()
		appendEvents(b, r.conn, "bench", n)
		waitFor(b, "all delivered", func() bool { return len(distinct(rc.received())) == n })
		el := time.Since(start)
		b.ReportMetric(float64(n)/el.Seconds(), "deliveries/s")
		b.ReportMetric(float64(el.Microseconds())/n/1000, "ms/delivery")
	}
}
