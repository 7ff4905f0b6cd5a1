package log

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/chronos-go/chronos/events"
)

// MaxAtomicBatch is the largest atomic batch the server accepts.
const MaxAtomicBatch = 1000

// Atomic batch headers (ADR-50, nats-server 2.12+; nats.go has no helper).
const (
	headerBatchID     = "Nats-Batch-Id"
	headerBatchSeq    = "Nats-Batch-Sequence"
	headerBatchCommit = "Nats-Batch-Commit"
)

// ErrBatchRejected is returned when the server refuses an atomic batch: no
// event of it was stored.
var ErrBatchRejected = errors.New("chronos: atomic batch rejected; nothing was written")

// Entry is one event of an atomic batch.
type Entry struct {
	Ref   events.ItemRef
	Event *events.Event
	// ExpectSeq is the sequence the item's last event must have (0: new item).
	ExpectSeq uint64
}

// AppendAtomic stores all entries or none. They must all be in one
// partition (one collection always is) and name distinct items; at most
// MaxAtomicBatch entries. One stale ExpectSeq rejects the whole batch with
// an error matching ErrConflict and ErrBatchRejected. It returns the
// sequence of each entry, in order.
func (l *Log) AppendAtomic(ctx context.Context, entries []Entry) ([]uint64, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	if len(entries) > MaxAtomicBatch {
		return nil, fmt.Errorf("%w: an atomic batch holds at most %d events, got %d", events.ErrInvalid, MaxAtomicBatch, len(entries))
	}
	part := l.Partition(entries[0].Ref.Collection)
	seen := make(map[events.ItemRef]struct{}, len(entries))
	msgs := make([]*nats.Msg, len(entries))
	id := nuid.Next()
	for i, e := range entries {
		if err := e.Ref.Validate(); err != nil {
			return nil, err
		}
		if l.Partition(e.Ref.Collection) != part {
			return nil, fmt.Errorf("%w: an atomic batch must stay in one partition; %s is not in partition %d", events.ErrInvalid, e.Ref.Collection, part)
		}
		if _, dup := seen[e.Ref]; dup {
			return nil, fmt.Errorf("%w: item %s appears twice in one atomic batch", events.ErrInvalid, e.Ref.ID)
		}
		seen[e.Ref] = struct{}{}
		if err := e.Event.Validate(l.lim); err != nil {
			return nil, err
		}
		m, err := l.NewMsg(e.Ref, e.Event, AppendOptions{ExpectSeq: Expect(e.ExpectSeq)})
		if err != nil {
			return nil, err
		}
		m.Header.Set(headerBatchID, id)
		m.Header.Set(headerBatchSeq, strconv.Itoa(i+1))
		msgs[i] = m
	}
	nc := l.js.Conn()
	last := len(msgs) - 1
	for i, m := range msgs[:last] {
		if i == 0 {
			// Wait for the first message: the server reports a stream that
			// does not allow atomic publish, or a bad batch, right here.
			resp, err := nc.RequestMsgWithContext(ctx, m)
			if err != nil {
				return nil, fmt.Errorf("chronos: atomic batch: %w", err)
			}
			if err := apiError(resp.Data); err != nil {
				return nil, batchErr(err)
			}
			continue
		}
		if err := nc.PublishMsg(m); err != nil {
			return nil, fmt.Errorf("chronos: atomic batch: %w", err)
		}
	}
	msgs[last].Header.Set(headerBatchCommit, "1")
	resp, err := nc.RequestMsgWithContext(ctx, msgs[last])
	if err != nil {
		return nil, fmt.Errorf("chronos: atomic batch commit: %w", err)
	}
	var ack struct {
		Error    *jetstream.APIError `json:"error,omitempty"`
		Stream   string              `json:"stream"`
		Sequence uint64              `json:"seq"`
		BatchID  string              `json:"batch"`
		Count    int                 `json:"count"`
	}
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return nil, fmt.Errorf("chronos: atomic batch commit: bad ack %q: %w", resp.Data, err)
	}
	if ack.Error != nil {
		return nil, batchErr(ack.Error)
	}
	if ack.BatchID != id || ack.Count != len(msgs) || ack.Stream != StreamName(part) {
		return nil, fmt.Errorf("chronos: atomic batch commit: unexpected ack %s", resp.Data)
	}
	// An atomic batch is stored contiguously, ending at the commit's sequence.
	seqs := make([]uint64, len(msgs))
	for i := range seqs {
		seqs[i] = ack.Sequence - uint64(len(msgs)-1-i)
	}
	return seqs, nil
}

func apiError(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	var r struct {
		Error *jetstream.APIError `json:"error,omitempty"`
	}
	if err := json.Unmarshal(data, &r); err != nil || r.Error == nil {
		return nil
	}
	return r.Error
}

func batchErr(err error) error {
	if IsConflict(err) {
		return fmt.Errorf("%w: %w: an item was changed by another writer", ErrBatchRejected, ErrConflict)
	}
	return fmt.Errorf("%w: %w", ErrBatchRejected, err)
}
