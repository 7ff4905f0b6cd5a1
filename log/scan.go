package log

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/events"
)

// ScanOptions select what Scan reads.
type ScanOptions struct {
	// FromSeq starts at this sequence (inclusive); FromTime, when set and
	// FromSeq is 0, starts at the first event stored at or after it.
	FromSeq  uint64
	FromTime time.Time
	// ToSeq stops after this sequence (inclusive); 0 means the partition's
	// last sequence when the scan starts, so a scan always ends.
	ToSeq uint64
}

// Scan calls fn for every event of collection c in stream order, within
// the bounds of o, through an ordered (ephemeral, flow-controlled)
// consumer. It stops at the first error fn returns.
func (l *Log) Scan(ctx context.Context, c events.Collection, o ScanOptions, fn func(*Record) error) error {
	if err := c.Validate(); err != nil {
		return err
	}
	part := l.Partition(c)
	to := o.ToSeq
	if to == 0 {
		last, err := l.LastSeq(ctx, part)
		if err != nil {
			return err
		}
		to = last
	}
	if to == 0 || (o.FromSeq > to) {
		return nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.CollectionFilter(c, l.p)}}
	switch {
	case o.FromSeq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, o.FromSeq
	case !o.FromTime.IsZero():
		t := o.FromTime
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	default:
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	cons, err := l.js.OrderedConsumer(ctx, StreamName(part), cfg)
	if err != nil {
		return fmt.Errorf("chronos: scan %s: %w", c, err)
	}
	// A collection may have no event in the range: learn that without
	// waiting for one.
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("chronos: scan %s: %w", c, err)
	}
	if info.NumPending == 0 {
		return nil
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("chronos: scan %s: %w", c, err)
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("chronos: scan %s: %w", c, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		if md.Sequence.Stream > to {
			return nil
		}
		rec, err := DecodeMsg(m, l.lim)
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
		if md.Sequence.Stream == to || md.NumPending == 0 {
			return nil
		}
	}
}
