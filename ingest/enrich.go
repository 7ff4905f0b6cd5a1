package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/httpapi"
	clog "github.com/chronos-go/chronos/log"
)

// ErrGone: the version to restore was erased; its content no longer exists.
var ErrGone = httpapi.Sentinel("chronos: content erased", http.StatusGone, "erased")

// ErrUnsupported: the operation is not possible on this item yet.
var ErrUnsupported = httpapi.Sentinel("chronos: not supported", http.StatusNotImplemented, "not_supported")

// MaxPatches bounds the patches of one enrich call.
const MaxPatches = 1000

// Enrich deep-merges patches, in order, into the item's current document
// (objects merged, arrays unioned: events.DeepMerge) and appends the result
// as one new version. functionID, when given, is appended to the item's
// functionIds. Without an expected ov a lost race is retried on the new
// document (the merge is recomputed); with one it is a ConflictError.
func (s *Service) Enrich(ctx context.Context, ref events.ItemRef, patches [][]byte, functionID string, w Write) (Result, error) {
	if len(patches) == 0 {
		return Result{}, httpapi.Invalid("patch", "an enrich needs at least one patch")
	}
	if len(patches) > MaxPatches {
		return Result{}, httpapi.Invalid("patch", fmt.Sprintf("%d patches in one call; the limit is %d", len(patches), MaxPatches))
	}
	for i, p := range patches {
		if err := events.ValidatePayload(fmt.Sprintf("patch[%d]", i), p, s.opts.MaxPayload); err != nil {
			return Result{}, err
		}
	}
	if len(functionID) > 256 {
		return Result{}, httpapi.Invalid(HeaderFunctionID, "is longer than 256 bytes")
	}
	return s.write(ctx, ref, w, false, func(last *events.Event) (*events.Event, error) {
		doc, err := s.document(ctx, ref.Collection, last)
		if err != nil {
			return nil, err
		}
		for _, p := range patches {
			var err error
			if doc, err = events.DeepMerge(doc, p); err != nil {
				return nil, err
			}
		}
		if err := events.ValidatePayload("document", doc, s.opts.MaxPayload); err != nil {
			return nil, err
		}
		meta, err := s.applyMap(ref.Collection, "document", doc)
		if err != nil {
			return nil, err
		}
		ev := s.next(last, events.OpEnrich, w)
		ev.Meta = meta
		if err := s.setPayload(ctx, ref.Collection, ev, doc); err != nil {
			return nil, err
		}
		ev.FunctionID = functionID
		if functionID != "" && !slices.Contains(ev.FunctionIDs, functionID) {
			ev.FunctionIDs = append(slices.Clone(ev.FunctionIDs), functionID)
		}
		return ev, nil
	})
}

// RestoreTarget names the version to bring back: by ov, or the version in
// force at a time. Exactly one is set.
type RestoreTarget struct {
	OV *uint64    `json:"ov,omitempty"`
	At *time.Time `json:"at,omitempty"`
}

// Validate checks that exactly one of OV and At is set.
func (t RestoreTarget) Validate() error {
	if (t.OV == nil) == (t.At == nil) {
		return httpapi.Invalid("restore", `give exactly one of "ov" or "at"`)
	}
	return nil
}

// Restore appends a new version carrying the document of an earlier one
// (op restore, _system.restoredFrom = its ov). A deleted item is undeleted.
func (s *Service) Restore(ctx context.Context, ref events.ItemRef, t RestoreTarget, w Write) (Result, error) {
	if err := t.Validate(); err != nil {
		return Result{}, err
	}
	if err := ref.Validate(); err != nil {
		return Result{}, err
	}
	src, err := s.findVersion(ctx, ref, t)
	if err != nil {
		return Result{}, err
	}
	if src.Event.Op == events.OpErase {
		return Result{}, fmt.Errorf("%w: %s v%d", ErrGone, ref.ID, src.Event.OV)
	}
	return s.write(ctx, ref, w, true, func(last *events.Event) (*events.Event, error) {
		ev := s.next(last, events.OpRestore, w)
		ev.Payload, ev.PayloadRef, ev.Meta = src.Event.Payload, src.Event.PayloadRef, src.Event.Meta
		from := src.Event.OV
		ev.RestoredFrom = &from
		return ev, nil
	})
}

// findVersion returns the event of version t of ref from the log.
func (s *Service) findVersion(ctx context.Context, ref events.ItemRef, t RestoreTarget) (*clog.Record, error) {
	var rec *clog.Record
	var err error
	if t.OV != nil {
		ov := *t.OV
		rec, err = s.log.FindVersion(ctx, ref, func(e *events.Event) bool { return e.OV == ov }, func(e *events.Event) bool { return e.OV > ov })
	} else {
		rec, err = s.versionAt(ctx, ref, *t.At)
	}
	if errors.Is(err, clog.ErrNotFound) {
		what := "at that time"
		if t.OV != nil {
			what = fmt.Sprintf("version %d", *t.OV)
		}
		return nil, fmt.Errorf("%w: %s has no %s", ErrNotFound, ref.ID, what)
	}
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// versionAt walks ref's events to the last one at or before at.
func (s *Service) versionAt(ctx context.Context, ref events.ItemRef, at time.Time) (*clog.Record, error) {
	var prev *clog.Record
	for seq := uint64(1); ; {
		r, err := s.log.NextOfItem(ctx, ref, seq)
		if errors.Is(err, clog.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		if r.Event.At.After(at) {
			break
		}
		prev, seq = r, r.Seq+1
	}
	if prev == nil {
		return nil, clog.ErrNotFound
	}
	return prev, nil
}

// decodePatches reads an enrich body: one patch object or an array of them.
func decodePatches(body []byte) ([][]byte, error) {
	trimmed := trimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return [][]byte{body}, nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		return nil, httpapi.Invalid("patch", "an array of patches must be valid JSON: "+err.Error())
	}
	out := make([][]byte, len(raw))
	for i, r := range raw {
		out[i] = r
	}
	return out, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}
