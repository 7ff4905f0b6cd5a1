package projection

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	clog "github.com/chronos-go/chronos/log"
)

// GenerationRunnerOptions configure a GenerationRunner.
type GenerationRunnerOptions struct {
	// Open returns the store of generation n (its own databases).
	// Required. Stores are closed by the runner when no longer used.
	Open func(ctx context.Context, n int) (Store, error)
	// Serving, when set, is kept on the active generation's store.
	Serving *SwitchingStore
	// ServeOnly runs no projector at all: the runner only keeps Serving
	// (then required) on the active generation's store. It is what a
	// process that reads and never projects runs (cmd/query).
	ServeOnly bool
	// Projector is the template of every generation's projector; Durable
	// and ProgressAliases are set per generation.
	Projector ProjectorOptions
	// RetryOpen is the wait before trying again to open a generation's
	// store that failed to open; default 5s.
	RetryOpen time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// GenerationRunner runs one Projector per generation that is active or
// building, each with its own durable consumers (DurableOf) and its own
// store, and follows the generation document: a `rebuild start` starts a
// projector from sequence 1, a `switch` swaps Serving to the new
// generation's store and stops projecting the retired one, a `drop`
// stops what it removes. Nothing restarts. With ServeOnly it only swaps
// Serving.
type GenerationRunner struct {
	log    *clog.Log
	reg    *GenerationRegistry
	opts   GenerationRunnerOptions
	active atomic.Int64
	// kick asks Run to reconcile again (a projector stopped on an error).
	kick chan struct{}

	mu struct {
		sync.Mutex
		running map[int]*genRun
		stores  map[int]Store
	}
	wg sync.WaitGroup
}

type genRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// NewGenerationRunner returns a runner of l's generations listed in reg.
func NewGenerationRunner(l *clog.Log, reg *GenerationRegistry, o GenerationRunnerOptions) *GenerationRunner {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RetryOpen <= 0 {
		o.RetryOpen = 5 * time.Second
	}
	if o.Projector.Logger == nil {
		o.Projector.Logger = o.Logger
	}
	r := &GenerationRunner{log: l, reg: reg, opts: o, kick: make(chan struct{}, 1)}
	r.mu.running = make(map[int]*genRun)
	r.mu.stores = make(map[int]Store)
	if o.Serving != nil {
		gen, st := o.Serving.Current()
		r.mu.stores[gen] = st
	}
	return r
}

// Active returns the generation the runner last saw active (0 before
// Run has read the document).
func (r *GenerationRunner) Active() int { return int(r.active.Load()) }

// Run follows the generation document until ctx ends, then stops every
// projector, closes every store it opened but Serving's current one (the
// owner of Serving closes that) and returns nil (or the watch's setup
// error).
func (r *GenerationRunner) Run(ctx context.Context) error {
	if r.opts.ServeOnly && r.opts.Serving == nil {
		return errors.New("chronos: generation runner: ServeOnly needs Serving")
	}
	defer r.closeStores()
	defer r.stopAll()
	last := Generations{}
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	docs := make(chan Generations, 1)
	werr := make(chan error, 1)
	go func() { werr <- r.reg.Watch(ctx, func(g Generations) error { docs <- g; return nil }) }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-werr:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case g := <-docs:
			last = g
		case <-retry.C:
		case <-r.kick:
		}
		if !r.reconcile(ctx, last) {
			retry.Reset(r.opts.RetryOpen)
		}
	}
}

// reconcile makes the running projectors and the serving store match g.
// It reports false when a store failed to open (to be tried again).
func (r *GenerationRunner) reconcile(ctx context.Context, g Generations) bool {
	r.active.Store(int64(g.Active))
	ok := true
	want := map[int]bool{}
	var projected []Generation
	if !r.opts.ServeOnly {
		projected = g.Projected()
	}
	for _, gen := range projected {
		want[gen.N] = true
		r.mu.Lock()
		_, running := r.mu.running[gen.N]
		r.mu.Unlock()
		if running {
			continue
		}
		st, err := r.storeOf(ctx, gen.N)
		if err != nil {
			r.opts.Logger.Error("generation runner: open store", "generation", gen.N, "err", err)
			ok = false
			continue
		}
		r.start(ctx, gen, st)
	}
	r.mu.Lock()
	var stop []int
	for n := range r.mu.running {
		if !want[n] {
			stop = append(stop, n)
		}
	}
	r.mu.Unlock()
	for _, n := range stop {
		r.stop(n)
	}
	if r.opts.Serving != nil {
		if cur, _ := r.opts.Serving.Current(); cur != g.Active {
			st, err := r.storeOf(ctx, g.Active)
			if err != nil {
				r.opts.Logger.Error("generation runner: open the active generation's store", "generation", g.Active, "err", err)
				return false
			}
			r.opts.Serving.Swap(g.Active, st)
			r.opts.Logger.Info("generation runner: now serving generation", "generation", g.Active)
		}
	}
	// Close the stores nothing uses any more.
	r.mu.Lock()
	serving := 0
	if r.opts.Serving != nil {
		serving, _ = r.opts.Serving.Current()
	}
	for n, st := range r.mu.stores {
		if _, running := r.mu.running[n]; !running && n != serving {
			delete(r.mu.stores, n)
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = st.Close(cctx)
			cancel()
		}
	}
	r.mu.Unlock()
	return ok
}

func (r *GenerationRunner) storeOf(ctx context.Context, n int) (Store, error) {
	r.mu.Lock()
	st, ok := r.mu.stores[n]
	r.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := r.opts.Open(ctx, n)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.mu.stores[n] = st
	r.mu.Unlock()
	return st, nil
}

func (r *GenerationRunner) start(ctx context.Context, gen Generation, st Store) {
	o := r.opts.Projector
	o.Durable = gen.Durable
	n := gen.N
	o.ProgressAliases = func() []string {
		if r.Active() == n && gen.Durable != DefaultDurable {
			return []string{DefaultDurable}
		}
		return nil
	}
	p := NewProjector(r.log, st, o)
	pctx, cancel := context.WithCancel(ctx)
	run := &genRun{cancel: cancel, done: make(chan struct{})}
	r.mu.Lock()
	r.mu.running[n] = run
	r.mu.Unlock()
	r.opts.Logger.Info("generation runner: projecting generation", "generation", n, "state", gen.State, "durable", gen.Durable)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(run.done)
		defer cancel()
		if err := p.Run(pctx); err != nil && pctx.Err() == nil {
			r.opts.Logger.Error("generation runner: projector stopped; restarting it", "generation", n, "err", err)
			r.mu.Lock()
			if r.mu.running[n] == run {
				delete(r.mu.running, n)
			}
			r.mu.Unlock()
			select {
			case <-time.After(r.opts.RetryOpen):
			case <-pctx.Done():
			}
			select {
			case r.kick <- struct{}{}:
			default:
			}
		}
	}()
}

func (r *GenerationRunner) stop(n int) {
	r.mu.Lock()
	run := r.mu.running[n]
	delete(r.mu.running, n)
	r.mu.Unlock()
	if run == nil {
		return
	}
	run.cancel()
	<-run.done
	r.opts.Logger.Info("generation runner: stopped projecting generation", "generation", n)
}

// closeStores closes every store but the one Serving is on, once nothing
// projects any more.
func (r *GenerationRunner) closeStores() {
	serving := -1
	if r.opts.Serving != nil {
		serving, _ = r.opts.Serving.Current()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for n, st := range r.mu.stores {
		if n == serving {
			continue
		}
		delete(r.mu.stores, n)
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = st.Close(cctx)
		cancel()
	}
}

func (r *GenerationRunner) stopAll() {
	r.mu.Lock()
	var ns []int
	for n := range r.mu.running {
		ns = append(ns, n)
	}
	r.mu.Unlock()
	for _, n := range ns {
		r.stop(n)
	}
	r.wg.Wait()
}
