package fallbackq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"
)

// HandlerFunc processes one message. It must not acknowledge the message:
// Handler does, from the error it returns. It should be idempotent, as
// JetStream delivers at least once.
type HandlerFunc func(ctx context.Context, msg jetstream.Msg) error

// Handler maps the errors of an order-free consumer onto JetStream
// redelivery and the DLQ. Its fields are set once, before first use; it is
// then safe for concurrent use.
//
// It is for consumers whose events may be processed in any order (the
// offloader): a failed event is redelivered later while later events go
// on. A consumer that must apply events in order (the projector) retries
// in place instead and uses only DLQ.Add, for events that can never be
// applied.
type Handler struct {
	// DLQ receives the events the consumer gives up on (required).
	DLQ *DLQ
	// Policy sets the deliveries and delays; zero means DefaultPolicy().
	Policy Policy
	// Consumer names the consumer in DLQ subjects and metrics, e.g.
	// "offloader" (required; a subject token).
	Consumer string
	// Classify decides between retry and dead letter; default Classify.
	Classify func(error) Class
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Process runs fn on msg and settles msg from the result:
//
//   - success: Ack (for a replayed entry: a confirmed ack, then the entry
//     is removed from the DLQ);
//   - a retryable error with deliveries left (NumDelivered < MaxDeliver):
//     NakWithDelay(Policy.Delay(NumDelivered));
//   - a terminal error, or the last delivery: the message is copied to the
//     DLQ, then terminated. If the copy fails, the message is not
//     terminated but redelivered after a delay, and the error returned
//     joins both errors (errors.Join);
//   - ctx ended during fn: Nak, so another process picks it up at once.
//
// A replayed entry that fails for good is terminated and its DLQ entry is
// kept as it was. Process returns fn's error (nil on success), or the
// error that kept msg from being settled.
func (h *Handler) Process(ctx context.Context, msg jetstream.Msg, fn HandlerFunc) error {
	if h.DLQ == nil || h.Consumer == "" {
		return errors.New("chronos: fallbackq.Handler needs a DLQ and a Consumer") // msg comes back after AckWait
	}
	md, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("chronos: %s: message %s has no JetStream metadata: %w", h.Consumer, msg.Subject(), err)
	}
	var dlqSeq uint64 // non-zero for a replayed entry
	if md.Stream == ReplayStream {
		rm, seq, err := replayed(msg, md)
		if err != nil {
			_ = msg.TermWithReason("malformed replay message")
			return err
		}
		msg, dlqSeq = rm, seq
		md, _ = rm.Metadata()
	}
	ferr := fn(ctx, msg)
	if ferr == nil {
		return h.ack(ctx, msg, dlqSeq)
	}
	log := h.logger().With("consumer", h.Consumer, "subject", msg.Subject(), "seq", md.Sequence.Stream, "delivery", md.NumDelivered)
	if dlqSeq != 0 {
		log = log.With("dlq_seq", dlqSeq)
	}
	if ctx.Err() != nil {
		_ = msg.Nak()
		return ferr
	}
	p := h.policy()
	class := h.classify(ferr)
	if class == Retryable && md.NumDelivered < uint64(p.MaxDeliver()) {
		delay := p.Delay(md.NumDelivered)
		h.DLQ.metrics.retried(h.Consumer)
		log.Warn("processing failed; redelivering", "retry_in", delay, "deliveries_left", uint64(p.MaxDeliver())-md.NumDelivered, "err", ferr)
		if err := msg.NakWithDelay(delay); err != nil {
			return errors.Join(ferr, fmt.Errorf("chronos: nak: %w", err)) // AckWait brings it back anyway
		}
		return ferr
	}
	if dlqSeq != 0 {
		log.Error("replayed DLQ entry failed again; it stays in the DLQ", "class", class, "err", ferr)
		_ = msg.TermWithReason("replay failed")
		return ferr
	}
	seq, err := h.DLQ.add(ctx, h.Consumer, msg, md, ferr, class)
	if err != nil {
		h.DLQ.metrics.publishFailed(h.Consumer)
		delay := p.Delay(md.NumDelivered)
		log.Error("dead-lettering failed; the event stays unacknowledged", "retry_in", delay, "err", ferr, "dlq_err", err)
		_ = msg.NakWithDelay(delay)
		return errors.Join(ferr, err)
	}
	log.Error("event dead-lettered", "class", class, "dlq_seq", seq, "err", ferr)
	if err := msg.TermWithReason("dead-lettered"); err != nil {
		// The copy is in the DLQ; a redelivery copies it again onto the same
		// entry (idempotent) and terminates it then.
		log.Warn("term after dead-lettering", "err", err)
	}
	return ferr
}

func (h *Handler) ack(ctx context.Context, msg jetstream.Msg, dlqSeq uint64) error {
	if dlqSeq == 0 {
		// A lost ack is a redelivery: harmless for an idempotent consumer.
		return msg.Ack()
	}
	// The entry leaves the DLQ only once the server has recorded the ack.
	if err := msg.DoubleAck(ctx); err != nil {
		return fmt.Errorf("chronos: ack replayed DLQ entry %d: %w", dlqSeq, err)
	}
	if err := h.DLQ.remove(ctx, dlqSeq); err != nil {
		return err
	}
	h.logger().Info("replayed DLQ entry processed and removed", "consumer", h.Consumer, "dlq_seq", dlqSeq, "subject", msg.Subject())
	return nil
}

func (h *Handler) policy() Policy {
	if h.Policy == (Policy{}) {
		return DefaultPolicy()
	}
	return h.Policy
}

func (h *Handler) classify(err error) Class {
	if h.Classify != nil {
		return h.Classify(err)
	}
	return Classify(err)
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}
