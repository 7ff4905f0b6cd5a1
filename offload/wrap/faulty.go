package wrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/chronos-go/chronos/offload"
)

// ErrInjected is wrapped by every failure a FaultyStore injects; match it
// with errors.Is. The error is an *InjectedError.
var ErrInjected = errors.New("chronos: injected blob store fault")

// InjectedError is the error of an injected failure. It looks like a
// transient backend failure: Temporary reports true, as for a throttled or
// unavailable server, so that retry logic treats it as retryable.
type InjectedError struct {
	// Op is the failed operation.
	Op Op
	// Key is the key of the call, or the prefix of a List.
	Key string
	// Why names the fault: "first calls", "first calls of the op", "down".
	Why string
}

// Error says that the failure was injected, in which call and why.
func (e *InjectedError) Error() string {
	return fmt.Sprintf("%v: %s %q: %s", ErrInjected, e.Op, e.Key, e.Why)
}

// Unwrap returns ErrInjected.
func (e *InjectedError) Unwrap() error { return ErrInjected }

// Temporary reports true: the fault is meant to pass.
func (e *InjectedError) Temporary() bool { return true }

// Faults configure a FaultyStore. The zero value injects nothing: the
// store then behaves exactly as the one it wraps.
type Faults struct {
	// FailFirst fails the first FailFirst calls, whatever their operation.
	FailFirst int
	// FailFirstOp fails the first n calls of each operation it names, e.g.
	// {OpPut: 3}. A call fails if this or FailFirst says so.
	FailFirstOp map[Op]int
	// Down starts the store failing every call, as SetDown(true).
	Down bool
	// Latency delays every call by this long before it runs (or fails), or
	// until its context is done.
	Latency time.Duration
}

// FaultyStore is an offload.Store that injects failures and latency in
// front of another, for testing retries against a real backend. An
// injected failure happens before the call reaches the wrapped store, which
// is left unchanged. Get bodies, once returned, are never faulted. It is
// safe for concurrent use.
type FaultyStore struct {
	s  offload.Store
	mu struct {
		sync.Mutex
		faults   Faults
		calls    int        // all calls seen
		opCalls  map[Op]int // calls seen, by operation
		injected map[Op]int // injected failures, by operation
		down     bool
	}
}

var _ offload.Store = (*FaultyStore)(nil)

// Faulty returns a FaultyStore over s that injects f.
func Faulty(s offload.Store, f Faults) *FaultyStore {
	fs := &FaultyStore{s: s}
	fs.mu.faults = f
	fs.mu.faults.FailFirstOp = make(map[Op]int, len(f.FailFirstOp))
	for op, n := range f.FailFirstOp {
		fs.mu.faults.FailFirstOp[op] = n
	}
	fs.mu.down = f.Down
	fs.mu.opCalls = make(map[Op]int)
	fs.mu.injected = make(map[Op]int)
	return fs
}

// SetDown makes every following call fail (down) or stops that (up),
// as a backend outage would.
func (f *FaultyStore) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.down = down
}

// Calls returns how many calls of op the store has seen, failed or not.
func (f *FaultyStore) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.opCalls[op]
}

// TotalCalls returns how many calls the store has seen, of any operation.
func (f *FaultyStore) TotalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.calls
}

// Injected returns how many calls of op failed with an injected error.
func (f *FaultyStore) Injected(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.injected[op]
}

// enter counts a call of op on key, waits the latency, and returns the
// injected error if the call must fail.
func (f *FaultyStore) enter(ctx context.Context, op Op, key string) error {
	f.mu.Lock()
	f.mu.calls++
	f.mu.opCalls[op]++
	var why string
	switch {
	case f.mu.down:
		why = "down"
	case f.mu.calls <= f.mu.faults.FailFirst:
		why = fmt.Sprintf("first %d calls fail", f.mu.faults.FailFirst)
	case f.mu.opCalls[op] <= f.mu.faults.FailFirstOp[op]:
		why = fmt.Sprintf("first %d %s calls fail", f.mu.faults.FailFirstOp[op], op)
	}
	if why != "" {
		f.mu.injected[op]++
	}
	latency := f.mu.faults.Latency
	f.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("chronos: faulty store: %s %q: %w", op, key, ctx.Err())
		}
	}
	if why != "" {
		return &InjectedError{Op: op, Key: key, Why: why}
	}
	return nil
}

// Get fails or delays as configured, else calls the wrapped store.
func (f *FaultyStore) Get(ctx context.Context, key string) (io.ReadCloser, offload.ObjectInfo, error) {
	if err := f.enter(ctx, OpGet, key); err != nil {
		return nil, offload.ObjectInfo{}, err
	}
	return f.s.Get(ctx, key)
}

// Stat fails or delays as configured, else calls the wrapped store.
func (f *FaultyStore) Stat(ctx context.Context, key string) (offload.ObjectInfo, error) {
	if err := f.enter(ctx, OpStat, key); err != nil {
		return offload.ObjectInfo{}, err
	}
	return f.s.Stat(ctx, key)
}

// List fails or delays as configured, else calls the wrapped store.
func (f *FaultyStore) List(ctx context.Context, o offload.ListOptions) (offload.ListPage, error) {
	if err := f.enter(ctx, OpList, o.Prefix); err != nil {
		return offload.ListPage{}, err
	}
	return f.s.List(ctx, o)
}

// Presign fails or delays as configured, else calls the wrapped store.
func (f *FaultyStore) Presign(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := f.enter(ctx, OpPresign, key); err != nil {
		return "", err
	}
	return f.s.Presign(ctx, key, ttl)
}

// Put fails or delays as configured, else calls the wrapped store. A
// failed Put does not read r.
func (f *FaultyStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := f.enter(ctx, OpPut, key); err != nil {
		return err
	}
	return f.s.Put(ctx, key, r, size)
}

// Delete fails or delays as configured, else calls the wrapped store.
func (f *FaultyStore) Delete(ctx context.Context, key string) error {
	if err := f.enter(ctx, OpDelete, key); err != nil {
		return err
	}
	return f.s.Delete(ctx, key)
}
