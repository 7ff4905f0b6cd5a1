package stack_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/stack"
	"github.com/chronos-go/chronos/projection"
)

// haltingStore is a fault-injecting wrapper around the REAL store: after
// `after` successful applies it applies one more batch, then stops the
// projector before it can acknowledge, as a crash between the write and
// the ack would.
type haltingStore struct {
	projection.Store
	after   int32
	applied atomic.Int32
	halt    context.CancelFunc
}

var errHalted = errors.New("halted after writing, before acking")

func (h *haltingStore) Apply(ctx context.Context, b []projection.Change) error {
	if err := h.Store.Apply(ctx, b); err != nil {
		return err
	}
	if h.applied.Add(1) > h.after {
		h.halt()
		return errHalted
	}
	return nil
}

// (c) stop the projector mid-stream without acking, restart it: no
// duplicate versions, counters exact.
func TestSpineProjectorRestartMidStream(t *testing.T) {
	forEachStore(t, testSpineProjectorRestartMidStream)
}

func testSpineProjectorRestartMidStream(t *testing.T, cfg stack.Config) {
	cfg.NoWorkers = true
	s := startStack(t, cfg)
	ctx := context.Background()
	const items, updates = 20, 2
	for i := range items {
		id := fmt.Sprintf("it-%02d", i)
		if _, err := s.Ingest.Create(ctx, orders, id, []byte(fmt.Sprintf(`{"i":%d,"v":0}`, i)), ingest.Write{}); err != nil {
			t.Fatal(err)
		}
		for v := 1; v <= updates; v++ {
			if _, err := s.Ingest.Update(ctx, orders.Item(id), []byte(fmt.Sprintf(`{"i":%d,"v":%d}`, i, v)), ingest.Write{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	part := s.Log.Partition(orders)
	last, err := s.Log.LastSeq(ctx, part)
	if err != nil || last != items*(updates+1) {
		t.Fatalf("last seq %d, %v", last, err)
	}

	// First projector: small batches, halts after 3 applied batches (the
	// 4th is written but never acked).
	pctx, halt := context.WithCancel(ctx)
	hs := &haltingStore{Store: s.Store, after: 3, halt: halt}
	p1 := projection.NewProjector(s.Log, hs, projection.ProjectorOptions{BatchSize: 7, Partitions: []int{part}})
	done := make(chan error, 1)
	go func() { done <- p1.Run(pctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("first projector: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("first projector did not halt")
	}
	if got := p1.Applied(part); got == 0 || got >= last {
		t.Fatalf("first projector acked up to %d of %d: the test needs a stop mid-stream", got, last)
	}

	// Second projector on the same durable consumer finishes the stream.
	p2ctx, stop := context.WithCancel(ctx)
	defer stop()
	p2 := projection.NewProjector(s.Log, s.Store, projection.ProjectorOptions{BatchSize: 7, Partitions: []int{part}})
	go func() { _ = p2.Run(p2ctx) }()
	eventually(t, "second projector to reach the end of the stream", func() bool { return p2.Applied(part) == last })

	for i := range items {
		ref := orders.Item(fmt.Sprintf("it-%02d", i))
		hist, err := s.Store.History(ctx, ref, projection.HistoryQuery{Limit: 100})
		if err != nil || len(hist) != updates+1 {
			t.Fatalf("%s: %d versions, %v", ref.ID, len(hist), err)
		}
		for ov, v := range hist {
			if v.System.OV != uint64(ov) {
				t.Fatalf("%s: version %d has ov %d", ref.ID, ov, v.System.OV)
			}
		}
		head, err := s.Store.Head(ctx, ref)
		if err != nil || head.System.OV != updates || !jsonEqual(t, head.Data, []byte(fmt.Sprintf(`{"i":%d,"v":%d}`, i, updates))) {
			t.Fatalf("%s head %+v %s %v", ref.ID, head.System, head.Data, err)
		}
	}
	cnt, err := s.Store.Counters(ctx, orders)
	if err != nil || cnt.Created != items || cnt.Updated != items*updates || cnt.Deleted != 0 || cnt.LastSeq != last {
		t.Fatalf("counters %+v, %v; want created %d updated %d lastSeq %d", cnt, err, items, items*updates, last)
	}
}
