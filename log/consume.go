package log

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/events"
)

// ConsumerOptions describe a durable consumer on one partition stream.
type ConsumerOptions struct {
	// Durable is the consumer's name, e.g. "projector" or "offloader".
	Durable string
	// AckWait is how long a delivered message may stay unacknowledged before
	// it is redelivered; default 30s.
	AckWait time.Duration
	// MaxDeliver bounds deliveries per message; 0 means unlimited. fallbackq
	// derives it from the retry policy.
	MaxDeliver int
	// BackOff is the redelivery schedule after AckWait expiries.
	BackOff []time.Duration
	// MaxAckPending bounds messages in flight; 1 gives strict order with no
	// overlap. Default 1000.
	MaxAckPending int
	// FilterSubject narrows the consumer inside the partition; default all.
	FilterSubject string
	// StartSeq, when set, makes a NEW consumer start at that sequence
	// instead of the first (an existing consumer keeps its position).
	StartSeq uint64
}

// EnsureConsumer creates or updates the durable consumer o.Durable on
// partition part, delivering every event from the start, acknowledged one by
// one.
func (l *Log) EnsureConsumer(ctx context.Context, part int, o ConsumerOptions) (jetstream.Consumer, error) {
	if err := events.ValidateToken("durable", o.Durable); err != nil {
		return nil, err
	}
	if part < 0 || part >= l.p {
		return nil, fmt.Errorf("%w: partition %d is not in [0,%d)", events.ErrInvalid, part, l.p)
	}
	if o.AckWait == 0 {
		o.AckWait = 30 * time.Second
	}
	if o.MaxAckPending == 0 {
		o.MaxAckPending = 1000
	}
	if o.MaxDeliver == 0 {
		o.MaxDeliver = -1
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       o.Durable,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		MaxDeliver:    o.MaxDeliver,
		BackOff:       o.BackOff,
		MaxAckPending: o.MaxAckPending,
		FilterSubject: o.FilterSubject,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
	}
	if o.StartSeq > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = o.StartSeq
	}
	// The start position of an existing consumer cannot be updated (and
	// must not be: it is where the consumer resumes). Keep it.
	if old, err := l.js.Consumer(ctx, StreamName(part), o.Durable); err == nil {
		cfg.DeliverPolicy = old.CachedInfo().Config.DeliverPolicy
		cfg.OptStartSeq = old.CachedInfo().Config.OptStartSeq
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("chronos: read consumer %s on %s: %w", o.Durable, StreamName(part), err)
	}
	c, err := l.js.CreateOrUpdateConsumer(ctx, StreamName(part), cfg)
	if err != nil {
		return nil, fmt.Errorf("chronos: ensure consumer %s on %s: %w", o.Durable, StreamName(part), err)
	}
	return c, nil
}

// Batches reads a consumer in batches: it blocks for the first message, then
// gathers what else arrives within linger, up to max messages. It is how the
// projector amortises one bulk write over many events without adding more
// than linger of latency.
type Batches struct {
	it     jetstream.MessagesContext
	max    int
	linger time.Duration
}

// NewBatches starts pulling from c, keeping up to 2*max messages buffered.
func NewBatches(c jetstream.Consumer, max int, linger time.Duration) (*Batches, error) {
	if max < 1 {
		max = 1
	}
	it, err := c.Messages(jetstream.PullMaxMessages(2 * max))
	if err != nil {
		return nil, fmt.Errorf("chronos: start pulling: %w", err)
	}
	return &Batches{it: it, max: max, linger: linger}, nil
}

// Next returns the next batch: at least one message, at most max. It
// returns ctx.Err() when ctx ends and ErrClosed after Stop.
func (b *Batches) Next(ctx context.Context) ([]jetstream.Msg, error) {
	first, err := b.it.Next(jetstream.NextContext(ctx))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return nil, ErrClosed
		}
		return nil, err
	}
	batch := []jetstream.Msg{first}
	if b.max == 1 {
		return batch, nil
	}
	lctx, cancel := context.WithTimeout(ctx, b.linger)
	defer cancel()
	for len(batch) < b.max {
		m, err := b.it.Next(jetstream.NextContext(lctx))
		if err != nil {
			break // linger over, ctx done, or iterator closed: deliver what we have
		}
		batch = append(batch, m)
	}
	return batch, nil
}

// Stop stops pulling; messages already delivered but not acked are
// redelivered after AckWait.
func (b *Batches) Stop() { b.it.Stop() }

// ErrClosed is returned by Batches.Next after Stop.
var ErrClosed = errors.New("chronos: consumer stopped")
