package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/events"
	clog "github.com/chronos-go/chronos/log"
)

// pending is one batch record on the fast path.
type pending struct {
	i      int
	ref    events.ItemRef
	ev     *events.Event
	expect uint64
	key    string
	fut    jetstream.PubAckFuture
	err    error
	// fresh: the id was generated for this record, so the item is new and
	// there is no last event to read.
	fresh bool
}

// pipeline writes the first record of each item in one pass: it reads the
// items' last events concurrently, builds every event, publishes them all
// asynchronously and then settles the acks. It returns the indexes it
// could not settle (a lost race, a duplicate key, a repeated item), for
// the careful per-record path. meta holds each record's indexed props.
func (s *Service) pipeline(ctx context.Context, c events.Collection, recs []BatchRecord, idx []int, generated map[int]bool, w Write, results []BatchResult) []int {
	var later []int
	seen := make(map[string]bool, len(idx))
	var work []*pending
	for _, i := range idx {
		if seen[recs[i].ID] {
			later = append(later, i) // needs the ack of the item's earlier record
			continue
		}
		seen[recs[i].ID] = true
		key := ""
		if w.IdempotencyKey != "" {
			key = w.IdempotencyKey + ":" + strconv.Itoa(i)
		}
		work = append(work, &pending{i: i, ref: c.Item(recs[i].ID), key: key, fresh: generated[i]})
	}
	// 1. Read last events (only for ids given by the caller) and build.
	var wg sync.WaitGroup
	sem := make(chan struct{}, batchWorkers)
	for _, p := range work {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			p.err = s.buildPending(ctx, p, recs[p.i], w)
		}()
	}
	wg.Wait()
	// 2. Publish what was built, without waiting for each ack, in windows
	// of pipelineWindow (nats.go refuses more than its async-pending limit
	// in flight), then 3. settle the window's acks.
	js := s.log.JetStream()
	for start := 0; start < len(work); start += pipelineWindow {
		win := work[start:min(start+pipelineWindow, len(work))]
		for _, p := range win {
			if p.err != nil || p.ev == nil {
				continue
			}
			m, err := s.log.NewMsg(p.ref, p.ev, clog.AppendOptions{ExpectSeq: clog.Expect(p.expect), MsgID: p.key})
			if err == nil {
				p.fut, err = js.PublishMsgAsync(m)
			}
			p.err = err
		}
		for _, p := range win {
			later = s.settle(ctx, p, results, later)
		}
	}
	return later
}

// pipelineWindow bounds the publishes of one batch in flight at once.
const pipelineWindow = 1000

// settle records p's outcome, or queues it for the per-record path.
func (s *Service) settle(ctx context.Context, p *pending, results []BatchResult, later []int) []int {
	switch {
	case p.fut != nil:
		select {
		case ack := <-p.fut.Ok():
			ov := p.ev.OV
			status := 200
			if ov == 0 {
				status = 201
			}
			results[p.i] = BatchResult{ID: p.ref.ID, OV: &ov, Seq: ack.Sequence, Status: status, Duplicate: ack.Duplicate}
			if ack.Duplicate {
				later = append(later, p.i) // answer with the stored event
			}
		case err := <-p.fut.Err():
			if clog.IsConflict(err) {
				return append(later, p.i) // lost a race, or a retried key
			}
			results[p.i] = toBatchResult(p.ref.ID, Result{}, fmt.Errorf("chronos: append to %s: %w", p.ref, err))
		case <-ctx.Done():
			results[p.i] = toBatchResult(p.ref.ID, Result{}, ctx.Err())
		}
	case errors.Is(p.err, errSlowPath):
		later = append(later, p.i)
	default:
		results[p.i] = toBatchResult(p.ref.ID, Result{}, p.err)
	}
	return later
}

// errSlowPath sends a record to the per-record path (e.g. an update of a
// claim-checked document, or a deleted item).
var errSlowPath = errors.New("slow path")

// buildPending reads p's item and builds its event: a create for a new
// item, an update of an existing one (checked against ExpectedOV).
func (s *Service) buildPending(ctx context.Context, p *pending, r BatchRecord, w Write) error {
	if s.opts.Blobs != nil && len(r.Data) > s.opts.ClaimThreshold {
		return errSlowPath // claim checks upload first
	}
	meta, err := s.applyMap(p.ref.Collection, "data", r.Data)
	if err != nil {
		return err
	}
	var last *clog.Record
	err = clog.ErrNotFound
	if !p.fresh {
		last, err = s.log.Last(ctx, p.ref)
	}
	switch {
	case errors.Is(err, clog.ErrNotFound):
		if r.ExpectedOV != nil {
			return fmt.Errorf("%w: %s (the record expects ov %d)", ErrNotFound, p.ref.ID, *r.ExpectedOV)
		}
		now := s.now()
		p.ev = &events.Event{V: events.Version, Op: events.OpCreate, At: now, InsertedAt: now, Meta: meta,
			Actor: w.Actor, Creator: w.Actor, Reason: w.Reason, Lineage: w.Lineage, Payload: r.Data}
		return nil
	case err != nil:
		return err
	}
	if last.HasKey(p.key) || last.Event.Deleted() {
		return errSlowPath
	}
	if r.ExpectedOV != nil && *r.ExpectedOV != last.Event.OV {
		return &ConflictError{ID: p.ref.ID, ExpectedOV: *r.ExpectedOV, CurrentOV: last.Event.OV}
	}
	ev := s.next(last.Event, events.OpUpdate, w)
	ev.Meta, ev.Payload = meta, r.Data
	p.ev, p.expect = ev, last.Seq
	return nil
}
