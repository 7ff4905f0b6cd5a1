package wrap

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chronos-go/chronos/internal/promreg"
	"github.com/chronos-go/chronos/offload"
)

// Names of the metrics Metrics records. Every one has the labels backend
// (as given to Metrics) and op (put, get, stat, list, delete, presign);
// the byte counter also has direction: "in" for bytes read from Put's
// reader, "out" for bytes read from Get's body.
const (
	MetricOps     = "chronos_blob_ops_total"
	MetricErrors  = "chronos_blob_errors_total"
	MetricBytes   = "chronos_blob_bytes_total"
	MetricSeconds = "chronos_blob_op_seconds"
)

// latencyBuckets span a local stat (~50µs lands in the first) to a large
// multipart upload.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

type collectors struct {
	ops, errs, bytes *prometheus.CounterVec
	seconds          *prometheus.HistogramVec
}

func newCollectors(reg prometheus.Registerer) collectors {
	return collectors{
		ops: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricOps, Help: "Blob store operations started, by backend and operation.",
		}, []string{"backend", "op"})),
		errs: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricErrors, Help: "Blob store operations that failed (a missing object is not a failure), by backend and operation.",
		}, []string{"backend", "op"})),
		bytes: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricBytes, Help: "Payload bytes moved: in (read from Put's reader) and out (read from Get's body).",
		}, []string{"backend", "op", "direction"})),
		seconds: promreg.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: MetricSeconds, Help: "Duration of blob store calls (for Get, until the body is returned, not read), by backend and operation.",
			Buckets: latencyBuckets,
		}, []string{"backend", "op"})),
	}
}

// opMetrics are the series of one backend and operation.
type opMetrics struct {
	ops, errs, bytes prometheus.Counter
	seconds          prometheus.Observer
}

// Metrics returns a Store that records every call to s in the metrics
// named by the Metric constants, labelled with backend (e.g. "s3") and the
// operation, registered with reg (nil: not registered, as with promauto).
// Calling Metrics again with the same registry, for another store or
// backend, is safe: it reuses the collectors already registered, so every
// store of a backend adds to the same series. Errors count every failed
// call but those returning offload.ErrNotFound, an answer rather than a
// failure, and Get bodies whose reads fail. The Store behaves exactly as s.
func Metrics(s offload.Store, reg prometheus.Registerer, backend string) offload.Store {
	c := newCollectors(reg)
	m := &metricsStore{s: s, ops: make(map[Op]opMetrics, len(allOps))}
	for _, op := range allOps {
		dir := "in"
		if op == OpGet {
			dir = "out"
		}
		m.ops[op] = opMetrics{
			ops:     c.ops.WithLabelValues(backend, string(op)),
			errs:    c.errs.WithLabelValues(backend, string(op)),
			bytes:   c.bytes.WithLabelValues(backend, string(op), dir),
			seconds: c.seconds.WithLabelValues(backend, string(op)),
		}
	}
	return m
}

type metricsStore struct {
	s   offload.Store
	ops map[Op]opMetrics // read-only after Metrics
}

var _ offload.Store = (*metricsStore)(nil)

// begin counts a call of op and returns the function that ends it.
func (m *metricsStore) begin(op Op) func(error) {
	om := m.ops[op]
	om.ops.Inc()
	start := time.Now()
	return func(err error) {
		om.seconds.Observe(time.Since(start).Seconds())
		if err != nil && !errors.Is(err, offload.ErrNotFound) {
			om.errs.Inc()
		}
	}
}

func (m *metricsStore) Get(ctx context.Context, key string) (io.ReadCloser, offload.ObjectInfo, error) {
	end := m.begin(OpGet)
	rc, info, err := m.s.Get(ctx, key)
	end(err)
	if err != nil {
		return rc, info, err
	}
	om := m.ops[OpGet]
	return &countingBody{ReadCloser: rc, bytes: om.bytes, errs: om.errs}, info, nil
}

func (m *metricsStore) Stat(ctx context.Context, key string) (offload.ObjectInfo, error) {
	end := m.begin(OpStat)
	info, err := m.s.Stat(ctx, key)
	end(err)
	return info, err
}

func (m *metricsStore) List(ctx context.Context, o offload.ListOptions) (offload.ListPage, error) {
	end := m.begin(OpList)
	page, err := m.s.List(ctx, o)
	end(err)
	return page, err
}

func (m *metricsStore) Presign(ctx context.Context, key string, ttl time.Duration) (string, error) {
	end := m.begin(OpPresign)
	u, err := m.s.Presign(ctx, key, ttl)
	end(err)
	return u, err
}

func (m *metricsStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	end := m.begin(OpPut)
	err := m.s.Put(ctx, key, &countingReader{r: r, bytes: m.ops[OpPut].bytes}, size)
	end(err)
	return err
}

func (m *metricsStore) Delete(ctx context.Context, key string) error {
	end := m.begin(OpDelete)
	err := m.s.Delete(ctx, key)
	end(err)
	return err
}

// countingReader adds the bytes read through it to a counter.
type countingReader struct {
	r     io.Reader
	bytes prometheus.Counter
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.bytes.Add(float64(n))
	return n, err
}

// countingBody is a Get body that adds the bytes read to a counter and
// counts its first failed read (not io.EOF) as an error of the Get.
type countingBody struct {
	io.ReadCloser
	bytes, errs prometheus.Counter
	failed      sync.Once
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.bytes.Add(float64(n))
	if err != nil && err != io.EOF {
		c.failed.Do(c.errs.Inc)
	}
	return n, err
}
