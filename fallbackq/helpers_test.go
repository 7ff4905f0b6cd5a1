package fallbackq_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/internal/testenv"
	clog "github.com/chronos-go/chronos/log"
)

var coll = events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "orders"}

// env is a real nats-server with a one-partition log and the DLQ streams.
type env struct {
	js  jetstream.JetStream
	log *clog.Log
	dlq *fallbackq.DLQ
	reg *prometheus.Registry
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := testCtx(t)
	_, js := testenv.StartNATS(t).Connect(t)
	if err := clog.EnsureStreams(ctx, js, clog.Config{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	l, err := clog.Open(ctx, js, events.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := fallbackq.EnsureDLQ(ctx, js, 0); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	return &env{js: js, log: l, dlq: fallbackq.NewDLQ(js, fallbackq.NewMetrics(reg)), reg: reg}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// appendItem appends a create of item id and returns its sequence.
func (e *env) appendItem(t *testing.T, id string) uint64 {
	t.Helper()
	now := time.Now().UTC()
	ev := &events.Event{V: events.Version, Op: events.OpCreate, At: now, InsertedAt: now, Payload: json.RawMessage(`{"id":"` + id + `"}`)}
	ack, err := e.log.Append(testCtx(t), coll.Item(id), ev, clog.AppendOptions{MsgID: "msg-" + id, ExpectSeq: clog.Expect(0)})
	if err != nil {
		t.Fatal(err)
	}
	return ack.Seq
}

// consume runs h over the durable consumer "tester" on partition 0 until
// the test ends, and returns what Process returned, in order.
func (e *env) consume(t *testing.T, h *fallbackq.Handler, fn fallbackq.HandlerFunc) *results {
	t.Helper()
	c, err := e.log.EnsureConsumer(testCtx(t), 0, clog.ConsumerOptions{Durable: h.Consumer, AckWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	it, err := c.Messages()
	if err != nil {
		t.Fatal(err)
	}
	r := &results{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := it.Next()
			if err != nil {
				return // stopped
			}
			r.add(h.Process(context.Background(), m, fn))
		}
	}()
	t.Cleanup(func() { it.Stop(); <-done })
	return r
}

type results struct {
	mu   sync.Mutex
	errs []error
}

func (r *results) add(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *results) all() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// eventually polls cond until it holds or 10s pass. It waits for state that
// the test cannot be notified of (stream contents); assertions are made on
// what it then reads, not on elapsed time.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) streamMsgs(t *testing.T, name string) uint64 {
	t.Helper()
	s, err := e.js.Stream(testCtx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.Msgs
}

// settled reports whether consumer has nothing pending, in flight or
// waiting for redelivery: no further delivery can happen.
func (e *env) settled(t *testing.T, stream, consumer string) bool {
	t.Helper()
	c, err := e.js.Consumer(testCtx(t), stream, consumer)
	if err != nil {
		t.Fatal(err)
	}
	info := c.CachedInfo()
	return info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0
}

// metric returns the value of metric name with label consumer (or no
// label when consumer is ""), 0 if absent.
func (e *env) metric(t *testing.T, name, consumer string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := consumer == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "consumer" && l.GetValue() == consumer {
					match = true
				}
			}
			if !match {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func mustPolicy(t *testing.T, c fallbackq.Config) fallbackq.Policy {
	t.Helper()
	p, err := fallbackq.NewPolicy(c)
	if err != nil {
		t.Fatal(err)
	}
	return p.WithoutJitter()
}

func itemOf(t *testing.T, m jetstream.Msg) *clog.Record {
	t.Helper()
	rec, err := clog.DecodeMsg(m, events.Limits{})
	if err != nil {
		t.Errorf("decode %s: %v", m.Subject(), err)
		return nil
	}
	return rec
}
