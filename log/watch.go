package log

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/events"
)

// Watch calls fn for every event of collection c in stream order, from
// sequence fromSeq (inclusive; 0 means only events appended after the call),
// and keeps following the partition until ctx ends (it then returns nil) or
// fn returns an error (returned as is). It reads through an ordered
// consumer, which recreates itself after a gap, so fn sees each event once
// and in order. onIdle, when set, is called whenever the watch has caught up
// with the stream, so callers can flush buffered output.
func (l *Log) Watch(ctx context.Context, c events.Collection, fromSeq uint64, fn func(*Record) error, onIdle func() error) error {
	if err := c.Validate(); err != nil {
		return err
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.CollectionFilter(c, l.p)}}
	if fromSeq > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, fromSeq
	} else {
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
	}
	cons, err := l.js.OrderedConsumer(ctx, StreamName(l.Partition(c)), cfg)
	if err != nil {
		return fmt.Errorf("chronos: watch %s: %w", c, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("chronos: watch %s: %w", c, err)
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("chronos: watch %s: %w", c, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		rec, err := DecodeMsg(m, l.lim)
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
		if md.NumPending == 0 && onIdle != nil {
			if err := onIdle(); err != nil {
				return err
			}
		}
	}
}
