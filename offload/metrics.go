package offload

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chronos-go/chronos/internal/promreg"
	clog "github.com/chronos-go/chronos/log"
)

// Kinds of objects the offloader writes (the kind label).
const (
	KindVersion = "version" // a version payload, at VersionKey
	KindContent = "content" // a base64 property's content, at ContentKey
	KindHead    = "head"    // an item's head record, at HeadKey
)

// Metrics counts what an Offloader writes and reports how far it is
// behind the log. A nil *Metrics counts nothing. Give it to one Offloader
// (OffloaderOptions.OffloadMetrics).
type Metrics struct {
	objects  *prometheus.CounterVec
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec
	failures prometheus.Counter
	lag      *prometheus.GaugeVec
}

// NewMetrics returns the offloader's metrics registered on reg (none when
// reg is nil):
//
//   - chronos_offloader_objects_total{kind}: objects written, kind
//     "version" (payloads), "content" (base64 properties) or "head"
//     (head records; every write counts, a rewrite of the same head
//     included; deleting a head counts nothing);
//   - chronos_offloader_bytes_in_total{kind}: bytes before compression
//     (a payload's JSON; content is stored uncompressed, so for it the
//     same as bytes out);
//   - chronos_offloader_bytes_out_total{kind}: bytes stored;
//   - chronos_offloader_failures_total: failed attempts at an event (each
//     one is retried or dead-lettered; see chronos_retries_total);
//   - chronos_offloader_lag_events{partition}: events of the partition
//     stream not yet offloaded: the stream's last sequence minus the
//     offloader consumer's ack floor, sampled every
//     OffloaderOptions.LagInterval while the offloader runs (absent while
//     the consumer cannot be read).
//
// Calling it again on the same registry returns metrics backed by the
// already registered collectors; it never panics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{
		objects: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronos_offloader_objects_total",
			Help: "Objects the offloader wrote, by kind (version payloads, base64 content, head records).",
		}, []string{"kind"})),
		bytesIn: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronos_offloader_bytes_in_total",
			Help: "Bytes the offloader wrote before compression, by kind.",
		}, []string{"kind"})),
		bytesOut: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronos_offloader_bytes_out_total",
			Help: "Bytes the offloader stored, by kind.",
		}, []string{"kind"})),
		failures: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chronos_offloader_failures_total",
			Help: "Failed attempts at offloading an event; each is retried or dead-lettered.",
		})),
		lag: promreg.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "chronos_offloader_lag_events",
			Help: "Events of a partition stream not yet offloaded: the stream's last sequence minus the offloader consumer's ack floor.",
		}, []string{"partition"})),
	}
}

func (m *Metrics) stored(kind string, in, out int) {
	if m != nil {
		m.objects.WithLabelValues(kind).Inc()
		m.bytesIn.WithLabelValues(kind).Add(float64(in))
		m.bytesOut.WithLabelValues(kind).Add(float64(out))
	}
}

func (m *Metrics) failed() {
	if m != nil {
		m.failures.Inc()
	}
}

// sampleLag sets the lag of every partition of parts from the log: one
// stream info and one consumer info each. A partition that cannot be read
// (no consumer yet, the server unreachable) loses its series until it can.
func (m *Metrics) sampleLag(ctx context.Context, l *clog.Log, durable string, parts []int) {
	if m == nil {
		return
	}
	for _, part := range parts {
		label := strconv.Itoa(part)
		lag, err := consumerLag(ctx, l, durable, part)
		if err != nil {
			m.lag.DeleteLabelValues(label)
			continue
		}
		m.lag.WithLabelValues(label).Set(float64(lag))
	}
}

func consumerLag(ctx context.Context, l *clog.Log, durable string, part int) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := l.JetStream().Consumer(ctx, clog.StreamName(part), durable)
	if err != nil {
		return 0, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, err
	}
	// The stream's last sequence is read after the consumer's ack floor,
	// so a write in between can only overstate the lag, never make it
	// negative.
	last, err := l.LastSeq(ctx, part)
	if err != nil {
		return 0, err
	}
	if last < info.AckFloor.Stream {
		return 0, nil
	}
	return last - info.AckFloor.Stream, nil
}
