package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/delivery"
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

// BenchmarkDeliveryFanout delivers every development to 100 receivers on
// 127.0.0.1, one subscription each: deliveries per second across them,
// which the per-subscription order (one alert in flight each) does not
// serialise.
func BenchmarkDeliveryFanout(b *testing.B) {
	const receivers, n = 100, 20
	for range b.N {
		b.StopTimer()
		url := natstest.Server(b)
		r := startReplica(b, url, b.TempDir(), fast())
		rcs := make([]*receiver, receivers)
		for i := range rcs {
			rcs[i] = newReceiver(b)
			sub, err := r.svc.Create(context.Background(), delivery.Request{URL: rcs[i].srv.URL + "/hook"})
			if err != nil {
				b.Fatal(err)
			}
			rcs[i].secret.Store(sub.Secret)
		}
		b.StartTimer()
		start := time.Now()
		appendEvents(b, r.conn, "fan", n)
		waitFor(b, "all delivered", func() bool {
			for _, rc := range rcs {
				if len(distinct(rc.received())) < n {
					return false
				}
			}
			return true
		})
		el := time.Since(start)
		b.ReportMetric(float64(receivers*n)/el.Seconds(), "deliveries/s")
	}
}
