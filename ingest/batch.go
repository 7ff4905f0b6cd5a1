package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"sync"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/httpapi"
	clog "github.com/chronos-go/chronos/log"
)

// MaxBatch is the most records one batch request may hold.
const MaxBatch = 10000

// batchWorkers bounds the records of one batch in flight at once.
const batchWorkers = 64

// BatchRecord is one record of a batch: without ExpectedOV, a new (or
// absent) id is a create and an existing id an update; with ExpectedOV it
// is an update of that version.
type BatchRecord struct {
	ID         string          `json:"id,omitempty"`
	Data       json.RawMessage `json:"data"`
	ExpectedOV *uint64         `json:"expectedOv,omitempty"`
}

// BatchResult is the outcome of one record, in request order.
type BatchResult struct {
	ID        string      `json:"id,omitempty"`
	OV        *uint64     `json:"ov,omitempty"`
	Seq       uint64      `json:"seq,omitempty"`
	Status    int         `json:"status"`
	Duplicate bool        `json:"duplicate,omitempty"`
	Error     *BatchError `json:"error,omitempty"`
}

// BatchError is a record's error, in the shape of the HTTP error body.
type BatchError struct {
	Code      string  `json:"code"`
	Message   string  `json:"message"`
	CurrentOV *uint64 `json:"currentOv,omitempty"`
}

func batchError(err error) (int, *BatchError) {
	status, code, msg := httpapi.Classify(err)
	be := &BatchError{Code: code, Message: msg}
	var ce *ConflictError
	if errors.As(err, &ce) {
		cur := ce.CurrentOV
		be.CurrentOV = &cur
	}
	return status, be
}

// validateBatch checks every record; it returns the per-record errors
// (nil where a record is valid) and whether any record is invalid.
func (s *Service) validateBatch(c events.Collection, recs []BatchRecord) ([]error, bool) {
	errs := make([]error, len(recs))
	bad := false
	for i, r := range recs {
		var err error
		if r.ID != "" {
			err = events.ValidateToken("id", r.ID)
		}
		if err == nil {
			err = events.ValidatePayload("data", r.Data, s.opts.MaxPayload)
		}
		if err == nil && r.ID == "" && r.ExpectedOV != nil {
			err = httpapi.Invalid("expectedOv", "a record with expectedOv needs an id")
		}
		if err != nil {
			errs[i], bad = fmt.Errorf("record %d: %w", i, err), true
		}
	}
	return errs, bad
}

// Batch writes records independently; a record's failure does not stop
// the others. The first record of each item goes through one pipelined
// pass (last events read concurrently, events published asynchronously,
// acks settled together); repeated items, lost races and retried keys then
// take the per-record path, records of one item in request order. With an
// idempotency key, record i uses key+":"+i, so retrying the whole request
// returns the first results.
func (s *Service) Batch(ctx context.Context, c events.Collection, recs []BatchRecord, w Write) ([]BatchResult, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := s.checkScope(ctx, c); err != nil {
		return nil, err
	}
	if len(recs) > MaxBatch {
		return nil, httpapi.Invalid("batch", fmt.Sprintf("%d records; the limit is %d", len(recs), MaxBatch))
	}
	w.Lineage = s.resolveLineage(ctx, c, w.Lineage)
	results := make([]BatchResult, len(recs))
	errs, _ := s.validateBatch(c, recs)
	generated := map[int]bool{}
	var valid []int
	for i, r := range recs {
		if errs[i] != nil {
			results[i].ID = r.ID
			results[i].Status, results[i].Error = batchError(errs[i])
			continue
		}
		if r.ID == "" {
			recs[i].ID, generated[i] = s.NewID(), true
		}
		valid = append(valid, i)
	}
	later := s.pipeline(ctx, c, recs, valid, generated, w, results)
	slices.Sort(later) // request order
	shards := make([][]int, batchWorkers)
	for _, i := range later {
		h := fnv.New32a()
		h.Write([]byte(recs[i].ID))
		k := int(h.Sum32() % batchWorkers)
		shards[k] = append(shards[k], i)
	}
	var wg sync.WaitGroup
	for _, idx := range shards {
		if len(idx) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, i := range idx {
				rw := w
				if w.IdempotencyKey != "" {
					rw.IdempotencyKey = w.IdempotencyKey + ":" + strconv.Itoa(i)
				}
				rw.ExpectedOV = recs[i].ExpectedOV
				res, err := s.put(ctx, c.Item(recs[i].ID), recs[i], rw)
				results[i] = toBatchResult(recs[i].ID, res, err)
			}
		}()
	}
	wg.Wait()
	return results, nil
}

func toBatchResult(id string, res Result, err error) BatchResult {
	if err != nil {
		br := BatchResult{ID: id}
		br.Status, br.Error = batchError(err)
		return br
	}
	ov := res.OV
	status := 200
	if ov == 0 && !res.Duplicate {
		status = 201
	}
	return BatchResult{ID: id, OV: &ov, Seq: res.Seq, Status: status, Duplicate: res.Duplicate}
}

// put creates or updates one record (see BatchRecord).
func (s *Service) put(ctx context.Context, ref events.ItemRef, r BatchRecord, w Write) (Result, error) {
	if w.ExpectedOV != nil {
		return s.Update(ctx, ref, r.Data, w)
	}
	for attempt := 0; attempt < 2; attempt++ {
		res, err := s.Create(ctx, ref.Collection, ref.ID, r.Data, w)
		if !errors.Is(err, ErrExists) {
			return res, err
		}
		res, err = s.Update(ctx, ref, r.Data, w)
		if !errors.Is(err, ErrNotFound) || attempt == 1 {
			return res, err
		}
	}
	return Result{}, ErrBusy
}

// BatchAtomic writes all records or none, in one JetStream atomic batch
// (at most 1,000 records, distinct ids). Any invalid record, or any record
// whose item changed meanwhile, rejects the whole batch.
func (s *Service) BatchAtomic(ctx context.Context, c events.Collection, recs []BatchRecord, w Write) ([]BatchResult, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := s.checkScope(ctx, c); err != nil {
		return nil, err
	}
	if len(recs) > clog.MaxAtomicBatch {
		return nil, httpapi.Invalid("batch", fmt.Sprintf("an atomic batch holds at most %d records, got %d", clog.MaxAtomicBatch, len(recs)))
	}
	if errs, bad := s.validateBatch(c, recs); bad {
		return nil, errors.Join(errs...)
	}
	seen := make(map[string]bool, len(recs))
	entries := make([]clog.Entry, len(recs))
	for i := range recs {
		if recs[i].ID == "" {
			recs[i].ID = s.NewID()
		}
		if seen[recs[i].ID] {
			return nil, httpapi.Invalid("batch", fmt.Sprintf("record %d: id %q appears twice; an atomic batch writes each item once", i, recs[i].ID))
		}
		seen[recs[i].ID] = true
	}
	// Read every item's last event (concurrently), then build its event.
	errs := make([]error, len(recs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, batchWorkers)
	for i, r := range recs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			entries[i], errs[i] = s.atomicEntry(ctx, c.Item(r.ID), r, w)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	seqs, err := s.log.AppendAtomic(ctx, entries)
	if errors.Is(err, clog.ErrConflict) {
		return nil, fmt.Errorf("%w: an item of the batch was written by someone else meanwhile; nothing was written, retry the batch", httpapi.Sentinel("chronos: atomic batch rejected", 409, "batch_conflict"))
	}
	if err != nil {
		return nil, err
	}
	out := make([]BatchResult, len(recs))
	for i, e := range entries {
		ov := e.Event.OV
		status := 200
		if ov == 0 {
			status = 201
		}
		out[i] = BatchResult{ID: recs[i].ID, OV: &ov, Seq: seqs[i], Status: status}
	}
	return out, nil
}

func (s *Service) atomicEntry(ctx context.Context, ref events.ItemRef, r BatchRecord, w Write) (clog.Entry, error) {
	last, err := s.log.Last(ctx, ref)
	switch {
	case errors.Is(err, clog.ErrNotFound):
		if r.ExpectedOV != nil {
			return clog.Entry{}, fmt.Errorf("%w: %s (record expects ov %d)", ErrNotFound, ref.ID, *r.ExpectedOV)
		}
		now := s.now()
		meta, err := s.applyMap(ref.Collection, "data", r.Data)
		if err != nil {
			return clog.Entry{}, err
		}
		ev := &events.Event{
			V: events.Version, Op: events.OpCreate, At: now, InsertedAt: now, Meta: meta,
			Actor: w.Actor, Creator: w.Actor, Reason: w.Reason, Lineage: w.Lineage,
		}
		return clog.Entry{Ref: ref, Event: ev}, s.setPayload(ctx, ref.Collection, ev, r.Data)
	case err != nil:
		return clog.Entry{}, err
	}
	if r.ExpectedOV != nil && *r.ExpectedOV != last.Event.OV {
		return clog.Entry{}, &ConflictError{ID: ref.ID, ExpectedOV: *r.ExpectedOV, CurrentOV: last.Event.OV}
	}
	if last.Event.Deleted() {
		return clog.Entry{}, fmt.Errorf("%w: %s is deleted", ErrNotFound, ref.ID)
	}
	ev := s.next(last.Event, events.OpUpdate, w)
	if ev.Meta, err = s.applyMap(ref.Collection, "data", r.Data); err != nil {
		return clog.Entry{}, err
	}
	return clog.Entry{Ref: ref, Event: ev, ExpectSeq: last.Seq}, s.setPayload(ctx, ref.Collection, ev, r.Data)
}

// decodeBatch reads a JSON array of records, or NDJSON (one per line).
func decodeBatch(body []byte) ([]BatchRecord, error) {
	t := trimSpace(body)
	if len(t) == 0 {
		return nil, httpapi.Invalid("batch", "the body is empty; send a JSON array of records or NDJSON")
	}
	var recs []BatchRecord
	if t[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&recs); err != nil {
			return nil, httpapi.Invalid("batch", `records must be {"id"?: string, "data": {...}, "expectedOv"?: N}: `+err.Error())
		}
		if dec.More() {
			return nil, httpapi.Invalid("batch", "trailing data after the array")
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(t))
		sc.Buffer(make([]byte, 0, 64<<10), len(t)+1)
		for line := 1; sc.Scan(); line++ {
			l := trimSpace(sc.Bytes())
			if len(l) == 0 {
				continue
			}
			var r BatchRecord
			dec := json.NewDecoder(bytes.NewReader(l))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&r); err != nil {
				return nil, httpapi.Invalid("batch", fmt.Sprintf("NDJSON line %d: %v", line, err))
			}
			recs = append(recs, r)
			if len(recs) > MaxBatch {
				break
			}
		}
		if err := sc.Err(); err != nil {
			return nil, httpapi.Invalid("batch", "cannot read NDJSON: "+err.Error())
		}
	}
	if len(recs) == 0 {
		return nil, httpapi.Invalid("batch", "no records")
	}
	if len(recs) > MaxBatch {
		return nil, httpapi.Invalid("batch", fmt.Sprintf("more than %d records", MaxBatch))
	}
	return recs, nil
}
