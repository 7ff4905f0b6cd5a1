package offload_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/internal/testenv"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/offload/local"
)

// statusError is a store error with an HTTP status, as SDK errors have.
type statusError int

func (e statusError) Error() string       { return fmt.Sprintf("store answered %d", int(e)) }
func (e statusError) HTTPStatusCode() int { return int(e) }

// faultyStore is a real store whose Put fails while fail says so.
type faultyStore struct {
	offload.Store
	mu    sync.Mutex
	puts  map[string]int // attempts per key
	fail  func(key string, attempt int) error
	fixed bool
}

func (s *faultyStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	s.mu.Lock()
	s.puts[key]++
	var err error
	if !s.fixed {
		err = s.fail(key, s.puts[key])
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return s.Store.Put(ctx, key, r, size)
}

func (s *faultyStore) attempts(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts[key]
}

// The offloader retries a failing store on the policy's schedule, dead-
// letters what the store refuses, and offloads it once replayed.
func TestOffloaderRetriesAndDeadLetters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := testenv.StartNATS(t).Connect(t)
	if err := clog.EnsureStreams(ctx, js, clog.Config{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	l, err := clog.Open(ctx, js, events.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	disk, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &faultyStore{Store: disk, puts: map[string]int{}, fail: func(key string, attempt int) error {
		switch {
		case strings.Contains(key, "/flaky/") && attempt <= 2:
			return statusError(503)
		case strings.Contains(key, "/forbidden/"):
			return statusError(403)
		}
		return nil
	}}
	coll := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "orders"}
	for _, id := range []string{"flaky", "forbidden", "ok"} {
		now := time.Now().UTC()
		ev := &events.Event{V: events.Version, Op: events.OpCreate, At: now, InsertedAt: now, Payload: json.RawMessage(`{"id":"` + id + `"}`)}
		if _, err := l.Append(ctx, coll.Item(id), ev, clog.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	lastSeq, _ := l.LastSeq(ctx, 0)

	reg := prometheus.NewRegistry()
	o, err := offload.NewOffloader(l, func(events.Collection) (offload.Store, error) { return store, nil }, offload.OffloaderOptions{
		Retry:   fallbackq.Config{MaxRetries: 3, RetryDelayMs: 20, MaxDelayMs: 100},
		Metrics: fallbackq.NewMetrics(reg),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	key := func(id string) string { return offload.VersionKey("orders", id, 0, offload.CodecNone) }
	stored := func(id string) bool { _, err := disk.Stat(ctx, key(id)); return err == nil }
	dlq := fallbackq.NewDLQ(js, nil)
	awaitCond(t, "flaky and ok offloaded, forbidden dead-lettered", func() bool {
		list, err := dlq.List(ctx, fallbackq.Filter{Consumer: "offloader"})
		return stored("flaky") && stored("ok") && err == nil && len(list) == 1
	})
	if n := store.attempts(key("flaky")); n != 3 {
		t.Errorf("flaky: %d puts, want 3 (two 503s, then success)", n)
	}
	if n := store.attempts(key("forbidden")); n != 1 {
		t.Errorf("forbidden: %d puts, want 1 (a 403 is terminal)", n)
	}
	list, _ := dlq.List(ctx, fallbackq.Filter{})
	if e := list[0]; e.Class != "terminal" || e.Attempts != 1 || !strings.Contains(e.Error, "403") || !strings.HasSuffix(e.Subject, ".forbidden") {
		t.Errorf("DLQ entry %+v", e)
	}

	// Fix the store and replay: the event is offloaded and leaves the DLQ.
	store.mu.Lock()
	store.fixed = true
	store.mu.Unlock()
	awaitCond(t, "the offloader's replay consumer", func() bool {
		_, err := js.Consumer(ctx, fallbackq.ReplayStream, "offloader")
		return err == nil
	})
	if n, err := dlq.ReplayAll(ctx, fallbackq.Filter{Consumer: "offloader", Tenant: "acme"}); n != 1 || err != nil {
		t.Fatalf("ReplayAll = %d, %v", n, err)
	}
	awaitCond(t, "forbidden offloaded and the DLQ empty", func() bool {
		list, err := dlq.List(ctx, fallbackq.Filter{})
		return stored("forbidden") && err == nil && len(list) == 0
	})
	if n := store.attempts(key("forbidden")); n != 2 {
		t.Errorf("forbidden: %d puts, want 2", n)
	}
	if got, _ := l.LastSeq(ctx, 0); got != lastSeq {
		t.Errorf("the log grew from %d to %d: replay must not append", lastSeq, got)
	}
	for name, want := range map[string]float64{"chronos_retries_total": 2, "chronos_dlq_entries_total": 1} {
		if got := counterValue(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			sum := 0.0
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	return 0
}

func awaitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
