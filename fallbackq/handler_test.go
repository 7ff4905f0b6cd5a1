package fallbackq_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/fallbackq"
	clog "github.com/chronos-go/chronos/log"
)

// A handler failing the first N deliveries succeeds on delivery N+1, and
// the redeliveries follow the policy's schedule.
func TestRetriesFollowSchedule(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const failures = 3
	p := mustPolicy(t, fallbackq.Config{MaxRetries: 5, RetryDelayMs: 50, MaxDelayMs: 1000})
	seq := e.appendItem(t, "flaky")

	type delivery struct {
		n  uint64
		at time.Time
	}
	var mu sync.Mutex
	var got []delivery
	done := make(chan struct{})
	h := &fallbackq.Handler{DLQ: e.dlq, Policy: p, Consumer: "tester"}
	res := e.consume(t, h, func(_ context.Context, m jetstream.Msg) error {
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, delivery{md.NumDelivered, time.Now()})
		if len(got) <= failures {
			return errors.New("store unavailable")
		}
		close(done)
		return nil
	})
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the event was never processed successfully")
	}
	eventually(t, "the consumer to settle", func() bool { return e.settled(t, clog.StreamName(0), "tester") })

	mu.Lock()
	defer mu.Unlock()
	if len(got) != failures+1 {
		t.Fatalf("%d deliveries, want %d", len(got), failures+1)
	}
	schedule := p.Schedule()
	for i, d := range got {
		if d.n != uint64(i+1) {
			t.Fatalf("delivery %d has NumDelivered %d", i+1, d.n)
		}
		if i == 0 {
			continue
		}
		gap, want := d.at.Sub(got[i-1].at), schedule[i-1]
		// Never early (a little slack for clocks); late only by scheduling
		// noise, which under -race on a loaded machine reaches seconds. An
		// AckWait expiry (10s) instead of the Nak delay would still fail.
		if gap < want-5*time.Millisecond || gap > want+3*time.Second {
			t.Errorf("delivery %d came %s after delivery %d; the schedule says %s", d.n, gap, d.n-1, want)
		}
	}
	if errs := res.all(); len(errs) != failures+1 || errs[failures] != nil {
		t.Fatalf("Process returned %v", errs)
	}
	if n := e.streamMsgs(t, fallbackq.DLQStream); n != 0 {
		t.Fatalf("DLQ holds %d entries, want none", n)
	}
	if v := e.metric(t, "chronos_retries_total", "tester"); v != failures {
		t.Fatalf("chronos_retries_total = %v, want %d", v, failures)
	}
	c, _ := e.js.Consumer(testCtx(t), clog.StreamName(0), "tester")
	if floor := c.CachedInfo().AckFloor.Stream; floor != seq {
		t.Fatalf("ack floor %d, want %d", floor, seq)
	}
}

// A permanently failing event lands in the DLQ once, with every header,
// and the consumer goes on with later events.
func TestPermanentFailureIsDeadLetteredOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testCtx(t)
	p := mustPolicy(t, fallbackq.Config{MaxRetries: 2, RetryDelayMs: 20, MaxDelayMs: 100})
	badSeq := e.appendItem(t, "bad")
	e.appendItem(t, "good1")
	e.appendItem(t, "good2")

	var mu sync.Mutex
	badDeliveries, good := 0, map[string]int{}
	var last jetstream.Msg
	h := &fallbackq.Handler{DLQ: e.dlq, Policy: p, Consumer: "tester"}
	e.consume(t, h, func(_ context.Context, m jetstream.Msg) error {
		rec := itemOf(t, m)
		mu.Lock()
		defer mu.Unlock()
		if rec.Ref.ID == "bad" {
			badDeliveries++
			last = m
			return errors.New("upload failed:\nconnection reset") // newline: must not break the header
		}
		good[rec.Ref.ID]++
		return nil
	})
	eventually(t, "one DLQ entry", func() bool { return e.streamMsgs(t, fallbackq.DLQStream) == 1 })
	eventually(t, "the consumer to settle", func() bool { return e.settled(t, clog.StreamName(0), "tester") })

	mu.Lock()
	if badDeliveries != p.MaxDeliver() || good["good1"] != 1 || good["good2"] != 1 {
		t.Fatalf("bad delivered %d times (want %d), good %v", badDeliveries, p.MaxDeliver(), good)
	}
	mu.Unlock()
	if n := e.streamMsgs(t, fallbackq.DLQStream); n != 1 {
		t.Fatalf("DLQ holds %d entries, want 1", n)
	}

	list, err := e.dlq.List(ctx, fallbackq.Filter{Consumer: "tester"})
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	entry, err := e.dlq.Get(ctx, list[0].Seq)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := e.log.Get(ctx, 0, badSeq)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := e.js.Stream(ctx, clog.StreamName(0))
	origMsg, _ := raw.GetMsg(ctx, badSeq)
	want := map[string]string{
		fallbackq.HeaderError:       "upload failed: connection reset",
		fallbackq.HeaderErrorClass:  "retryable",
		fallbackq.HeaderAttempts:    strconv.Itoa(p.MaxDeliver()),
		fallbackq.HeaderConsumer:    "tester",
		fallbackq.HeaderOrigSeq:     strconv.FormatUint(badSeq, 10),
		fallbackq.HeaderOrigSubject: e.log.Subject(orig.Ref),
		fallbackq.HeaderOrigStream:  clog.StreamName(0),
		fallbackq.HeaderOrigMsgID:   clog.MsgIDFor(orig.Ref, "msg-bad"),
		clog.HeaderOV:               "0",
		clog.HeaderOp:               "create",
	}
	for k, v := range want {
		if got := entry.Headers.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{fallbackq.HeaderFailedAt, fallbackq.HeaderOrigTime} {
		if _, err := time.Parse(time.RFC3339Nano, entry.Headers.Get(k)); err != nil {
			t.Errorf("header %s = %q: %v", k, entry.Headers.Get(k), err)
		}
	}
	if entry.Headers.Get(jetstream.ExpectedLastSubjSeqHeader) != "" {
		t.Errorf("the DLQ copy kept a JetStream control header: %v", entry.Headers)
	}
	if string(entry.Data) != string(origMsg.Data) {
		t.Errorf("body changed:\n%s\nwant\n%s", entry.Data, origMsg.Data)
	}
	if entry.Consumer != "tester" || entry.OrigSeq != badSeq || entry.Attempts != 3 || entry.Subject != e.log.Subject(orig.Ref) {
		t.Errorf("entry %+v", entry)
	}
	if s := fallbackq.DLQSubject("tester", e.log.Subject(orig.Ref)); s != "chronos.dlq.tester.0.runtime.tenant.acme.orders.bad" {
		t.Errorf("DLQ subject %q", s)
	}

	// A crash between the copy and the Term means a second copy: it must
	// not create a second entry.
	mu.Lock()
	seq, err := e.dlq.Add(ctx, "tester", last, errors.New("again"))
	mu.Unlock()
	if err != nil || seq != entry.Seq {
		t.Fatalf("second Add = %d, %v; want entry %d", seq, err, entry.Seq)
	}
	if n := e.streamMsgs(t, fallbackq.DLQStream); n != 1 {
		t.Fatalf("DLQ holds %d entries after a repeated copy, want 1", n)
	}

	for _, tc := range []struct {
		f    fallbackq.Filter
		want int
	}{{fallbackq.Filter{}, 1}, {fallbackq.Filter{Tenant: "acme"}, 1}, {fallbackq.Filter{Tenant: "other"}, 0}, {fallbackq.Filter{Consumer: "nobody"}, 0}} {
		if l, err := e.dlq.List(ctx, tc.f); err != nil || len(l) != tc.want {
			t.Errorf("List(%+v) = %d entries, %v; want %d", tc.f, len(l), err, tc.want)
		}
	}
	if _, err := e.dlq.List(ctx, fallbackq.Filter{Tenant: "a.b"}); !errors.Is(err, events.ErrInvalid) {
		t.Errorf("List with a bad tenant = %v, want ErrInvalid", err)
	}
	if v := e.metric(t, "chronos_dlq_entries_total", "tester"); v != 1 {
		t.Errorf("chronos_dlq_entries_total = %v, want 1", v)
	}
	if v := e.metric(t, "chronos_retries_total", "tester"); v != float64(p.MaxRetries()) {
		t.Errorf("chronos_retries_total = %v, want %d", v, p.MaxRetries())
	}
	if v := e.metric(t, "chronos_dlq_depth", ""); v != 1 {
		t.Errorf("chronos_dlq_depth = %v, want 1", v)
	}
}

// When the DLQ cannot be written, the event is not acknowledged: it comes
// back (even past MaxDeliver), and the error joins both causes.
func TestDLQPublishFailureLeavesMessageUnacked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testCtx(t)
	if err := e.js.DeleteStream(ctx, fallbackq.DLQStream); err != nil {
		t.Fatal(err)
	}
	p := mustPolicy(t, fallbackq.Config{MaxRetries: 1, RetryDelayMs: 20, MaxDelayMs: 50})
	e.appendItem(t, "poison")

	var mu sync.Mutex
	deliveries := 0
	h := &fallbackq.Handler{DLQ: e.dlq, Policy: p, Consumer: "tester"}
	res := e.consume(t, h, func(_ context.Context, m jetstream.Msg) error {
		mu.Lock()
		defer mu.Unlock()
		deliveries++
		return fallbackq.MarkTerminal(errors.New("rejected by the store"))
	})
	eventually(t, "a delivery beyond MaxDeliver", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return deliveries > p.MaxDeliver()
	})
	for i, err := range res.all() {
		if !errors.Is(err, fallbackq.ErrTerminal) || !errors.Is(err, jetstream.ErrNoStreamResponse) {
			t.Fatalf("Process #%d = %v; want the cause joined with the DLQ publish error", i+1, err)
		}
	}
	if v := e.metric(t, "chronos_dlq_publish_errors_total", "tester"); v < 2 {
		t.Errorf("chronos_dlq_publish_errors_total = %v, want >= 2", v)
	}

	// Once the DLQ is back, the next delivery lands there and ends it.
	if err := fallbackq.EnsureDLQ(ctx, e.js, 1); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the DLQ entry", func() bool { return e.streamMsgs(t, fallbackq.DLQStream) == 1 })
	eventually(t, "the consumer to settle", func() bool { return e.settled(t, clog.StreamName(0), "tester") })
}

func TestAddRejectsBadConsumer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.appendItem(t, "x")
	c, err := e.log.EnsureConsumer(testCtx(t), 0, clog.ConsumerOptions{Durable: "peek"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.dlq.Add(testCtx(t), "a.b", m, errors.New("x")); !errors.Is(err, events.ErrInvalid) {
		t.Fatalf("Add with consumer a.b = %v, want ErrInvalid", err)
	}
}
