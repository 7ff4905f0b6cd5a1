package fallbackq_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/fallbackq"
	clog "github.com/chronos-go/chronos/log"
)

// Replay after the fault is fixed: the event is processed once, as it was
// in the log, nothing is appended to the log, and the DLQ is empty.
func TestReplayAfterFix(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testCtx(t)
	p := mustPolicy(t, fallbackq.Config{MaxRetries: 2, RetryDelayMs: 20, MaxDelayMs: 100})
	badSeq := e.appendItem(t, "bad")
	e.appendItem(t, "good")

	var fixed atomic.Bool
	var mu sync.Mutex
	var processed []*clog.Record
	fn := func(_ context.Context, m jetstream.Msg) error {
		rec := itemOf(t, m)
		if rec == nil {
			return errors.New("undecodable")
		}
		if rec.Ref.ID == "bad" && !fixed.Load() {
			return fallbackq.MarkTerminal(errors.New("bucket does not exist"))
		}
		mu.Lock()
		defer mu.Unlock()
		processed = append(processed, rec)
		return nil
	}
	h := &fallbackq.Handler{DLQ: e.dlq, Policy: p, Consumer: "tester"}
	e.consume(t, h, fn)
	eventually(t, "the DLQ entry", func() bool { return e.streamMsgs(t, fallbackq.DLQStream) == 1 })
	eventually(t, "the consumer to settle", func() bool { return e.settled(t, clog.StreamName(0), "tester") })
	lastSeq, err := e.log.LastSeq(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}

	rctx, stop := context.WithCancel(context.Background())
	replayDone := make(chan error, 1)
	go func() { replayDone <- h.RunReplay(rctx, fn) }()
	t.Cleanup(func() {
		stop()
		if err := <-replayDone; err != nil {
			t.Errorf("RunReplay: %v", err)
		}
	})
	eventually(t, "the replay consumer", func() bool {
		_, err := e.js.Consumer(ctx, fallbackq.ReplayStream, "tester")
		return err == nil
	})

	list, err := e.dlq.List(ctx, fallbackq.Filter{})
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	fixed.Store(true)
	if err := e.dlq.Replay(ctx, list[0].Seq); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the DLQ to empty", func() bool { return e.streamMsgs(t, fallbackq.DLQStream) == 0 })
	eventually(t, "the replay consumer to settle", func() bool { return e.settled(t, fallbackq.ReplayStream, "tester") })

	mu.Lock()
	var bad []*clog.Record
	for _, r := range processed {
		if r.Ref.ID == "bad" {
			bad = append(bad, r)
		}
	}
	mu.Unlock()
	if len(bad) != 1 {
		t.Fatalf("the replayed event was processed %d times, want once", len(bad))
	}
	if r := bad[0]; r.Seq != badSeq || r.Part != 0 || !r.HasKey("msg-bad") || r.Time.IsZero() {
		t.Fatalf("replayed record %+v; want seq %d of partition 0 with its MsgID", r, badSeq)
	}
	if n := e.streamMsgs(t, fallbackq.ReplayStream); n != 0 {
		t.Fatalf("replay stream holds %d messages", n)
	}
	if got, err := e.log.LastSeq(ctx, 0); err != nil || got != lastSeq {
		t.Fatalf("log last seq %d (%v), want %d: replay wrote to the log", got, err, lastSeq)
	}
	if err := e.dlq.Replay(ctx, list[0].Seq); !errors.Is(err, fallbackq.ErrEntryNotFound) {
		t.Fatalf("replaying a removed entry = %v, want ErrEntryNotFound", err)
	}
}

// A replay that fails again keeps its entry; entries of consumers without a
// replay consumer are refused.
func TestReplayRefusedOrFailedKeepsEntry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testCtx(t)
	p := mustPolicy(t, fallbackq.Config{MaxRetries: -1, RetryDelayMs: 10, MaxDelayMs: 10})
	e.appendItem(t, "bad")
	fn := func(context.Context, jetstream.Msg) error { return errors.New("still broken") }
	h := &fallbackq.Handler{DLQ: e.dlq, Policy: p, Consumer: "tester"}
	e.consume(t, h, fn)
	eventually(t, "the DLQ entry", func() bool { return e.streamMsgs(t, fallbackq.DLQStream) == 1 })

	// No replay consumer yet.
	if err := e.dlq.Replay(ctx, 1); !errors.Is(err, fallbackq.ErrNoReplayConsumer) {
		t.Fatalf("Replay without a replay consumer = %v, want ErrNoReplayConsumer", err)
	}
	if n, err := e.dlq.ReplayAll(ctx, fallbackq.Filter{}); n != 0 || !errors.Is(err, fallbackq.ErrNoReplayConsumer) {
		t.Fatalf("ReplayAll = %d, %v; want 0, ErrNoReplayConsumer", n, err)
	}

	rctx, stop := context.WithCancel(context.Background())
	replayDone := make(chan error, 1)
	go func() { replayDone <- h.RunReplay(rctx, fn) }()
	t.Cleanup(func() { stop(); <-replayDone })
	eventually(t, "the replay consumer", func() bool {
		_, err := e.js.Consumer(ctx, fallbackq.ReplayStream, "tester")
		return err == nil
	})
	if n, err := e.dlq.ReplayAll(ctx, fallbackq.Filter{Consumer: "tester"}); n != 1 || err != nil {
		t.Fatalf("ReplayAll = %d, %v", n, err)
	}
	eventually(t, "the replay to be consumed", func() bool { return e.streamMsgs(t, fallbackq.ReplayStream) == 0 })
	eventually(t, "the replay consumer to settle", func() bool { return e.settled(t, fallbackq.ReplayStream, "tester") })
	if n := e.streamMsgs(t, fallbackq.DLQStream); n != 1 {
		t.Fatalf("DLQ holds %d entries after a failed replay, want the original 1", n)
	}
	if _, err := e.dlq.Get(ctx, 1); err != nil {
		t.Fatalf("the original entry is gone: %v", err)
	}
}

func TestPurgeOlderThan(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testCtx(t)
	p := mustPolicy(t, fallbackq.Config{MaxRetries: -1})
	h := &fallbackq.Handler{DLQ: e.dlq, Policy: p, Consumer: "tester"}
	e.consume(t, h, func(context.Context, jetstream.Msg) error { return errors.New("no") })

	if n, err := e.dlq.Purge(ctx, 0); n != 0 || err != nil {
		t.Fatalf("Purge of an empty DLQ = %d, %v", n, err)
	}
	e.appendItem(t, "old1")
	e.appendItem(t, "old2")
	eventually(t, "two entries", func() bool { return e.streamMsgs(t, fallbackq.DLQStream) == 2 })
	time.Sleep(500 * time.Millisecond) // a gap between the old entries and the new one
	e.appendItem(t, "new")
	eventually(t, "three entries", func() bool { return e.streamMsgs(t, fallbackq.DLQStream) == 3 })

	if n, err := e.dlq.Purge(ctx, time.Hour); n != 0 || err != nil {
		t.Fatalf("Purge(1h) = %d, %v; want 0", n, err)
	}
	before, err := e.dlq.List(ctx, fallbackq.Filter{})
	if err != nil || len(before) != 3 {
		t.Fatalf("List = %v, %v", before, err)
	}
	// A cutoff in the middle of the gap, however long the test took so far.
	cutoff := before[1].FailedAt.Add(before[2].FailedAt.Sub(before[1].FailedAt) / 2)
	if n, err := e.dlq.Purge(ctx, time.Since(cutoff)); n != 2 || err != nil {
		t.Fatalf("Purge(older than the gap) = %d, %v; want 2", n, err)
	}
	list, err := e.dlq.List(ctx, fallbackq.Filter{})
	if err != nil || len(list) != 1 || list[0].Subject != "chronos.evt.0.runtime.tenant.acme.orders.new" {
		t.Fatalf("after purge: %+v, %v", list, err)
	}
	if n, err := e.dlq.Purge(ctx, 0); n != 1 || err != nil {
		t.Fatalf("Purge(0) = %d, %v; want 1", n, err)
	}
	if _, err := e.dlq.Purge(ctx, -time.Second); err == nil {
		t.Fatal("Purge with a negative age succeeded")
	}
}

func TestMissingStreamsAreReported(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testCtx(t)
	for _, s := range []string{fallbackq.DLQStream, fallbackq.ReplayStream} {
		if err := e.js.DeleteStream(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.dlq.List(ctx, fallbackq.Filter{}); !errors.Is(err, fallbackq.ErrNotReady) {
		t.Errorf("List = %v, want ErrNotReady", err)
	}
	if _, err := e.dlq.Get(ctx, 1); !errors.Is(err, fallbackq.ErrNotReady) {
		t.Errorf("Get = %v, want ErrNotReady", err)
	}
	if _, err := e.dlq.Purge(ctx, 0); !errors.Is(err, fallbackq.ErrNotReady) {
		t.Errorf("Purge = %v, want ErrNotReady", err)
	}
	h := &fallbackq.Handler{DLQ: e.dlq, Consumer: "tester"}
	if err := h.RunReplay(ctx, nil); !errors.Is(err, fallbackq.ErrNotReady) {
		t.Errorf("RunReplay = %v, want ErrNotReady", err)
	}
	// EnsureDLQ is idempotent and leaves existing streams alone.
	for range 2 {
		if err := fallbackq.EnsureDLQ(ctx, e.js, 0); err != nil {
			t.Fatal(err)
		}
	}
	s, err := e.js.Stream(ctx, fallbackq.DLQStream)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := s.CachedInfo().Config; cfg.Storage != jetstream.FileStorage || cfg.MaxAge != 0 || cfg.Subjects[0] != "chronos.dlq.>" {
		t.Errorf("DLQ stream config %+v", cfg)
	}
	if l, err := e.dlq.List(ctx, fallbackq.Filter{}); err != nil || len(l) != 0 {
		t.Errorf("List of an empty DLQ = %v, %v", l, err)
	}
}
