package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/events"
	clog "github.com/chronos-go/chronos/log"
)

// DefaultWindow is the default bound of a Producer's unacknowledged writes.
// It stays under nats.go's default async-publish limit (4,000), so that a
// full window waits in the Producer rather than failing in nats.go with
// "stalled with too many outstanding async published messages".
const DefaultWindow = 3072

// defaultStallWait bounds how long a publish may wait for room in the
// JetStream context's own async window when ctx has no deadline.
const defaultStallWait = 30 * time.Second

// maxFlushErrors bounds the errors one Flush keeps; the rest are counted.
const maxFlushErrors = 1000

// ProducerOption configures a Producer.
type ProducerOption func(*producerOptions) error

type producerOptions struct {
	window int
	limits events.Limits
}

// WithWindow bounds the writes published but not yet acknowledged
// (default DefaultWindow). A write that finds the window full waits, as
// long as its ctx allows, for an acknowledgement to free a place.
func WithWindow(n int) ProducerOption {
	return func(o *producerOptions) error {
		if n < 1 || n > 1<<20 {
			return fmt.Errorf("%w: window must be in [1, %d], got %d", ErrInvalidOption, 1<<20, n)
		}
		o.window = n
		return nil
	}
}

// WithLimits sets the limits events are validated with (the payload size
// limit); default events.Limits{} (events.DefaultMaxPayload).
func WithLimits(l events.Limits) ProducerOption {
	return func(o *producerOptions) error {
		if l.MaxPayload < 0 {
			return fmt.Errorf("%w: MaxPayload must not be negative", ErrInvalidOption)
		}
		o.limits = l
		return nil
	}
}

// WriteMeta is what a Producer write carries besides the document.
type WriteMeta struct {
	Actor  *events.Actor
	Reason string
	// Lineage of a create; an update keeps the item's lineage unless it
	// gives its own.
	Lineage *events.Lineage
	// IdempotencyKey becomes the event's Nats-Msg-Id; default a new ULID.
	// Within the stream's duplicate window the server stores a key once
	// per partition stream, whatever the item: keys must be unique (see
	// WithIdempotencyKey).
	IdempotencyKey string
}

// Producer publishes writes straight to the JetStream log, without the
// HTTP hop: the same events, subjects and headers as ingest, pipelined
// (asynchronous publishes, a bounded window of unacknowledged writes).
//
// It bypasses everything the HTTP API adds in front of the log:
// authentication, and the collection map's rules (required and indexed
// properties, base64 fields, claim check of large payloads). It is for
// trusted producers that hold JetStream credentials, such as IoT gateways
// and trading engines; it checks what the events package checks (tokens,
// payload rules, size limit) and nothing more. Documents are published
// inline, so they must also fit the nats-server's max_payload.
//
// Updates of one item must wait for the previous write's Ack: each reads
// the item's last event, so a second update pipelined behind a first one
// conflicts with it. Writes of different items pipeline freely.
type Producer struct {
	log    *clog.Log
	js     jetstream.JetStream
	window chan struct{}
	// queue holds the published writes in publish order, for the reaper.
	// Each holds a place in the window, so a send to it never waits.
	queue chan *PendingWrite
	stop  chan struct{}
	done  chan struct{}

	mu struct {
		sync.RWMutex
		closed bool
	}
	// st counts writes queued and settled, and keeps the failures for the
	// next Flush.
	st struct {
		sync.Mutex
		queued, settled uint64
		errs            []error
		dropped         int
		waiters         []flushWaiter
	}
}

// flushWaiter is a Flush waiting for the first target writes to settle.
type flushWaiter struct {
	target uint64
	ch     chan struct{}
}

// NewProducer opens the log on js (the partition streams must exist) and
// returns a producer publishing to it. Close it to release its goroutine.
func NewProducer(ctx context.Context, js jetstream.JetStream, opts ...ProducerOption) (*Producer, error) {
	o := producerOptions{window: DefaultWindow}
	for _, f := range opts {
		if f == nil {
			continue
		}
		if err := f(&o); err != nil {
			return nil, err
		}
	}
	l, err := clog.Open(ctx, js, o.limits)
	if err != nil {
		return nil, err
	}
	p := &Producer{
		log: l, js: js,
		window: make(chan struct{}, o.window),
		queue:  make(chan *PendingWrite, o.window),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go p.reap()
	return p, nil
}

// Pending returns the number of writes published and not yet settled
// (acknowledged or failed); it never exceeds the window.
func (p *Producer) Pending() int { return len(p.window) }

// Create publishes the create event of a new item (ov 0, expecting the
// item to have no event) and returns at once; the returned write's Ack
// reports the outcome. An empty ref.ID gets a ULID. doc is a JSON object.
// An id that is taken fails (at Ack) with ErrExists.
func (p *Producer) Create(ctx context.Context, ref events.ItemRef, doc []byte, meta WriteMeta) (*PendingWrite, error) {
	if ref.ID == "" {
		ref.ID = NewID()
	}
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	now := eventTime(time.Now(), time.Time{})
	ev := &events.Event{
		V: events.Version, Op: events.OpCreate, OV: 0, At: now, InsertedAt: now,
		Actor: meta.Actor, Creator: meta.Actor, Reason: meta.Reason, Lineage: meta.Lineage,
		Payload: doc,
	}
	return p.publish(ctx, ref, ev, 0, meta)
}

// Update replaces the document of a live item: it reads the item's last
// event, checks expectedOV against it (nil: any version), and publishes
// the next version expecting that event to still be the last. A stale
// expectedOV fails at once with a *ConflictError; a write that lands in
// between fails the same way at Ack (also without expectedOV: read and
// call Update again). A missing or deleted item is ErrNotFound.
func (p *Producer) Update(ctx context.Context, ref events.ItemRef, doc []byte, expectedOV *uint64, meta WriteMeta) (*PendingWrite, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	last, err := p.log.Last(ctx, ref)
	if errors.Is(err, clog.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref.ID)
	}
	if err != nil {
		return nil, err
	}
	if last.HasKey(meta.IdempotencyKey) {
		// A repeat of a write that already landed: answer with it.
		return settled(ref, meta.IdempotencyKey, Result{ID: ref.ID, OV: last.Event.OV, CV: last.Seq, Seq: last.Seq, At: last.Event.At, Duplicate: true}), nil
	}
	if expectedOV != nil && *expectedOV != last.Event.OV {
		return nil, &ConflictError{ID: ref.ID, ExpectedOV: *expectedOV, CurrentOV: last.Event.OV}
	}
	if last.Event.Deleted() {
		return nil, fmt.Errorf("%w: %s is deleted (ov %d)", ErrNotFound, ref.ID, last.Event.OV)
	}
	ev := nextEvent(last.Event, events.OpUpdate, meta)
	ev.Payload = doc
	return p.publish(ctx, ref, ev, last.Seq, meta)
}

// nextEvent builds the event after last exactly as ingest does: the next
// ov, a time strictly after the last one, and what outlives a write
// (insertedAt, creator, functionIds, lineage) carried forward.
func nextEvent(last *events.Event, op events.Op, meta WriteMeta) *events.Event {
	lineage := last.Lineage
	if meta.Lineage != nil {
		lineage = meta.Lineage
	}
	return &events.Event{
		V: events.Version, Op: op, OV: last.OV + 1, At: eventTime(time.Now(), last.At),
		Actor: meta.Actor, Reason: meta.Reason, Lineage: lineage,
		InsertedAt: last.InsertedAt, Creator: last.Creator, FunctionIDs: last.FunctionIDs,
	}
}

// eventTime is ingest's rule: UTC at millisecond precision (that of BSON
// dates), and strictly after the item's previous event (after, zero for a
// create), so every version has its own instant.
func eventTime(now, after time.Time) time.Time {
	at := now.UTC().Truncate(time.Millisecond)
	if !after.IsZero() && !at.After(after) {
		at = after.Add(time.Millisecond)
	}
	return at
}

// publish validates ev, takes a place in the window and publishes it.
func (p *Producer) publish(ctx context.Context, ref events.ItemRef, ev *events.Event, expectSeq uint64, meta WriteMeta) (*PendingWrite, error) {
	if err := ev.Validate(p.log.Limits()); err != nil {
		return nil, err
	}
	key := meta.IdempotencyKey
	if key == "" {
		key = NewID()
	} else if !validKey(key) {
		return nil, fmt.Errorf("%w: an idempotency key is 1-256 printable ASCII characters without spaces", ErrInvalidOption)
	}
	m, err := p.log.NewMsg(ref, ev, clog.AppendOptions{ExpectSeq: clog.Expect(expectSeq), MsgID: key})
	if err != nil {
		return nil, err
	}
	w := &PendingWrite{ref: ref, op: ev.Op, msgID: key, msg: m, done: make(chan struct{}),
		res: Result{ID: ref.ID, OV: ev.OV, At: ev.At}}
	return w, p.send(ctx, w)
}

// Resend publishes w's message again, byte for byte: same event, same
// Nats-Msg-Id, same expected last sequence. It is for a write whose Ack
// failed without an answer from the server (a timeout, a lost
// connection): within the stream's duplicate window, however often a
// write is resent, the log holds it once, and a resend of a write that
// was stored acknowledges as a Duplicate of it.
func (p *Producer) Resend(ctx context.Context, w *PendingWrite) (*PendingWrite, error) {
	if w == nil || w.msg == nil {
		return nil, fmt.Errorf("%w: nothing to resend", ErrInvalidOption)
	}
	again := &PendingWrite{ref: w.ref, op: w.op, msgID: w.msgID, msg: w.msg, done: make(chan struct{}),
		res: Result{ID: w.res.ID, OV: w.res.OV, At: w.res.At}}
	return again, p.send(ctx, again)
}

// send takes a place in the window (waiting while ctx allows), publishes
// w asynchronously and hands it to the reaper.
func (p *Producer) send(ctx context.Context, w *PendingWrite) error {
	select {
	case p.window <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("chronos: producer window full (%d): %w", cap(p.window), context.Cause(ctx))
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.mu.closed {
		<-p.window
		return ErrClosed
	}
	stall := defaultStallWait
	if d, ok := ctx.Deadline(); ok {
		stall = max(time.Until(d), time.Millisecond)
	}
	// The message is copied: nats.go keeps the one it is given for its own
	// retries, and a Resend must not share it.
	m := &nats.Msg{Subject: w.msg.Subject, Header: w.msg.Header, Data: w.msg.Data}
	paf, err := p.js.PublishMsgAsync(m, jetstream.WithStallWait(stall))
	if err != nil {
		<-p.window
		return fmt.Errorf("chronos: publish %s: %w", w.ref, err)
	}
	w.paf = paf
	p.st.Lock()
	p.st.queued++
	p.queue <- w // never waits: w holds one of the window's places
	p.st.Unlock()
	return nil
}

// Flush waits until every write published before it is settled, and
// returns the failures of the writes settled since the previous Flush
// returned: the first error joined with the rest (nil if none failed).
func (p *Producer) Flush(ctx context.Context) error {
	p.mu.RLock()
	if p.mu.closed {
		p.mu.RUnlock()
		return ErrClosed
	}
	p.st.Lock()
	p.mu.RUnlock()
	if p.st.settled >= p.st.queued {
		defer p.st.Unlock()
		return p.takeErrs()
	}
	w := flushWaiter{target: p.st.queued, ch: make(chan struct{})}
	p.st.waiters = append(p.st.waiters, w)
	p.st.Unlock()
	select {
	case <-w.ch:
		p.st.Lock()
		defer p.st.Unlock()
		return p.takeErrs()
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// takeErrs returns and forgets the failures kept so far; st is locked.
func (p *Producer) takeErrs() error {
	errs := p.st.errs
	if p.st.dropped > 0 {
		errs = append(errs, fmt.Errorf("chronos: %d more writes failed", p.st.dropped))
	}
	p.st.errs, p.st.dropped = nil, 0
	return errors.Join(errs...)
}

// Close flushes, then stops the producer; later writes fail with
// ErrClosed. If ctx ends first, writes still unacknowledged are failed
// with ErrClosed (they may or may not be stored). It does not close js.
func (p *Producer) Close(ctx context.Context) error {
	err := p.Flush(ctx)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		return err
	}
	p.mu.closed = true
	close(p.queue)
	p.mu.Unlock()
	select {
	case <-p.done:
	case <-ctx.Done():
		close(p.stop)
		<-p.done
	}
	return err
}
