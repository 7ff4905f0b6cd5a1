package log_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/log"
)

func TestProgressFollowAndWait(t *testing.T) {
	js := startJS(t)
	ctx := context.Background()
	p, err := log.OpenProgress(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(ctx, "projector", 2, 5); err != nil {
		t.Fatal(err)
	}
	f, err := p.Follow(ctx, "projector")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The initial value is seen without a new publish.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if pos, err := f.WaitFor(wctx, 2, 5); err != nil || pos != 5 {
		t.Fatalf("WaitFor(5) = %d, %v", pos, err)
	}
	cancel()
	// A wait for a later sequence ends when it is published.
	got := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := f.WaitFor(wctx, 2, 9)
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := p.Publish(ctx, "projector", 2, 9); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("WaitFor(9) after publish: %v", err)
	}
	// A bounded wait that is not satisfied says where it is.
	wctx, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	pos, err := f.WaitFor(wctx, 2, 100)
	if !errors.Is(err, log.ErrBehind) || pos != 9 {
		t.Fatalf("WaitFor(100) = %d, %v; want 9, ErrBehind", pos, err)
	}
	// Other consumers and partitions are separate.
	if f.Position(3) != 0 {
		t.Fatal("partition 3 has a position")
	}
	if seq, err := p.Get(ctx, "other", 2); err != nil || seq != 0 {
		t.Fatalf("other consumer: %d %v", seq, err)
	}
}

// EnsureKV creates a missing bucket with the log's replicas and leaves an
// existing one as the operator made it.
func TestEnsureKVLeavesExistingBuckets(t *testing.T) {
	js := startJS(t)
	ctx := context.Background()
	if got := log.Replicas(ctx, js); got != 1 {
		t.Fatalf("Replicas without a log = %d, want 1", got)
	}
	openLog(t, js, 2)
	kv, err := log.EnsureKV(ctx, js, jetstream.KeyValueConfig{Bucket: "CHRONOS_T1", History: 3})
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil || st.History() != 3 || st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas != 1 {
		t.Fatalf("created bucket: %+v, %v", st, err)
	}
	// An operator's bucket (another description, history) is bound, not
	// rewritten with the caller's settings.
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: log.ProgressBucket, Description: "operator's", History: 5}); err != nil {
		t.Fatal(err)
	}
	p, err := log.OpenProgress(ctx, js, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(ctx, "projector", 0, 7); err != nil {
		t.Fatal(err)
	}
	kv, err = js.KeyValue(ctx, log.ProgressBucket)
	if err != nil {
		t.Fatal(err)
	}
	st, err = kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config; cfg.Description != "operator's" || st.History() != 5 {
		t.Fatalf("OpenProgress rewrote the operator's bucket: %q, history %d", cfg.Description, st.History())
	}
}
