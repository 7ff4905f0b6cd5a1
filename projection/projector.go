package projection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/fallbackq"
	clog "github.com/chronos-go/chronos/log"
)

// ProjectorOptions configure a Projector. Zero values take the defaults.
type ProjectorOptions struct {
	// Durable is the consumer name on every partition; default "projector".
	Durable string
	// BatchSize is the most events applied in one Store.Apply; default 256.
	BatchSize int
	// Linger is how long a batch waits for more events; default 5ms.
	Linger time.Duration
	// AckWait of the consumer; default 60s. A batch being retried is kept
	// owned with InProgress, so this only matters when the process dies.
	AckWait time.Duration
	// MaxRetryDelay caps the backoff between attempts of a failing batch;
	// default 10s.
	MaxRetryDelay time.Duration
	// Partitions to project; default all of the log's.
	Partitions []int
	// DLQ receives the events that can never be applied; default a DLQ on
	// the log's JetStream, without metrics.
	DLQ *fallbackq.DLQ
	// Progress receives the last applied sequence of each partition after
	// every batch (key "<Durable>.p<k>" of the CHRONOS_PROGRESS bucket),
	// for read-your-writes waits and lag metrics; default the bucket on the
	// log's JetStream, created on Run.
	Progress *clog.Progress
	// ProgressAliases, when set, is asked after every batch for more keys
	// to publish the position under (as "<alias>.p<k>"): the generation
	// runner publishes the active generation's position as "projector",
	// which the query service follows, so read-your-writes waits keep
	// working after a rebuild switch.
	ProgressAliases func() []string
	// Logger; default slog.Default().
	Logger *slog.Logger
}

func (o *ProjectorOptions) setDefaults(p int) {
	if o.Durable == "" {
		o.Durable = "projector"
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.Linger <= 0 {
		o.Linger = 5 * time.Millisecond
	}
	if o.AckWait <= 0 {
		o.AckWait = 60 * time.Second
	}
	if o.MaxRetryDelay <= 0 {
		o.MaxRetryDelay = 10 * time.Second
	}
	if len(o.Partitions) == 0 {
		for k := range p {
			o.Partitions = append(o.Partitions, k)
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Projector applies the log to a Store: one durable consumer per partition,
// events of a partition applied in stream order, partitions in parallel.
//
// Order matters (counters remember the last sequence they counted), so the
// projector never lets a later event be applied before an earlier one for
// the first time:
//   - a failed batch is retried in place, with backoff, while the messages
//     are kept owned (InProgress); a Nak would let later events overtake it;
//   - on start, if the consumer has unacknowledged deliveries (a previous
//     process died mid-batch), it is recreated to start just after its
//     ack floor, instead of letting JetStream deliver newer events while
//     the old ones wait out AckWait.
//
// Events that can never be applied (undecodable) are copied to the DLQ
// (consumer name Durable) and terminated; they stay in the log. A failed
// copy is retried in place like a failed batch, so the event is never
// dropped. The projector takes no replays: no replay can make such an
// event decodable.
type Projector struct {
	log   *clog.Log
	store Store
	opts  ProjectorOptions

	mu struct {
		sync.Mutex
		applied map[int]uint64
	}
}

// NewProjector returns a projector of l into s.
func NewProjector(l *clog.Log, s Store, o ProjectorOptions) *Projector {
	o.setDefaults(l.Partitions())
	if o.DLQ == nil {
		o.DLQ = fallbackq.NewDLQ(l.JetStream(), nil)
	}
	p := &Projector{log: l, store: s, opts: o}
	p.mu.applied = make(map[int]uint64)
	return p
}

// Applied returns the last sequence applied in partition part by this
// process (0 if none yet).
func (p *Projector) Applied(part int) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.applied[part]
}

// Run projects every configured partition until ctx ends. It returns nil
// on a clean stop, or the first partition's fatal setup error.
func (p *Projector) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if p.opts.Progress == nil {
		prog, err := clog.OpenProgress(ctx, p.log.JetStream(), 0)
		if err != nil {
			return err
		}
		p.opts.Progress = prog
	}
	if err := fallbackq.EnsureDLQ(ctx, p.log.JetStream(), 0); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(p.opts.Partitions))
	for _, part := range p.opts.Partitions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.runPartition(ctx, part); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("projector partition %d: %w", part, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (p *Projector) consumer(ctx context.Context, part int) (jetstream.Consumer, error) {
	co := clog.ConsumerOptions{Durable: p.opts.Durable, AckWait: p.opts.AckWait, MaxAckPending: p.opts.BatchSize}
	c, err := p.log.EnsureConsumer(ctx, part, co)
	if err != nil {
		return nil, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("consumer info: %w", err)
	}
	if info.NumAckPending == 0 {
		return c, nil
	}
	// A previous process died holding messages: restart at the ack floor so
	// that they come back first and in order.
	start := info.AckFloor.Stream + 1
	p.opts.Logger.Info("projector resuming at ack floor", "partition", part, "seq", start, "unacked", info.NumAckPending)
	if err := p.log.JetStream().DeleteConsumer(ctx, clog.StreamName(part), p.opts.Durable); err != nil {
		return nil, fmt.Errorf("reset consumer: %w", err)
	}
	co.StartSeq = start
	return p.log.EnsureConsumer(ctx, part, co)
}

func (p *Projector) runPartition(ctx context.Context, part int) error {
	c, err := p.consumer(ctx, part)
	if err != nil {
		return err
	}
	batches, err := clog.NewBatches(c, p.opts.BatchSize, p.opts.Linger)
	if err != nil {
		return err
	}
	defer batches.Stop()
	for {
		msgs, err := batches.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, clog.ErrClosed) {
				return nil
			}
			p.opts.Logger.Warn("projector fetch", "partition", part, "err", err)
			continue
		}
		changes := make([]Change, 0, len(msgs))
		for _, m := range msgs {
			rec, err := clog.DecodeMsg(m, p.log.Limits())
			if err != nil {
				if err := p.deadLetter(ctx, part, m, msgs, err); err != nil {
					return nil // ctx ended; the batch is redelivered to the next process
				}
				continue
			}
			changes = append(changes, Change{Ref: rec.Ref, Part: rec.Part, Seq: rec.Seq, Event: rec.Event})
		}
		if err := p.applyWithRetry(ctx, part, changes, msgs); err != nil {
			return nil // ctx ended; the batch is redelivered to the next process
		}
		for _, m := range msgs {
			if err := m.Ack(); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) { // dead letters are termed
				// An ack lost is a redelivery later: harmless, Apply is idempotent.
				p.opts.Logger.Warn("projector ack", "partition", part, "err", err)
			}
		}
		if md, err := msgs[len(msgs)-1].Metadata(); err == nil {
			// Dead-lettered events count as handled: the position is the
			// batch's last sequence.
			p.mu.Lock()
			p.mu.applied[part] = md.Sequence.Stream
			p.mu.Unlock()
			if err := p.opts.Progress.Publish(ctx, p.opts.Durable, part, md.Sequence.Stream); err != nil && ctx.Err() == nil {
				p.opts.Logger.Warn("projector progress", "partition", part, "err", err)
			}
			if p.opts.ProgressAliases != nil {
				for _, alias := range p.opts.ProgressAliases() {
					if err := p.opts.Progress.Publish(ctx, alias, part, md.Sequence.Stream); err != nil && ctx.Err() == nil {
						p.opts.Logger.Warn("projector progress", "partition", part, "alias", alias, "err", err)
					}
				}
			}
		}
	}
}

// applyWithRetry applies one batch until it succeeds or ctx ends, keeping
// the messages owned meanwhile.
func (p *Projector) applyWithRetry(ctx context.Context, part int, changes []Change, msgs []jetstream.Msg) error {
	if len(changes) == 0 {
		return nil
	}
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 50 * time.Millisecond
	bo.MaxInterval = p.opts.MaxRetryDelay
	bo.MaxElapsedTime = 0 // the log is the truth: never give up while running
	for attempt := 1; ; attempt++ {
		err := p.store.Apply(ctx, changes)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, events.ErrInvalid) {
			// Cannot happen for decoded events; do not spin on it.
			p.opts.Logger.Error("projector: store rejected a batch as invalid", "partition", part, "err", err)
		}
		delay := bo.NextBackOff()
		p.opts.Logger.Warn("projector apply failed; retrying", "partition", part, "attempt", attempt,
			"first_seq", changes[0].Seq, "events", len(changes), "retry_in", delay, "err", err)
		for _, m := range msgs {
			_ = m.InProgress()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// deadLetter copies m, which can never be applied, to the DLQ and then
// terminates it. A failed copy is retried in place, keeping the batch
// owned, until it succeeds or ctx ends: the event is never dropped.
func (p *Projector) deadLetter(ctx context.Context, part int, m jetstream.Msg, batch []jetstream.Msg, cause error) error {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 50 * time.Millisecond
	bo.MaxInterval = p.opts.MaxRetryDelay
	bo.MaxElapsedTime = 0
	for attempt := 1; ; attempt++ {
		seq, err := p.opts.DLQ.Add(ctx, p.opts.Durable, m, cause)
		if err == nil {
			p.opts.Logger.Error("projector: event can never be applied; copied to the DLQ and terminated (it stays in the log)",
				"partition", part, "subject", m.Subject(), "dlq_seq", seq, "err", cause)
			_ = m.TermWithReason("dead-lettered")
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		delay := bo.NextBackOff()
		p.opts.Logger.Warn("projector: dead-lettering failed; retrying", "partition", part, "subject", m.Subject(),
			"attempt", attempt, "retry_in", delay, "err", cause, "dlq_err", err)
		for _, b := range batch {
			_ = b.InProgress()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}
