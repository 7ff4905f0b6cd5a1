package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/chronos-go/chronos/events"
)

// MaxBatch is the most records one Batch call may hold; an atomic batch
// holds at most MaxAtomicBatch.
const (
	MaxBatch       = 10000
	MaxAtomicBatch = 1000
)

// Record is one record of a batch. Without ExpectedOV, a record whose id
// is new (or empty: the server generates a ULID) is a create, and one
// whose id exists an update; with ExpectedOV it is an update of exactly
// that version.
type Record struct {
	ID string
	// Data is the document, encoded like a Create document.
	Data       any
	ExpectedOV *uint64
}

// BatchResult is the outcome of one record, in request order.
type BatchResult struct {
	ID string
	// OV and Seq are the version and sequence written (when Err is nil).
	OV  uint64
	Seq uint64
	// Status is the record's HTTP-style status: 201 created, 200 updated,
	// or the status of Err.
	Status int
	// Duplicate reports a record the idempotency key had already written.
	Duplicate bool
	// Err is the record's failure, typed like a call's error
	// (*ConflictError, *APIError); nil on success.
	Err error
}

type wireResult struct {
	ID        string                     `json:"id"`
	OV        *uint64                    `json:"ov"`
	Seq       uint64                     `json:"seq"`
	Status    int                        `json:"status"`
	Duplicate bool                       `json:"duplicate"`
	Error     map[string]json.RawMessage `json:"error"`
}

// Batch writes records in one request. Non-atomic (atomic false), records
// are written independently and pipelined, records of one item in order,
// and each record reports its own outcome: the call's error is nil even
// when some records fail. Atomic, all records are written or none (at most
// MaxAtomicBatch, distinct ids, one collection): a record that cannot be
// written fails the whole call (a stale version with an error matching
// ErrConflict). Options: WithActor, WithReason, WithIdempotencyKey (record
// i of a non-atomic batch uses key+":"+i, so a repeated call returns the
// first results). The server does not deduplicate atomic batches, so
// those are retried only when the connection was refused.
func (col *Collection) Batch(ctx context.Context, records []Record, atomic bool, opts ...WriteOption) ([]BatchResult, error) {
	w, err := col.prepare("batch", "", opts)
	if err != nil {
		return nil, err
	}
	switch {
	case len(records) == 0:
		return nil, fmt.Errorf("%w: a batch needs at least one record", ErrInvalidOption)
	case len(records) > MaxBatch:
		return nil, fmt.Errorf("%w: %d records; a batch holds at most %d", ErrInvalidOption, len(records), MaxBatch)
	case atomic && len(records) > MaxAtomicBatch:
		return nil, fmt.Errorf("%w: %d records; an atomic batch holds at most %d", ErrInvalidOption, len(records), MaxAtomicBatch)
	}
	body, err := encodeBatch(records)
	if err != nil {
		return nil, err
	}
	h, err := w.header()
	if err != nil {
		return nil, err
	}
	r := request{method: http.MethodPost, path: col.path + "/items:batch", header: h, body: body, noDedupe: atomic}
	if atomic {
		r.query = url.Values{"atomic": {"true"}}
	}
	var resp struct {
		Results []wireResult `json:"results"`
	}
	if err := col.c.call(ctx, r, &resp); err != nil {
		return nil, err
	}
	if len(resp.Results) != len(records) {
		return nil, fmt.Errorf("chronos: batch answered %d results for %d records", len(resp.Results), len(records))
	}
	out := make([]BatchResult, len(resp.Results))
	for i, wr := range resp.Results {
		br := BatchResult{ID: wr.ID, Seq: wr.Seq, Status: wr.Status, Duplicate: wr.Duplicate}
		if wr.OV != nil {
			br.OV = *wr.OV
		}
		if wr.Error != nil {
			br.Err = errorFromFields(wr.Status, wr.Error, wr.ID)
		}
		out[i] = br
	}
	return out, nil
}

// encodeBatch renders records as the JSON array the API takes. Documents
// are copied as they are (encodeDoc checked them), not re-compacted: the
// server reads whitespace as well.
func encodeBatch(records []Record) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, rec := range records {
		data, err := encodeDoc(rec.Data)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		if i == 0 {
			buf.Grow(len(records) * (len(data) + 64))
		} else {
			buf.WriteByte(',')
		}
		buf.WriteByte('{')
		if rec.ID != "" {
			// A valid token needs no escaping.
			if err := events.ValidateToken("id", rec.ID); err != nil {
				return nil, fmt.Errorf("record %d: %w", i, err)
			}
			buf.WriteString(`"id":"`)
			buf.WriteString(rec.ID)
			buf.WriteString(`",`)
		}
		buf.WriteString(`"data":`)
		buf.Write(data)
		if rec.ExpectedOV != nil {
			buf.WriteString(`,"expectedOv":`)
			buf.WriteString(strconv.FormatUint(*rec.ExpectedOV, 10))
		}
		buf.WriteByte('}')
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}
