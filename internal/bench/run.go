package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronos-go/chronos/client"
	"github.com/chronos-go/chronos/events"
)

// maxErrorSamples bounds the error messages a report keeps.
const maxErrorSamples = 10

// collection of each scenario, in scope "bench" of the runtime tenant tier.
func collectionOf(scenario string) events.Collection {
	name := map[string]string{ScenarioIoT: "readings", ScenarioTrading: "instruments", ScenarioMixed: "profiles"}[scenario]
	return events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "bench", Name: name}
}

// load is the state the workers of one run share.
type load struct {
	cfg Config
	w   *writer
	cnt counters
	ops atomic.Int64
	// paced counts the operations scheduled from begin at cfg.Rate.
	paced atomic.Int64
	begin time.Time
	ids   []string
	ovs   []atomic.Uint64 // trading: last known ov per instrument
	errs  struct {
		sync.Mutex
		samples []string
	}
}

// next claims one more operation, or reports that the load is over. With
// a Rate it waits for the operation's slot on the schedule.
func (l *load) next(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if l.cfg.Events != 0 && l.ops.Add(1) > l.cfg.Events {
		return false
	}
	if l.cfg.Rate <= 0 {
		return true
	}
	n := l.paced.Add(1) - 1
	due := l.begin.Add(time.Duration(float64(n) / l.cfg.Rate * float64(time.Second)))
	d := time.Until(due)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (l *load) fail(err error) {
	l.errs.Lock()
	defer l.errs.Unlock()
	if len(l.errs.samples) < maxErrorSamples {
		l.errs.samples = append(l.errs.samples, err.Error())
	}
}

// latencies of one worker.
type latencies struct{ write, read []time.Duration }

// Run runs one scenario against the target and returns its report. The
// progress line goes to progress (nil: none).
func (e *Env) Run(ctx context.Context, cfg Config, progress io.Writer) (*Report, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	coll := collectionOf(cfg.Scenario)
	w, err := newWriter(ctx, e, cfg.Via, coll)
	if err != nil {
		return nil, err
	}
	defer w.close()
	l := &load{cfg: cfg, w: w}
	run := strings.ToLower(client.NewID()[18:])
	if err := l.setup(ctx, run); err != nil {
		return nil, fmt.Errorf("chronos bench: set up %s: %w", cfg.Scenario, err)
	}
	if _, err := e.waitCaughtUp(ctx, time.Now(), cfg.DrainTimeout); err != nil {
		return nil, fmt.Errorf("chronos bench: before the load: %w", err)
	}

	rep := newReport(cfg, e)
	s := newSampler(e, &l.cnt, progress, fmt.Sprintf("[%s via %s]", cfg.Scenario, cfg.Via), cfg.Interval)
	rssStart := rssBytes()
	s.start()
	loadCtx, cancel := context.WithCancel(ctx)
	if cfg.Duration > 0 {
		loadCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
	}
	defer cancel()
	begin := time.Now()
	l.begin = begin
	lats := make([]latencies, cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range cfg.Concurrency {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(begin.UnixNano()), uint64(i)))
			lats[i] = l.worker(loadCtx, rng, i)
		})
	}
	wg.Wait()
	if w.p != nil {
		fctx, cancel := context.WithTimeout(ctx, opTimeout)
		// Flush's errors repeat those each Ack returned (counted already);
		// only a Flush that did not finish is news.
		if err := w.p.Flush(fctx); err != nil && fctx.Err() != nil {
			l.fail(fmt.Errorf("flush: %w", err))
		}
		cancel()
	}
	elapsed := time.Since(begin)
	caught, err := e.waitCaughtUp(ctx, begin, cfg.DrainTimeout)
	s.stop()
	if err != nil {
		l.fail(fmt.Errorf("drain: %w", err))
	}
	var write, read []time.Duration
	for _, lt := range lats {
		write = append(write, lt.write...)
		read = append(read, lt.read...)
	}
	rep.fill(l, elapsed, write, read, s.series(), caught, rssStart)
	if cfg.Baseline && ctx.Err() == nil {
		rep.Baseline = e.baselines(ctx, l, rep)
	}
	return rep, nil
}

// setup creates what the scenario works on: the hot instruments of
// trading, the items of mixed.
func (l *load) setup(ctx context.Context, run string) error {
	cfg := l.cfg
	rng := rand.New(rand.NewPCG(1, 2))
	// Documents are made here, in order: createAll calls doc from several
	// goroutines, and rng is not safe for that.
	var docs [][]byte
	switch cfg.Scenario {
	case ScenarioTrading:
		l.ids = itemIDs("inst", run, cfg.Instruments)
		l.ovs = make([]atomic.Uint64, len(l.ids))
		for _, id := range l.ids {
			docs = append(docs, tradingDoc(rng, id, 0))
		}
	case ScenarioMixed:
		l.ids = itemIDs("item", run, cfg.Items)
		for range l.ids {
			docs = append(docs, iotDoc(rng, cfg.Devices, 0))
		}
	default:
		return nil
	}
	return l.w.createAll(ctx, l.ids, func(i int) []byte { return docs[i] }, cfg.Concurrency)
}

// caughtUp is when the projection and the offload had no lag left, in
// seconds since the load began (nil: not within the drain timeout, or no
// lag is known).
type caughtUp struct{ projection, offload *float64 }

// waitCaughtUp polls the lag until both are zero or timeout passes.
func (e *Env) waitCaughtUp(ctx context.Context, since time.Time, timeout time.Duration) (caughtUp, error) {
	var c caughtUp
	if e.log == nil {
		return c, nil
	}
	deadline := time.Now().Add(timeout)
	for {
		p, o, err := e.lagWithin(5 * time.Second)
		if err == nil {
			t := time.Since(since).Seconds()
			if p == 0 && c.projection == nil {
				c.projection = &t
			}
			if o == 0 && c.offload == nil {
				c.offload = &t
			}
			if c.projection != nil && c.offload != nil {
				return c, nil
			}
		}
		if time.Now().After(deadline) {
			return c, fmt.Errorf("not caught up within %s (projection lag %d, offload lag %d, err %v)", timeout, p, o, err)
		}
		select {
		case <-ctx.Done():
			return c, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (l *load) worker(ctx context.Context, rng *rand.Rand, i int) latencies {
	switch {
	case l.cfg.Scenario == ScenarioIoT && l.w.p != nil:
		return l.iotProducer(ctx, rng, i)
	case l.cfg.Scenario == ScenarioIoT:
		return l.iotHTTP(ctx, rng, i)
	case l.cfg.Scenario == ScenarioTrading:
		return l.trading(ctx, rng)
	default:
		return l.mixed(ctx, rng)
	}
}

// iotProducer pipelines creates through the shared producer; a second
// goroutine waits for their acknowledgements in publish order (the order
// the producer settles them in) and times each from its Create call.
func (l *load) iotProducer(ctx context.Context, rng *rand.Rand, i int) latencies {
	type inflight struct {
		pw    *client.PendingWrite
		begin time.Time
	}
	acks := make(chan inflight, 1024)
	var lat latencies
	done := make(chan struct{})
	go func() {
		defer close(done)
		for f := range acks {
			actx, cancel := context.WithTimeout(context.Background(), opTimeout)
			_, err := f.pw.Ack(actx)
			cancel()
			if err != nil {
				l.cnt.errors.Add(1)
				l.fail(err)
				continue
			}
			lat.write = append(lat.write, time.Since(f.begin))
			l.cnt.written.Add(1)
		}
	}()
	meta := l.w.meta()
	// Creates wait for room in the window without the load's deadline: the
	// end of the load stops new writes, it does not fail queued ones.
	wctx := context.WithoutCancel(ctx)
	for seq := uint64(0); l.next(ctx); seq++ {
		doc := iotDoc(rng, l.cfg.Devices, seq)
		begin := time.Now()
		pw, err := l.w.p.Create(wctx, l.w.coll.Item(""), doc, meta)
		l.cnt.attempted.Add(1)
		if err != nil {
			l.cnt.errors.Add(1)
			l.fail(err)
			continue
		}
		acks <- inflight{pw, begin}
	}
	close(acks)
	<-done
	return lat
}

// iotHTTP creates one reading per request, sequentially per worker.
func (l *load) iotHTTP(ctx context.Context, rng *rand.Rand, i int) latencies {
	var lat latencies
	for seq := uint64(0); l.next(ctx); seq++ {
		doc := iotDoc(rng, l.cfg.Devices, seq)
		octx, cancel := context.WithTimeout(context.Background(), opTimeout)
		begin := time.Now()
		_, err := l.w.col.Create(octx, doc, client.WithActor(benchActor))
		d := time.Since(begin)
		cancel()
		l.cnt.attempted.Add(1)
		if err != nil {
			l.cnt.errors.Add(1)
			l.fail(err)
			continue
		}
		lat.write = append(lat.write, d)
		l.cnt.written.Add(1)
	}
	return lat
}

// trading updates random instruments of the hot set, each with the
// version last seen; a lost race is retried with the current version.
// The latency runs from the first attempt to the acknowledged write.
func (l *load) trading(ctx context.Context, rng *rand.Rand) latencies {
	var lat latencies
	for seq := uint64(1); l.next(ctx); seq++ {
		k := rng.IntN(len(l.ids))
		doc := tradingDoc(rng, l.ids[k], seq)
		ov := l.ovs[k].Load()
		begin := time.Now()
		res, err := l.update(k, doc, &ov)
		l.cnt.attempted.Add(1)
		if err != nil {
			l.cnt.errors.Add(1)
			l.fail(err)
			continue
		}
		lat.write = append(lat.write, time.Since(begin))
		l.cnt.written.Add(1)
		for cur := l.ovs[k].Load(); cur < res.OV && !l.ovs[k].CompareAndSwap(cur, res.OV); cur = l.ovs[k].Load() {
		}
	}
	return lat
}

// update writes doc to item k, retrying lost races: with the current
// version when the conflict says it, after re-reading it otherwise.
// expected nil writes whatever version is current.
func (l *load) update(k int, doc []byte, expected *uint64) (client.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		res, err := l.w.update(ctx, l.ids[k], doc, expected)
		if err == nil {
			return res, nil
		}
		ov, known, conflict := conflictOV(err)
		if !conflict || attempt == maxConflictRetries {
			return res, err
		}
		l.cnt.conflicts.Add(1)
		if expected == nil {
			continue
		}
		if !known {
			if ov, err = l.w.current(ctx, l.ids[k]); err != nil {
				return res, fmt.Errorf("re-read after a conflict: %w", err)
			}
		}
		expected = &ov
	}
}

// mixed reads the latest version of random items (HTTP) and updates
// them, last writer wins.
func (l *load) mixed(ctx context.Context, rng *rand.Rand) latencies {
	var lat latencies
	for seq := uint64(1); l.next(ctx); seq++ {
		k := rng.IntN(len(l.ids))
		if rng.Float64() < l.cfg.ReadRatio {
			octx, cancel := context.WithTimeout(context.Background(), opTimeout)
			begin := time.Now()
			_, err := l.w.col.Get(octx, l.ids[k])
			d := time.Since(begin)
			cancel()
			if err != nil {
				l.cnt.readErrors.Add(1)
				l.fail(fmt.Errorf("read: %w", err))
				continue
			}
			lat.read = append(lat.read, d)
			l.cnt.reads.Add(1)
			continue
		}
		doc := iotDoc(rng, l.cfg.Devices, seq)
		begin := time.Now()
		_, err := l.update(k, doc, nil)
		l.cnt.attempted.Add(1)
		if err != nil {
			l.cnt.errors.Add(1)
			l.fail(err)
			continue
		}
		lat.write = append(lat.write, time.Since(begin))
		l.cnt.written.Add(1)
	}
	return lat
}

var errNoBaseline = errors.New("not available for this target")
