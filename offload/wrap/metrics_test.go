package wrap_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/offload/wrap"
)

// value returns the value of the series of name with the given labels
// (a histogram's sample count), or -1 if there is none.
func value(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue metrics
				}
			}
			return sample(m)
		}
	}
	return -1
}

func sample(m *dto.Metric) float64 {
	if m.GetHistogram() != nil {
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetCounter().GetValue()
}

func TestMetricsCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := wrap.Metrics(localStore(t), reg, "local")
	payload := strings.Repeat("p", 1000)
	for range 2 {
		if err := s.Put(t.Context(), "k/v", strings.NewReader(payload), int64(len(payload))); err != nil {
			t.Fatal(err)
		}
	}
	rc, _, err := s.Get(t.Context(), "k/v")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	if _, err := s.Stat(t.Context(), "missing"); !errors.Is(err, offload.ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), "../bad"); !errors.Is(err, offload.ErrInvalidKey) {
		t.Fatal(err)
	}
	if _, err := s.List(t.Context(), offload.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Presign(t.Context(), "k/v", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), "k/v"); err != nil {
		t.Fatal(err)
	}

	l := func(op string) map[string]string { return map[string]string{"backend": "local", "op": op} }
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{wrap.MetricOps, l("put"), 2},
		{wrap.MetricOps, l("get"), 1},
		{wrap.MetricOps, l("stat"), 2},
		{wrap.MetricOps, l("list"), 1},
		{wrap.MetricOps, l("presign"), 1},
		{wrap.MetricOps, l("delete"), 1},
		{wrap.MetricErrors, l("stat"), 1}, // the invalid key; not the missing one
		{wrap.MetricErrors, l("put"), 0},
		{wrap.MetricBytes, map[string]string{"backend": "local", "op": "put", "direction": "in"}, 2000},
		{wrap.MetricBytes, map[string]string{"backend": "local", "op": "get", "direction": "out"}, 1000},
		{wrap.MetricSeconds, l("put"), 2},
		{wrap.MetricSeconds, l("stat"), 2},
	}
	for _, tt := range tests {
		if got := value(t, reg, tt.name, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
}

// TestMetricsRegisterTwice wraps two stores with one registry: no panic,
// and both add to the series of their backend.
func TestMetricsRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := wrap.Metrics(localStore(t), reg, "local")
	b := wrap.Metrics(localStore(t), reg, "local")
	c := wrap.Metrics(localStore(t), reg, "s3")
	for _, s := range []offload.Store{a, b, c} {
		if _, err := s.List(t.Context(), offload.ListOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := value(t, reg, wrap.MetricOps, map[string]string{"backend": "local", "op": "list"}); got != 2 {
		t.Fatalf("local lists = %v, want 2", got)
	}
	if got := value(t, reg, wrap.MetricOps, map[string]string{"backend": "s3", "op": "list"}); got != 1 {
		t.Fatalf("s3 lists = %v, want 1", got)
	}

	// A foreign collector under one of the names: still no panic, and the
	// store works.
	other := prometheus.NewRegistry()
	other.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: wrap.MetricOps, Help: "someone else's"}))
	d := wrap.Metrics(localStore(t), other, "local")
	if _, err := d.List(t.Context(), offload.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := value(t, other, wrap.MetricErrors, map[string]string{"backend": "local", "op": "list"}); got != 0 {
		t.Fatalf("errors series on the other registry = %v, want 0 (registered)", got)
	}

	// nil registers nothing.
	if _, err := wrap.Metrics(localStore(t), nil, "x").List(t.Context(), offload.ListOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsGetBodyError counts a failed body read as an error of Get.
func TestMetricsGetBodyError(t *testing.T) {
	reg := prometheus.NewRegistry()
	inner := localStore(t)
	if err := inner.Put(t.Context(), "k", strings.NewReader(strings.Repeat("x", 1<<20)), 1<<20); err != nil {
		t.Fatal(err)
	}
	s := wrap.Metrics(inner, reg, "local")
	rc, _, err := s.Get(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()    // reading a closed file fails
	for range 2 { // counted once
		if _, err := rc.Read(make([]byte, 10)); err == nil {
			t.Fatal("read after close succeeded")
		}
	}
	if got := value(t, reg, wrap.MetricErrors, map[string]string{"backend": "local", "op": "get"}); got != 1 {
		t.Fatalf("get errors = %v, want 1", got)
	}
}
