package fallbackq

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Replay sends entry seq back to its consumer through the replay stream.
// The entry stays in the DLQ until the consumer has processed it and
// acknowledged it; nothing is written to the event log. It fails with
// ErrEntryNotFound, or ErrNoReplayConsumer when the entry's consumer does
// not take replays.
func (d *DLQ) Replay(ctx context.Context, seq uint64) error {
	e, err := d.get(ctx, seq)
	if err != nil {
		return err
	}
	if err := d.takesReplays(ctx, e.Consumer); err != nil {
		return err
	}
	return d.replay(ctx, e)
}

// ReplayAll replays every entry f selects, oldest first, and returns how
// many it sent. Entries of consumers that take no replays are skipped and
// reported in the error (ErrNoReplayConsumer), as is any other failure.
func (d *DLQ) ReplayAll(ctx context.Context, f Filter) (int, error) {
	list, err := d.List(ctx, f)
	if err != nil {
		return 0, err
	}
	checked := map[string]error{}
	skipped := map[string]int{}
	n := 0
	for _, e := range list {
		cerr, ok := checked[e.Consumer]
		if !ok {
			cerr = d.takesReplays(ctx, e.Consumer)
			checked[e.Consumer] = cerr
		}
		if cerr != nil {
			skipped[e.Consumer]++
			continue
		}
		full, err := d.get(ctx, e.Seq)
		if errors.Is(err, ErrEntryNotFound) {
			continue // replayed or purged meanwhile
		}
		if err == nil {
			err = d.replay(ctx, full)
		}
		if err != nil {
			return n, err
		}
		n++
	}
	var errs []error
	for _, c := range slices.Sorted(maps.Keys(skipped)) {
		errs = append(errs, fmt.Errorf("%d entries of %q skipped: %w", skipped[c], c, checked[c]))
	}
	return n, errors.Join(errs...)
}

// takesReplays reports whether consumer runs a replay consumer.
func (d *DLQ) takesReplays(ctx context.Context, consumer string) error {
	_, err := d.js.Consumer(ctx, ReplayStream, consumer)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("%w: stream %s does not exist", ErrNotReady, ReplayStream)
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return fmt.Errorf("%w: %q has no consumer on %s; its entries can be inspected and purged", ErrNoReplayConsumer, consumer, ReplayStream)
	default:
		return fmt.Errorf("chronos: read replay consumer %q: %w", consumer, err)
	}
}

func (d *DLQ) replay(ctx context.Context, e *Entry) error {
	m := nats.NewMsg(ReplaySubject(e.Consumer, e.Subject))
	m.Data = e.Data
	for k, vs := range e.Headers {
		if !strings.HasPrefix(k, "Nats-") {
			m.Header[k] = append([]string(nil), vs...)
		}
	}
	m.Header.Set(HeaderDLQSeq, strconv.FormatUint(e.Seq, 10))
	if _, err := d.js.PublishMsg(ctx, m, jetstream.WithExpectStream(ReplayStream)); err != nil {
		return fmt.Errorf("chronos: replay DLQ entry %d: %w", e.Seq, err)
	}
	return nil
}

// RunReplay consumes the replays of h.Consumer until ctx ends, running fn
// on each through Process: fn sees the original subject, stream sequence,
// stream time and headers, as on the first delivery. EnsureDLQ must have
// run. It returns nil when ctx ends.
func (h *Handler) RunReplay(ctx context.Context, fn HandlerFunc) error {
	c, err := h.DLQ.js.CreateOrUpdateConsumer(ctx, ReplayStream, jetstream.ConsumerConfig{
		Durable:       h.Consumer,
		Description:   "DLQ replays to " + h.Consumer,
		FilterSubject: ReplayPrefix + "." + h.Consumer + ".>",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1, // Process enforces the policy's deliveries
		MaxAckPending: 64,
	})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%w: stream %s does not exist", ErrNotReady, ReplayStream)
	}
	if err != nil {
		return fmt.Errorf("chronos: ensure replay consumer %q: %w", h.Consumer, err)
	}
	it, err := c.Messages(jetstream.PullMaxMessages(16))
	if err != nil {
		return fmt.Errorf("chronos: consume replays of %q: %w", h.Consumer, err)
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			h.logger().Warn("replay fetch", "consumer", h.Consumer, "err", err)
			continue
		}
		_ = h.Process(ctx, m, fn) // Process logs and settles
	}
}

// replayedMsg is a replay message dressed as the original delivery, so
// that a consumer's function decodes it as it would the first time.
type replayedMsg struct {
	jetstream.Msg
	subject string
	hdr     nats.Header
	md      jetstream.MsgMetadata
}

func (m *replayedMsg) Subject() string      { return m.subject }
func (m *replayedMsg) Headers() nats.Header { return m.hdr }
func (m *replayedMsg) Metadata() (*jetstream.MsgMetadata, error) {
	md := m.md
	return &md, nil
}

// replayed returns msg, read from the replay stream, as the original
// delivery, with the DLQ sequence it replays.
func replayed(msg jetstream.Msg, md *jetstream.MsgMetadata) (jetstream.Msg, uint64, error) {
	h := msg.Headers()
	dlqSeq, err := strconv.ParseUint(h.Get(HeaderDLQSeq), 10, 64)
	if err != nil || dlqSeq == 0 {
		return nil, 0, fmt.Errorf("chronos: replay message %s has no valid %s header", msg.Subject(), HeaderDLQSeq)
	}
	origSeq, err := strconv.ParseUint(h.Get(HeaderOrigSeq), 10, 64)
	if err != nil || h.Get(HeaderOrigSubject) == "" || h.Get(HeaderOrigStream) == "" {
		return nil, 0, fmt.Errorf("chronos: replay of DLQ entry %d lacks its original subject, stream or sequence", dlqSeq)
	}
	out := &replayedMsg{Msg: msg, subject: h.Get(HeaderOrigSubject), md: *md, hdr: nats.Header{}}
	for k, vs := range h {
		if !strings.HasPrefix(k, "Nats-") {
			out.hdr[k] = vs
		}
	}
	if id := h.Get(HeaderOrigMsgID); id != "" {
		out.hdr.Set(jetstream.MsgIDHeader, id)
	}
	out.md.Stream = h.Get(HeaderOrigStream)
	out.md.Sequence.Stream = origSeq
	if t, err := time.Parse(time.RFC3339Nano, h.Get(HeaderOrigTime)); err == nil {
		out.md.Timestamp = t
	}
	return out, dlqSeq, nil
}
