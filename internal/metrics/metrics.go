// Package metrics holds Parley's Prometheus metrics: what ingest appended
// and rejected, what the projector applied and how far behind it is, the
// rebuild's progress, the live feeds and the webhook deliveries, and the
// HTTP requests. They are served at GET /metrics in the text format.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds every metric of the process. One per process: the
// metrics are package variables so that every part counts into the same
// place without being handed a registry.
var Registry = prometheus.NewRegistry()

var (
	// Records counts ingested records by outcome (appended, duplicate,
	// rejected, conflict, failed) and, for rejected ones, the field at
	// fault ("syntax" when the record could not be read).
	Records = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_ingest_records_total", Help: "Records ingested, by outcome and, for rejections, the field at fault.",
	}, []string{"status", "field"})

	// Applied counts stream messages the projector applied.
	Applied = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "parley_projector_applied_total", Help: "Stream messages applied to the read model.",
	})
	// Skipped counts stream messages the projector could not apply.
	Skipped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "parley_projector_skipped_total", Help: "Stream messages not applied (undecodable, or an id applied before).",
	})
	// Checkpoint is the last stream sequence applied.
	Checkpoint = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "parley_projector_checkpoint", Help: "Last stream sequence applied to the read model.",
	})
	// Lag is the stream's last sequence minus the checkpoint.
	Lag = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "parley_projector_lag", Help: "Stream messages not applied yet (stream last sequence minus checkpoint).",
	})
	// Stalled is 1 while the disk refuses the read model's commits (full,
	// or no longer writable): applying waits, reads are served as of the
	// checkpoint, and the lag grows.
	Stalled = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "parley_projector_stalled", Help: "1 while the disk refuses the read model's commits (full, or not writable) and applying waits.",
	})
	// StreamStoreFailing is 1 while the embedded NATS server's JetStream
	// cannot write its store (a full disk, a folder not writable), until
	// it is restarted on a disk that takes writes again.
	StreamStoreFailing = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "parley_stream_store_failing", Help: "1 while the embedded JetStream cannot write its store and appends fail.",
	})
	// NATSConnected is 1 while the connection to NATS is up, 0 while it
	// reconnects: reads go on being served, from what was applied.
	NATSConnected = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "parley_nats_connected", Help: "1 while connected to NATS, 0 while reconnecting.",
	})
	// BatchSeconds times the apply of one batch, commit included.
	BatchSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "parley_projector_batch_seconds", Help: "Time to apply and commit one batch.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
	// RebuildDone and RebuildTotal show a rebuild's progress.
	RebuildDone = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "parley_rebuild_applied", Help: "Messages replayed by the running (or last) rebuild.",
	})
	RebuildTotal = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "parley_rebuild_total", Help: "Messages the running (or last) rebuild replays.",
	})

	// SSEClients is the number of connected live-feed clients.
	SSEClients = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "parley_sse_clients", Help: "Connected Server-Sent Events clients.",
	})
	// SSEDropped counts clients cut off for being too slow.
	SSEDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "parley_sse_slow_disconnects_total", Help: "Live-feed clients disconnected for falling behind.",
	})
	// SSERefused counts streams not admitted, by reason (full, address,
	// closed): most are answered 200 with a stream that asks to be
	// reopened later, which the request durations' codes do not show.
	SSERefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_sse_refused_total", Help: "Live-feed streams turned away, by reason (full, address, closed).",
	}, []string{"reason"})

	// Deliveries counts webhook delivery attempts by subscription (its
	// alert.MetricsLabel, not its id) and outcome (ok, failed, gone, dead).
	Deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_webhook_deliveries_total", Help: "Webhook delivery attempts by subscription and outcome.",
	}, []string{"subscription", "outcome"})

	// Backlog is how many alerts wait in the queue for delivery, by
	// subscription (its alert.MetricsLabel), as last counted: every
	// replica counts the one shared queue, and says the same.
	Backlog = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "parley_webhook_backlog", Help: "Alerts queued and not yet delivered, by subscription, as last counted (every few seconds).",
	}, []string{"subscription"})

	// RequestSeconds times HTTP requests by route pattern, method and code.
	RequestSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "parley_http_request_seconds", Help: "HTTP request durations by route, method and status code.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12),
	}, []string{"route", "method", "code"})
)

func init() {
	Registry.MustRegister(Records, Applied, Skipped, Checkpoint, Lag, Stalled, StreamStoreFailing, NATSConnected, BatchSeconds, RebuildDone, RebuildTotal,
		SSEClients, SSEDropped, SSERefused, Deliveries, Backlog, RequestSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// SetNATSConnected records whether the connection to NATS is up: the
// stream's OnConnection.
func SetNATSConnected(up bool) {
	if up {
		NATSConnected.Set(1)
	} else {
		NATSConnected.Set(0)
	}
}

// Handler serves the registry in the Prometheus text format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry})
}

// Instrument times every request of next by its route pattern (not its
// path, which would make a series per event id).
func Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		RequestSeconds.WithLabelValues(route, r.Method, strconv.Itoa(sw.code)).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (flush,
// per-write deadlines of the live feed).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes flushes through for handlers that assert http.Flusher.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ForgetSubscription removes the series of a deleted subscription.
func ForgetSubscription(label string) {
	Deliveries.DeletePartialMatch(prometheus.Labels{"subscription": label})
	Backlog.DeletePartialMatch(prometheus.Labels{"subscription": label})
}
