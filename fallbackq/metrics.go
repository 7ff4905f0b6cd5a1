package fallbackq

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chronos-go/chronos/internal/promreg"
)

// Metrics counts retries and dead letters per consumer and reports the DLQ
// depth. A nil *Metrics counts nothing. Give it to NewDLQ; every Handler
// on that DLQ counts through it.
type Metrics struct {
	retries       *prometheus.CounterVec
	entries       *prometheus.CounterVec
	publishErrors *prometheus.CounterVec
	depth         *depthCollector
}

// NewMetrics returns the metrics registered on reg (none when reg is nil):
//
//   - chronos_retries_total{consumer}: failed deliveries scheduled for a
//     redelivery (NakWithDelay);
//   - chronos_dlq_entries_total{consumer}: events copied to the DLQ;
//   - chronos_dlq_publish_errors_total{consumer}: failed copies to the DLQ
//     (the event stays unacknowledged and comes back);
//   - chronos_dlq_depth: entries in the DLQ stream, read from the stream's
//     state at each scrape (absent while the stream cannot be read).
//
// Calling it again on the same registry returns metrics backed by the
// already registered collectors; it never panics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{
		retries: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronos_retries_total",
			Help: "Failed deliveries that JetStream was asked to redeliver later, per consumer.",
		}, []string{"consumer"})),
		entries: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronos_dlq_entries_total",
			Help: "Events copied to the dead-letter stream CHRONOS_DLQ, per consumer.",
		}, []string{"consumer"})),
		publishErrors: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronos_dlq_publish_errors_total",
			Help: "Failed copies to CHRONOS_DLQ; the event was left unacknowledged and is redelivered.",
		}, []string{"consumer"})),
		depth: promreg.Register(reg, &depthCollector{
			desc: prometheus.NewDesc("chronos_dlq_depth", "Entries in the dead-letter stream CHRONOS_DLQ.", nil, nil),
		}),
	}
}

func (m *Metrics) retried(consumer string) {
	if m != nil {
		m.retries.WithLabelValues(consumer).Inc()
	}
}

func (m *Metrics) deadLettered(consumer string) {
	if m != nil {
		m.entries.WithLabelValues(consumer).Inc()
	}
}

func (m *Metrics) publishFailed(consumer string) {
	if m != nil {
		m.publishErrors.WithLabelValues(consumer).Inc()
	}
}

func (m *Metrics) watch(js jetstream.JetStream) {
	if m != nil {
		m.depth.js.Store(&js)
	}
}

// depthCollector reads the DLQ depth from the stream state when scraped.
type depthCollector struct {
	desc *prometheus.Desc
	js   atomic.Pointer[jetstream.JetStream]
}

func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	js := c.js.Load()
	if js == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := (*js).Stream(ctx, DLQStream)
	if err != nil {
		return // a failed scrape of one gauge must not fail the whole /metrics
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(s.CachedInfo().State.Msgs))
}
