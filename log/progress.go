package log

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// ProgressBucket is the KV bucket where consumers publish the last sequence
// they applied per partition: key "<consumer>.p<k>", value the decimal seq.
const ProgressBucket = "CHRONOS_PROGRESS"

// ErrBehind is returned by Progress.WaitFor when the wait ended before the
// consumer reached the sequence.
var ErrBehind = errors.New("chronos: the projection has not reached that sequence yet")

// Progress publishes and follows consumers' positions.
type Progress struct {
	kv jetstream.KeyValue
}

// OpenProgress binds to the progress bucket, creating it with replicas
// replicas (0: as many as the log's partition streams) if it does not
// exist; see EnsureKV.
func OpenProgress(ctx context.Context, js jetstream.JetStream, replicas int) (*Progress, error) {
	kv, err := EnsureKV(ctx, js, jetstream.KeyValueConfig{
		Bucket:      ProgressBucket,
		Description: "last applied sequence per consumer and partition",
		History:     1,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, err
	}
	return &Progress{kv: kv}, nil
}

func progressKey(consumer string, part int) string {
	return consumer + ".p" + strconv.Itoa(part)
}

// Publish records that consumer has applied partition part up to seq.
func (p *Progress) Publish(ctx context.Context, consumer string, part int, seq uint64) error {
	_, err := p.kv.PutString(ctx, progressKey(consumer, part), strconv.FormatUint(seq, 10))
	if err != nil {
		return fmt.Errorf("chronos: publish progress of %s p%d: %w", consumer, part, err)
	}
	return nil
}

// Get returns the last published position of consumer on part (0 if none).
func (p *Progress) Get(ctx context.Context, consumer string, part int) (uint64, error) {
	e, err := p.kv.Get(ctx, progressKey(consumer, part))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("chronos: read progress of %s p%d: %w", consumer, part, err)
	}
	return strconv.ParseUint(string(e.Value()), 10, 64)
}

// Follow starts one watcher over every partition of consumer and returns a
// Follower that many requests can wait on. Stop it with Close.
func (p *Progress) Follow(ctx context.Context, consumer string) (*Follower, error) {
	w, err := p.kv.Watch(ctx, consumer+".>")
	if err != nil {
		return nil, fmt.Errorf("chronos: watch progress of %s: %w", consumer, err)
	}
	f := &Follower{w: w, prefix: consumer + ".p", done: make(chan struct{})}
	f.mu.pos = map[int]uint64{}
	f.mu.changed = make(chan struct{})
	go f.run()
	return f, nil
}

// Follower keeps the latest positions of one consumer in memory.
type Follower struct {
	w      jetstream.KeyWatcher
	prefix string
	done   chan struct{}
	mu     struct {
		sync.Mutex
		pos     map[int]uint64
		changed chan struct{} // closed and replaced on every update
	}
}

func (f *Follower) run() {
	defer close(f.done)
	for e := range f.w.Updates() {
		if e == nil {
			continue // end of the initial values
		}
		part, err := strconv.Atoi(strings.TrimPrefix(e.Key(), f.prefix))
		if err != nil {
			continue
		}
		seq, err := strconv.ParseUint(string(e.Value()), 10, 64)
		if err != nil {
			continue
		}
		f.mu.Lock()
		if seq > f.mu.pos[part] {
			f.mu.pos[part] = seq
		}
		close(f.mu.changed)
		f.mu.changed = make(chan struct{})
		f.mu.Unlock()
	}
}

// Position returns the latest known position on part.
func (f *Follower) Position(part int) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.pos[part]
}

// WaitFor blocks until the consumer has applied seq on part, or ctx ends;
// then it returns the position and, if short of seq, an error wrapping
// ErrBehind.
func (f *Follower) WaitFor(ctx context.Context, part int, seq uint64) (uint64, error) {
	for {
		f.mu.Lock()
		pos, ch := f.mu.pos[part], f.mu.changed
		f.mu.Unlock()
		if pos >= seq {
			return pos, nil
		}
		select {
		case <-ch:
		case <-f.done:
			return pos, fmt.Errorf("%w: progress watcher stopped at %d of %d", ErrBehind, pos, seq)
		case <-ctx.Done():
			return pos, fmt.Errorf("%w: at %d of %d: %w", ErrBehind, pos, seq, ctx.Err())
		}
	}
}

// Close stops the watcher.
func (f *Follower) Close() error {
	err := f.w.Stop()
	<-f.done
	return err
}
