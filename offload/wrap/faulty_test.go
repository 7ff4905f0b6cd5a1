package wrap_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/offload/wrap"
)

// temporary is how retry code recognises a transient failure.
type temporary interface{ Temporary() bool }

func TestFaultyFailsFirstPuts(t *testing.T) {
	f := wrap.Faulty(localStore(t), wrap.Faults{FailFirstOp: map[wrap.Op]int{wrap.OpPut: 3}})
	for i := 1; i <= 3; i++ {
		err := f.Put(t.Context(), "k/v", strings.NewReader("x"), 1)
		if !errors.Is(err, wrap.ErrInjected) {
			t.Fatalf("Put %d: err = %v, want ErrInjected", i, err)
		}
		var tmp temporary
		if !errors.As(err, &tmp) || !tmp.Temporary() {
			t.Fatalf("Put %d: %v is not a temporary error", i, err)
		}
		var ie *wrap.InjectedError
		if !errors.As(err, &ie) || ie.Op != wrap.OpPut || ie.Key != "k/v" {
			t.Fatalf("Put %d: %#v", i, ie)
		}
		// The failed Put never reached the store.
		if _, err := f.Stat(t.Context(), "k/v"); !errors.Is(err, offload.ErrNotFound) {
			t.Fatalf("after injected failure %d: Stat err = %v, want ErrNotFound", i, err)
		}
	}
	if err := f.Put(t.Context(), "k/v", strings.NewReader("x"), 1); err != nil {
		t.Fatalf("Put 4: %v", err)
	}
	if _, err := f.Stat(t.Context(), "k/v"); err != nil {
		t.Fatal(err)
	}
	if got := [3]int{f.Calls(wrap.OpPut), f.Injected(wrap.OpPut), f.Calls(wrap.OpStat)}; got != [3]int{4, 3, 4} {
		t.Fatalf("puts, injected puts, stats = %v, want [4 3 4]", got)
	}
	if n := f.TotalCalls(); n != 8 {
		t.Fatalf("TotalCalls = %d, want 8", n)
	}
}

func TestFaultyFailFirstAnyOp(t *testing.T) {
	f := wrap.Faulty(localStore(t), wrap.Faults{FailFirst: 2})
	if _, err := f.List(t.Context(), offload.ListOptions{}); !errors.Is(err, wrap.ErrInjected) {
		t.Fatalf("call 1: %v", err)
	}
	if _, err := f.Stat(t.Context(), "a"); !errors.Is(err, wrap.ErrInjected) {
		t.Fatalf("call 2: %v", err)
	}
	if _, err := f.Stat(t.Context(), "a"); !errors.Is(err, offload.ErrNotFound) {
		t.Fatalf("call 3: %v, want the store's own answer", err)
	}
}

func TestFaultyDown(t *testing.T) {
	f := wrap.Faulty(localStore(t), wrap.Faults{Down: true})
	if err := f.Put(t.Context(), "k", strings.NewReader("x"), 1); !errors.Is(err, wrap.ErrInjected) {
		t.Fatalf("down: %v", err)
	}
	f.SetDown(false)
	if err := f.Put(t.Context(), "k", strings.NewReader("x"), 1); err != nil {
		t.Fatalf("up: %v", err)
	}
	f.SetDown(true)
	for _, call := range []func() error{
		func() error { _, _, err := f.Get(t.Context(), "k"); return err },
		func() error { _, err := f.Presign(t.Context(), "k", time.Minute); return err },
		func() error { return f.Delete(t.Context(), "k") },
	} {
		if err := call(); !errors.Is(err, wrap.ErrInjected) {
			t.Fatalf("down: %v", err)
		}
	}
	if f.Injected(wrap.OpGet) != 1 || f.Injected(wrap.OpDelete) != 1 || f.Injected(wrap.OpPut) != 1 {
		t.Fatal("injected failures not counted")
	}
}

func TestFaultyLatency(t *testing.T) {
	f := wrap.Faulty(localStore(t), wrap.Faults{Latency: 50 * time.Millisecond})
	start := time.Now()
	if _, err := f.Stat(t.Context(), "a"); !errors.Is(err, offload.ErrNotFound) {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("Stat took %v, want at least the latency", d)
	}
	slow := wrap.Faulty(localStore(t), wrap.Faults{Latency: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := slow.Stat(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("latency past the deadline: err = %v", err)
	}
}

// TestFaultyCopiesFaults checks that changing the caller's map later does
// not change (or race with) the store.
func TestFaultyCopiesFaults(t *testing.T) {
	m := map[wrap.Op]int{wrap.OpStat: 1}
	f := wrap.Faulty(localStore(t), wrap.Faults{FailFirstOp: m})
	m[wrap.OpStat] = 100
	f.Stat(t.Context(), "a")
	if _, err := f.Stat(t.Context(), "a"); errors.Is(err, wrap.ErrInjected) {
		t.Fatal("the store used the caller's changed map")
	}
}
