package client

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/events"
	clog "github.com/chronos-go/chronos/log"
)

// PendingWrite is a write a Producer has published: a future of its
// acknowledgement.
type PendingWrite struct {
	ref   events.ItemRef
	op    events.Op
	msgID string
	msg   *nats.Msg
	paf   jetstream.PubAckFuture
	done  chan struct{}
	// Set by the reaper before done is closed.
	res Result
	err error
}

// settled returns a write that is already acknowledged.
func settled(ref events.ItemRef, key string, res Result) *PendingWrite {
	w := &PendingWrite{ref: ref, msgID: key, res: res, done: make(chan struct{})}
	close(w.done)
	return w
}

// Ref returns the item written (with its generated id, for a create).
func (w *PendingWrite) Ref() events.ItemRef { return w.ref }

// IdempotencyKey returns the write's Nats-Msg-Id.
func (w *PendingWrite) IdempotencyKey() string { return w.msgID }

// Done is closed once the write is settled: Ack then returns at once.
func (w *PendingWrite) Done() <-chan struct{} { return w.done }

// Ack waits until the log has stored the write, or refused it, or ctx
// ends. On success the Result holds the event's sequence; a *ConflictError
// or ErrExists means nothing was written. Any other error leaves the
// outcome unknown: Resend the write, which is safe (same idempotency key).
func (w *PendingWrite) Ack(ctx context.Context) (Result, error) {
	select {
	case <-w.done:
		return w.res, w.err
	case <-ctx.Done():
		return Result{}, context.Cause(ctx)
	}
}

// reap settles published writes in publish order, frees their places in
// the window, keeps the failures for Flush, and wakes the Flushes whose
// writes are all settled. Waiting in order is cheap: acks of one stream
// come in order, and a write settled early is found settled when reached.
func (p *Producer) reap() {
	defer close(p.done)
	for w := range p.queue {
		select {
		case pa := <-w.paf.Ok():
			w.res.CV, w.res.Seq, w.res.Duplicate = pa.Sequence, pa.Sequence, pa.Duplicate
		case err := <-w.paf.Err():
			w.err = p.ackError(w, err)
		case <-p.stop:
			w.err = fmt.Errorf("%w before the write was acknowledged; it may or may not be stored", ErrClosed)
		}
		<-p.window
		close(w.done)
		p.settle(w.err)
	}
}

// settle counts one more settled write.
func (p *Producer) settle(err error) {
	p.st.Lock()
	defer p.st.Unlock()
	p.st.settled++
	if err != nil {
		if len(p.st.errs) < maxFlushErrors {
			p.st.errs = append(p.st.errs, err)
		} else {
			p.st.dropped++
		}
	}
	if len(p.st.waiters) == 0 {
		return
	}
	keep := p.st.waiters[:0]
	for _, fw := range p.st.waiters {
		if fw.target <= p.st.settled {
			close(fw.ch)
		} else {
			keep = append(keep, fw)
		}
	}
	p.st.waiters = keep
}

// ackError interprets a refused publish. A wrong last sequence is either
// our own earlier attempt (the server checks the expected sequence before
// the duplicate window; the item's last event then carries our key) or
// another writer's win. It may set w.res and return nil.
func (p *Producer) ackError(w *PendingWrite, err error) error {
	if !clog.IsConflict(err) {
		return fmt.Errorf("chronos: publish %s: %w", w.ref, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	last, lerr := p.log.Last(ctx, w.ref)
	if lerr == nil && last.HasKey(w.msgID) {
		w.res = Result{ID: w.ref.ID, OV: last.Event.OV, CV: last.Seq, Seq: last.Seq, At: last.Event.At, Duplicate: true}
		return nil
	}
	if w.op == events.OpCreate {
		return fmt.Errorf("%w: %s", ErrExists, w.ref.ID)
	}
	ce := &ConflictError{ID: w.ref.ID, ExpectedOV: w.res.OV - 1, CurrentOV: w.res.OV}
	if lerr == nil {
		ce.CurrentOV = last.Event.OV
	}
	return ce
}
