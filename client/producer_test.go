package client_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/client"
	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/testenv"
	clog "github.com/chronos-go/chronos/log"
)

var sensors = events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "plant-1", Name: "readings"}

// newProducer returns a producer on a fresh embedded nats-server with the
// partition streams, and the log to check what it wrote.
func newProducer(t *testing.T, opts ...client.ProducerOption) (*client.Producer, *clog.Log) {
	t.Helper()
	ctx := context.Background()
	_, js := testenv.StartNATS(t).Connect(t)
	if err := clog.EnsureStreams(ctx, js, clog.Config{Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	l, err := clog.Open(ctx, js, events.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := client.NewProducer(ctx, js, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p, l
}

func reading(i int) []byte {
	return fmt.Appendf(nil, `{"sensor":"s-%d","t":21.5,"seq":%d}`, i%7, i)
}

// 1,000 pipelined creates: each is in the log exactly once, with the
// envelope ingest would have written.
func TestProducerCreates(t *testing.T) {
	p, l := newProducer(t)
	ctx := context.Background()
	actor := &events.Actor{Type: "service", Identifier: "gw-1"}
	lineage := &events.Lineage{OriginID: "r-1", OriginCollection: "modbus:registers"}
	const n = 1000
	ws := make([]*client.PendingWrite, n)
	for i := range n {
		ref := sensors.Item("")
		if i%2 == 0 {
			ref.ID = fmt.Sprintf("r-%04d", i)
		}
		w, err := p.Create(ctx, ref, reading(i), client.WriteMeta{Actor: actor, Reason: "poll", Lineage: lineage})
		if err != nil {
			t.Fatal(err)
		}
		ws[i] = w
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	seqs := map[uint64]bool{}
	for i, w := range ws {
		res, err := w.Ack(ctx)
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if res.ID != w.Ref().ID || res.OV != 0 || res.Seq == 0 || res.CV != res.Seq || res.Duplicate || seqs[res.Seq] {
			t.Fatalf("write %d: %+v", i, res)
		}
		seqs[res.Seq] = true
		last, err := l.Last(ctx, w.Ref())
		if err != nil {
			t.Fatal(err)
		}
		ev := last.Event
		if last.Seq != res.Seq || !last.HasKey(w.IdempotencyKey()) || len(w.IdempotencyKey()) != 26 {
			t.Fatalf("write %d: log record %+v, result %+v", i, last, res)
		}
		if ev.V != events.Version || ev.Op != events.OpCreate || ev.OV != 0 || !ev.At.Equal(res.At) || !ev.InsertedAt.Equal(ev.At) ||
			ev.At.Location() != time.UTC || ev.At.Nanosecond()%int(time.Millisecond) != 0 ||
			!reflect.DeepEqual(ev.Actor, actor) || !reflect.DeepEqual(ev.Creator, actor) || ev.Reason != "poll" || *ev.Lineage != *lineage || string(ev.Payload) != string(reading(i)) {
			t.Fatalf("write %d: event %+v", i, ev)
		}
		if first, err := l.NextOfItem(ctx, w.Ref(), 0); err != nil || first.Seq != last.Seq {
			t.Fatalf("write %d: item has an earlier event %+v %v", i, first, err)
		}
	}
	if got, _ := l.LastSeq(ctx, l.Partition(sensors)); got != n {
		t.Fatalf("the stream holds %d events, want %d", got, n)
	}
	if p.Pending() != 0 {
		t.Fatalf("pending %d after Flush", p.Pending())
	}
}

func TestProducerUpdateOCC(t *testing.T) {
	p, l := newProducer(t)
	ctx := context.Background()
	ref := sensors.Item("dev-1")
	creator := &events.Actor{Type: "service", Identifier: "gw-1"}
	lineage := &events.Lineage{ParentID: "p-1", ParentCollection: "devices"}
	ack := func(w *client.PendingWrite, err error) client.Result {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		res, err := w.Ack(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	c := ack(p.Create(ctx, ref, []byte(`{"v":0}`), client.WriteMeta{Actor: creator, Lineage: lineage}))
	zero := uint64(0)
	u := ack(p.Update(ctx, ref, []byte(`{"v":1}`), &zero, client.WriteMeta{Actor: &events.Actor{Type: "user", Identifier: "u-2"}, Reason: "fix"}))
	if u.OV != 1 || !u.At.After(c.At) || u.Seq <= c.Seq {
		t.Fatalf("update %+v after %+v", u, c)
	}
	last, err := l.Last(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	ev := last.Event
	if ev.Op != events.OpUpdate || ev.OV != 1 || !ev.InsertedAt.Equal(c.At) || !reflect.DeepEqual(ev.Creator, creator) || *ev.Lineage != *lineage ||
		ev.Actor.Identifier != "u-2" || ev.Reason != "fix" || string(ev.Payload) != `{"v":1}` || last.Seq != u.Seq {
		t.Fatalf("update event %+v", ev)
	}

	// A stale expected version: a conflict, and nothing appended.
	before, _ := l.LastSeq(ctx, l.Partition(sensors))
	_, err = p.Update(ctx, ref, []byte(`{"v":"stale"}`), &zero, client.WriteMeta{})
	var ce *client.ConflictError
	if !errors.As(err, &ce) || ce.CurrentOV != 1 || ce.ExpectedOV != 0 || !errors.Is(err, client.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	if after, _ := l.LastSeq(ctx, l.Partition(sensors)); after != before {
		t.Fatalf("a stale update reached the log: seq %d -> %d", before, after)
	}
	// Updates racing on one item: those that read the same last event as
	// a winner are refused by the log, and their Ack is a conflict naming
	// the winner's version. Rounds repeat until a race was lost at Ack.
	for round, lostAtAck := 0, false; !lostAtAck; round++ {
		if round == 50 {
			t.Fatal("no update lost a race at Ack in 50 rounds")
		}
		head, _ := l.Last(ctx, ref)
		ws := make([]*client.PendingWrite, 8)
		var wg sync.WaitGroup
		for i := range ws {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w, err := p.Update(ctx, ref, fmt.Appendf(nil, `{"round":%d,"w":%d}`, round, i), nil, client.WriteMeta{})
				if err != nil {
					t.Error(err)
				}
				ws[i] = w
			}()
		}
		wg.Wait()
		won := map[uint64]string{}
		for i, w := range ws {
			res, err := w.Ack(ctx)
			switch {
			case err == nil:
				if won[res.OV] != "" {
					t.Fatalf("two winners of ov %d", res.OV)
				}
				won[res.OV] = fmt.Sprintf(`{"round":%d,"w":%d}`, round, i)
			case errors.As(err, &ce):
				lostAtAck = true
				if ce.CurrentOV <= ce.ExpectedOV || ce.ExpectedOV < head.Event.OV {
					t.Fatalf("conflict %+v", ce)
				}
			default:
				t.Fatal(err)
			}
		}
		if err := p.Flush(ctx); lostAtAck && !errors.As(err, &ce) {
			t.Fatalf("Flush: %v, want the conflicts", err)
		}
		// The log holds exactly the winners, in ov order.
		seq := head.Seq + 1
		for ov := head.Event.OV + 1; ov <= head.Event.OV+uint64(len(won)); ov++ {
			rec, err := l.NextOfItem(ctx, ref, seq)
			if err != nil || rec.Event.OV != ov || string(rec.Event.Payload) != won[ov] {
				t.Fatalf("event of ov %d: %+v %v (winners %v)", ov, rec, err, won)
			}
			seq = rec.Seq + 1
		}
		if rec, err := l.NextOfItem(ctx, ref, seq); !errors.Is(err, clog.ErrNotFound) {
			t.Fatalf("an event beyond the winners: %+v", rec)
		}
	}
	if _, err := p.Update(ctx, sensors.Item("nope"), []byte(`{}`), nil, client.WriteMeta{}); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("update of a missing item: %v", err)
	}
	if _, err := p.Create(ctx, ref, []byte(`{}`), client.WriteMeta{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); !errors.Is(err, client.ErrExists) {
		t.Fatalf("create of a taken id: %v", err)
	}
	if _, err := p.Create(ctx, ref, []byte(`[1]`), client.WriteMeta{}); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("invalid payload: %v", err)
	}
}

// A write repeated with its idempotency key is stored once.
func TestProducerResendIsIdempotent(t *testing.T) {
	p, l := newProducer(t)
	ctx := context.Background()
	w, err := p.Create(ctx, sensors.Item("once"), []byte(`{"a":1}`), client.WriteMeta{IdempotencyKey: "k-1-" + client.NewID()})
	if err != nil {
		t.Fatal(err)
	}
	first, err := w.Ack(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.Resend(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	second, err := again.Ack(ctx)
	if err != nil || !second.Duplicate || second.Seq != first.Seq {
		t.Fatalf("resend: %+v %v (first %+v)", second, err, first)
	}
	// The same key on an update that already landed answers with it.
	one := uint64(0)
	k2 := "k-2-" + client.NewID()
	u, _ := p.Update(ctx, sensors.Item("once"), []byte(`{"a":2}`), &one, client.WriteMeta{IdempotencyKey: k2})
	ur, err := u.Ack(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u2, err := p.Update(ctx, sensors.Item("once"), []byte(`{"a":2}`), &one, client.WriteMeta{IdempotencyKey: k2})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := u2.Ack(ctx); err != nil || !r.Duplicate || r.Seq != ur.Seq {
		t.Fatalf("repeated update: %+v %v", r, err)
	}
	if got, _ := l.LastSeq(ctx, l.Partition(sensors)); got != 2 {
		t.Fatalf("%d events, want 2", got)
	}
}

// The window bounds the unacknowledged writes, whatever the concurrency.
func TestProducerWindowBound(t *testing.T) {
	const window = 8
	p, l := newProducer(t, client.WithWindow(window))
	ctx := context.Background()
	var maxSeen atomic.Int64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := int64(p.Pending()); n > maxSeen.Load() {
				maxSeen.Store(n)
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				if _, err := p.Create(ctx, sensors.Item(fmt.Sprintf("w-%d-%d", g, i)), reading(i), client.WriteMeta{}); err != nil {
					t.Error(err)
					return
				}
				if n := p.Pending(); n > window {
					t.Errorf("pending %d > window %d", n, window)
				}
			}
		}()
	}
	wg.Wait()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	close(stop)
	sampler.Wait()
	if m := maxSeen.Load(); m > window || m == 0 {
		t.Fatalf("max pending seen %d, window %d", m, window)
	}
	if got, _ := l.LastSeq(ctx, l.Partition(sensors)); got != 2000 {
		t.Fatalf("%d events, want 2000", got)
	}
	t.Logf("max pending seen: %d of %d", maxSeen.Load(), window)
}

// With the window full and no acks coming (the server is gone), a write
// waits for its context; Close gives up on the lost writes in time.
func TestProducerFullWindowWaitsForContext(t *testing.T) {
	ctx := context.Background()
	ns, err := clog.StartEmbedded(clog.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if err := clog.EnsureStreams(ctx, js, clog.Config{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	p, err := client.NewProducer(ctx, js, client.WithWindow(2))
	if err != nil {
		t.Fatal(err)
	}
	ns.Shutdown()
	eventually(t, "the connection to notice", func() bool { return nc.Status() == nats.RECONNECTING })
	time.Sleep(100 * time.Millisecond) // nats.go fails the acks pending at disconnection
	var ws []*client.PendingWrite
	for i := range 2 {
		w, err := p.Create(ctx, sensors.Item(fmt.Sprint("lost-", i)), reading(i), client.WriteMeta{})
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	if p.Pending() != 2 {
		t.Fatalf("pending %d", p.Pending())
	}
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := p.Create(tctx, sensors.Item("third"), reading(3), client.WriteMeta{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("create into a full window: %v", err)
	}
	cctx, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	if err := p.Close(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v", err)
	}
	for _, w := range ws {
		if _, err := w.Ack(ctx); !errors.Is(err, client.ErrClosed) {
			t.Fatalf("lost write: %v", err)
		}
	}
	if _, err := p.Create(ctx, sensors.Item("late"), reading(0), client.WriteMeta{}); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("create after Close: %v", err)
	}
	if err := p.Flush(ctx); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Flush after Close: %v", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
