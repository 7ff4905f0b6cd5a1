package log_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/log"
)

// startJS starts a real embedded nats-server for one test.
func startJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	srv, err := log.StartEmbedded(log.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func openLog(t *testing.T, js jetstream.JetStream, p int) *log.Log {
	t.Helper()
	ctx := context.Background()
	if err := log.EnsureStreams(ctx, js, log.Config{Partitions: p}); err != nil {
		t.Fatal(err)
	}
	l, err := log.Open(ctx, js, events.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var coll = events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "orders"}

func ev(op events.Op, ov uint64, payload string) *events.Event {
	now := time.Now().UTC()
	e := &events.Event{V: events.Version, Op: op, OV: ov, At: now, InsertedAt: now, Payload: json.RawMessage(payload)}
	return e
}

func TestEnsureStreamsIdempotentAndRecordsP(t *testing.T) {
	js := startJS(t)
	ctx := context.Background()
	for range 2 {
		if err := log.EnsureStreams(ctx, js, log.Config{Partitions: 3}); err != nil {
			t.Fatal(err)
		}
	}
	for k := range 3 {
		s, err := js.Stream(ctx, log.StreamName(k))
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		if cfg.Metadata[log.MetaPartitions] != "3" || !cfg.AllowDirect || cfg.Duplicates != log.DefaultDuplicateWindow {
			t.Fatalf("stream %d config %+v", k, cfg)
		}
	}
	if _, err := js.Stream(ctx, log.StreamName(3)); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("stream 3 should not exist: %v", err)
	}
	err := log.EnsureStreams(ctx, js, log.Config{Partitions: 4})
	if !errors.Is(err, log.ErrPartitionMismatch) {
		t.Fatalf("changing P: %v, want ErrPartitionMismatch", err)
	}
	l, err := log.Open(ctx, js, events.Limits{})
	if err != nil || l.Partitions() != 3 {
		t.Fatalf("Open: %v, P=%v", err, l)
	}
}

func TestOpenWithoutStreams(t *testing.T) {
	js := startJS(t)
	if _, err := log.Open(context.Background(), js, events.Limits{}); !errors.Is(err, log.ErrNotReady) {
		t.Fatalf("Open = %v, want ErrNotReady", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []log.Config{{Partitions: -1}, {Partitions: 2000}, {Replicas: 7}, {DuplicateWindow: time.Millisecond}, {MaxAge: -1}} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
	if err := (log.Config{}).Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

func TestAppendOptimisticConcurrency(t *testing.T) {
	js := startJS(t)
	l := openLog(t, js, 4)
	ctx := context.Background()
	ref := coll.Item("item-1")

	if _, err := l.Last(ctx, ref); !errors.Is(err, log.ErrNotFound) {
		t.Fatalf("Last of new item = %v, want ErrNotFound", err)
	}
	a0, err := l.Append(ctx, ref, ev(events.OpCreate, 0, `{"n":0}`), log.AppendOptions{ExpectSeq: log.Expect(0)})
	if err != nil {
		t.Fatal(err)
	}
	if a0.Part != events.Partition(coll, 4) || a0.Seq == 0 {
		t.Fatalf("ack %+v", a0)
	}
	// A second create of the same item loses.
	if _, err := l.Append(ctx, ref, ev(events.OpCreate, 0, `{"n":9}`), log.AppendOptions{ExpectSeq: log.Expect(0)}); !errors.Is(err, log.ErrConflict) {
		t.Fatalf("second create = %v, want ErrConflict", err)
	}
	a1, err := l.Append(ctx, ref, ev(events.OpUpdate, 1, `{"n":1}`), log.AppendOptions{ExpectSeq: log.Expect(a0.Seq)})
	if err != nil {
		t.Fatal(err)
	}
	// Stale expectation loses and stores nothing.
	if _, err := l.Append(ctx, ref, ev(events.OpUpdate, 1, `{"n":"stale"}`), log.AppendOptions{ExpectSeq: log.Expect(a0.Seq)}); !errors.Is(err, log.ErrConflict) {
		t.Fatalf("stale update = %v, want ErrConflict", err)
	}
	last, err := l.Last(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if last.Seq != a1.Seq || last.Event.OV != 1 || string(last.Event.Payload) != `{"n":1}` || last.Ref != ref {
		t.Fatalf("Last = %+v %s", last, last.Event.Payload)
	}
	// The leader's answer is the same record, headers and time included.
	lead, err := l.LastFromLeader(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lead.Event, last.Event) || lead.Seq != last.Seq || lead.Ref != last.Ref || lead.Part != last.Part ||
		lead.MsgID != last.MsgID || !lead.Time.Equal(last.Time) {
		t.Fatalf("LastFromLeader = %+v, Last = %+v", lead, last)
	}
	if _, err := l.LastFromLeader(ctx, coll.Item("never-written")); !errors.Is(err, log.ErrNotFound) {
		t.Fatalf("LastFromLeader of a new item = %v, want ErrNotFound", err)
	}
	first, err := l.Get(ctx, a0.Part, a0.Seq)
	if err != nil || first.Event.OV != 0 {
		t.Fatalf("Get(seq %d) = %+v, %v", a0.Seq, first, err)
	}
	if _, err := l.Get(ctx, a0.Part, 999); !errors.Is(err, log.ErrNotFound) {
		t.Fatalf("Get missing = %v", err)
	}
	// Invalid input never reaches NATS.
	if _, err := l.Append(ctx, coll.Item("bad.id"), ev(events.OpCreate, 0, `{}`), log.AppendOptions{}); !errors.Is(err, events.ErrInvalid) {
		t.Fatalf("bad id = %v", err)
	}
	if _, err := l.Append(ctx, ref, ev(events.OpUpdate, 2, `[]`), log.AppendOptions{}); !errors.Is(err, events.ErrInvalid) {
		t.Fatalf("bad payload = %v", err)
	}
}

func TestAppendDeduplicatesByMsgID(t *testing.T) {
	js := startJS(t)
	l := openLog(t, js, 2)
	ctx := context.Background()
	ref := coll.Item("dup")
	a, err := l.Append(ctx, ref, ev(events.OpCreate, 0, `{}`), log.AppendOptions{MsgID: "k1", ExpectSeq: log.Expect(0)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Append(ctx, ref, ev(events.OpCreate, 0, `{}`), log.AppendOptions{MsgID: "k1", ExpectSeq: log.Expect(0)})
	if err != nil {
		t.Fatalf("duplicate append: %v", err)
	}
	if !b.Duplicate || b.Seq != a.Seq || a.Duplicate {
		t.Fatalf("first %+v, second %+v", a, b)
	}
	last, _ := l.Last(ctx, ref)
	if !last.HasKey("k1") {
		t.Fatalf("MsgID = %q", last.MsgID)
	}
}

// Of N writers racing from the same read, exactly one wins.
func TestAppendRaceHasOneWinner(t *testing.T) {
	js := startJS(t)
	l := openLog(t, js, 2)
	ctx := context.Background()
	ref := coll.Item("hot")
	a0, err := l.Append(ctx, ref, ev(events.OpCreate, 0, `{}`), log.AppendOptions{ExpectSeq: log.Expect(0)})
	if err != nil {
		t.Fatal(err)
	}
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := l.Append(ctx, ref, ev(events.OpUpdate, 1, `{"w":`+string(rune('0'+i%10))+`}`), log.AppendOptions{ExpectSeq: log.Expect(a0.Seq)})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, log.ErrConflict):
				conflicts.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 19 {
		t.Fatalf("wins %d conflicts %d", wins.Load(), conflicts.Load())
	}
}

func TestBatchesDeliverInOrder(t *testing.T) {
	js := startJS(t)
	l := openLog(t, js, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const n = 25
	for i := range n {
		ref := coll.Item("i" + string(rune('a'+i)))
		if _, err := l.Append(ctx, ref, ev(events.OpCreate, 0, `{}`), log.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := l.EnsureConsumer(ctx, 0, log.ConsumerOptions{Durable: "test"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := log.NewBatches(c, 10, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	var seqs []uint64
	for len(seqs) < n {
		batch, err := b.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) > 10 {
			t.Fatalf("batch of %d > max 10", len(batch))
		}
		for _, m := range batch {
			r, err := log.DecodeMsg(m, events.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, r.Seq)
			if err := m.Ack(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("seqs %v not in order", seqs)
		}
	}
	if _, err := l.EnsureConsumer(ctx, 0, log.ConsumerOptions{Durable: "bad.name"}); !errors.Is(err, events.ErrInvalid) {
		t.Fatalf("bad durable = %v", err)
	}
}

func TestNextOfItemWalksOneItem(t *testing.T) {
	js := startJS(t)
	l := openLog(t, js, 1)
	ctx := context.Background()
	a, b := coll.Item("a"), coll.Item("b")
	// Interleave two items so the walk must skip the other one's events.
	seqA := uint64(0)
	for ov := range uint64(4) {
		op := events.OpCreate
		if ov > 0 {
			op = events.OpUpdate
		}
		ack, err := l.Append(ctx, a, ev(op, ov, `{"a":`+string(rune('0'+ov))+`}`), log.AppendOptions{ExpectSeq: log.Expect(seqA)})
		if err != nil {
			t.Fatal(err)
		}
		seqA = ack.Seq
		if ov == 0 {
			if _, err := l.Append(ctx, b, ev(events.OpCreate, 0, `{}`), log.AppendOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	rec, err := l.FindVersion(ctx, a, func(e *events.Event) bool { return e.OV == 2 }, nil)
	if err != nil || rec.Event.OV != 2 || string(rec.Event.Payload) != `{"a":2}` {
		t.Fatalf("FindVersion ov 2 = %+v, %v", rec, err)
	}
	if _, err := l.FindVersion(ctx, a, func(e *events.Event) bool { return e.OV == 9 }, nil); !errors.Is(err, log.ErrNotFound) {
		t.Fatalf("missing version: %v", err)
	}
	if _, err := l.FindVersion(ctx, a, func(e *events.Event) bool { return e.OV == 3 }, func(e *events.Event) bool { return e.OV >= 1 }); !errors.Is(err, log.ErrNotFound) {
		t.Fatalf("stopped walk: %v", err)
	}
}

func TestAppendAtomic(t *testing.T) {
	js := startJS(t)
	l := openLog(t, js, 2)
	ctx := context.Background()
	x := coll.Item("x")
	ax, err := l.Append(ctx, x, ev(events.OpCreate, 0, `{"x":0}`), log.AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	entries := []log.Entry{
		{Ref: coll.Item("n1"), Event: ev(events.OpCreate, 0, `{"n":1}`)},
		{Ref: x, Event: ev(events.OpUpdate, 1, `{"x":1}`), ExpectSeq: ax.Seq},
		{Ref: coll.Item("n2"), Event: ev(events.OpCreate, 0, `{"n":2}`)},
	}
	seqs, err := l.AppendAtomic(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		last, err := l.Last(ctx, e.Ref)
		if err != nil || last.Seq != seqs[i] || last.Event.OV != e.Event.OV {
			t.Fatalf("entry %d: last %+v seq %d, %v", i, last, seqs[i], err)
		}
	}
	before, _ := l.LastSeq(ctx, l.Partition(coll))
	// One stale expectation rejects the whole batch; nothing is stored.
	stale := []log.Entry{
		{Ref: coll.Item("n3"), Event: ev(events.OpCreate, 0, `{"n":3}`)},
		{Ref: x, Event: ev(events.OpUpdate, 1, `{"x":"stale"}`), ExpectSeq: ax.Seq},
	}
	if _, err := l.AppendAtomic(ctx, stale); !errors.Is(err, log.ErrConflict) || !errors.Is(err, log.ErrBatchRejected) {
		t.Fatalf("stale batch = %v, want ErrConflict and ErrBatchRejected", err)
	}
	after, _ := l.LastSeq(ctx, l.Partition(coll))
	if after != before {
		t.Fatalf("a rejected batch stored something: %d -> %d", before, after)
	}
	if _, err := l.Last(ctx, coll.Item("n3")); !errors.Is(err, log.ErrNotFound) {
		t.Fatalf("n3 exists after a rejected batch: %v", err)
	}
	dup := []log.Entry{{Ref: coll.Item("d"), Event: ev(events.OpCreate, 0, `{}`)}, {Ref: coll.Item("d"), Event: ev(events.OpCreate, 0, `{}`)}}
	if _, err := l.AppendAtomic(ctx, dup); !errors.Is(err, events.ErrInvalid) {
		t.Fatalf("duplicate item = %v", err)
	}
}

func TestScanCollection(t *testing.T) {
	js := startJS(t)
	l := openLog(t, js, 1) // one partition: both collections share it
	ctx := context.Background()
	other := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "other"}
	var mine []uint64
	for i := range 6 {
		c := coll
		if i%2 == 1 {
			c = other
		}
		a, err := l.Append(ctx, c.Item(fmt.Sprintf("i%d", i)), ev(events.OpCreate, 0, `{}`), log.AppendOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c == coll {
			mine = append(mine, a.Seq)
		}
	}
	var got []uint64
	scan := func(o log.ScanOptions) []uint64 {
		got = nil
		if err := l.Scan(ctx, coll, o, func(r *log.Record) error {
			if r.Ref.Collection != coll {
				t.Fatalf("scan returned %s", r.Ref)
			}
			got = append(got, r.Seq)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if g := scan(log.ScanOptions{}); fmt.Sprint(g) != fmt.Sprint(mine) {
		t.Fatalf("full scan %v, want %v", g, mine)
	}
	if g := scan(log.ScanOptions{FromSeq: mine[1]}); fmt.Sprint(g) != fmt.Sprint(mine[1:]) {
		t.Fatalf("scan from %d: %v", mine[1], g)
	}
	if g := scan(log.ScanOptions{FromSeq: mine[0], ToSeq: mine[1]}); fmt.Sprint(g) != fmt.Sprint(mine[:2]) {
		t.Fatalf("bounded scan: %v", g)
	}
	if g := scan(log.ScanOptions{FromSeq: mine[2] + 1}); len(g) != 0 {
		t.Fatalf("scan past the end: %v", g)
	}
	empty := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "empty"}
	if err := l.Scan(ctx, empty, log.ScanOptions{}, func(*log.Record) error { t.Fatal("called"); return nil }); err != nil {
		t.Fatal(err)
	}
}

// A key reused on another item of the same stream is not a duplicate.
func TestIdempotencyKeyIsScopedToTheItem(t *testing.T) {
	js := startJS(t)
	l := openLog(t, js, 1)
	ctx := context.Background()
	a, err := l.Append(ctx, coll.Item("a"), ev(events.OpCreate, 0, `{}`), log.AppendOptions{MsgID: "k"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Append(ctx, coll.Item("b"), ev(events.OpCreate, 0, `{}`), log.AppendOptions{MsgID: "k"})
	if err != nil || b.Duplicate || b.Seq == a.Seq {
		t.Fatalf("second item with the same key: %+v, %v", b, err)
	}
	last, _ := l.Last(ctx, coll.Item("b"))
	if !last.HasKey("k") || last.HasKey("other") || last.HasKey("") {
		t.Fatalf("HasKey on %q", last.MsgID)
	}
}
