package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/httpapi"
	clog "github.com/chronos-go/chronos/log"
)

// CollectionTarget names the collection state to return to: a collection
// version (cv, a partition sequence) or a time. Exactly one is set.
type CollectionTarget struct {
	CV *uint64    `json:"cv,omitempty"`
	At *time.Time `json:"at,omitempty"`
}

// RestoreReport counts what a collection restore did.
type RestoreReport struct {
	// Changed is how many items were written after the target.
	Changed int `json:"changed"`
	// Restored items got a restore event back to their state at the target.
	Restored int `json:"restored"`
	// Deleted items did not exist (or were deleted) at the target.
	Deleted int `json:"deleted"`
	// Unchanged items needed nothing (already deleted, as at the target).
	Unchanged int `json:"unchanged"`
	// Failed lists items that could not be written (e.g. written again
	// concurrently); running the restore again finishes them.
	Failed []string `json:"failed,omitempty"`
}

// Progress receives a collection restore's progress: items done of total.
type Progress func(done, total int)

// RestoreCollection returns every item of c changed after the target to
// its state at the target: items created after it are deleted, others get
// a restore event carrying their version in force at the target. Items not
// changed since are untouched. It is idempotent: running it again finds the
// items already at their target state and writes them again only if they
// changed meanwhile. progress may be nil; it is called once per item, never
// concurrently.
func (s *Service) RestoreCollection(ctx context.Context, c events.Collection, t CollectionTarget, w Write, progress Progress) (RestoreReport, error) {
	var rep RestoreReport
	if err := c.Validate(); err != nil {
		return rep, err
	}
	if (t.CV == nil) == (t.At == nil) {
		return rep, httpapi.Invalid("restore", `give exactly one of "cv" or "at"`)
	}
	// 1. Which items changed after the target, in order of first change.
	scan := clog.ScanOptions{}
	if t.CV != nil {
		scan.FromSeq = *t.CV + 1
	} else {
		// Stream time and event time come from different clocks: start a
		// minute early and decide by the event time.
		scan.FromTime = t.At.Add(-time.Minute)
	}
	var ids []string
	seen := map[string]bool{}
	err := s.log.Scan(ctx, c, scan, func(r *clog.Record) error {
		if t.At != nil && !r.Event.At.After(*t.At) {
			return nil
		}
		if !seen[r.Ref.ID] {
			seen[r.Ref.ID] = true
			ids = append(ids, r.Ref.ID)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	rep.Changed = len(ids)
	// 2. Return each to its state at the target, 16 at a time.
	var done atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			outcome, err := s.restoreItemTo(ctx, c.Item(id), t, w)
			mu.Lock()
			switch {
			case err != nil:
				rep.Failed = append(rep.Failed, id)
			case outcome == "restored":
				rep.Restored++
			case outcome == "deleted":
				rep.Deleted++
			default:
				rep.Unchanged++
			}
			// Under the lock: progress sees calls one at a time, in order.
			if progress != nil {
				progress(int(done.Add(1)), len(ids))
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	return rep, nil
}

// restoreItemTo brings one item to its state at t.
func (s *Service) restoreItemTo(ctx context.Context, ref events.ItemRef, t CollectionTarget, w Write) (string, error) {
	var target *clog.Record
	var err error
	if t.CV != nil {
		cv := *t.CV
		var prev *clog.Record
		for seq := uint64(1); seq <= cv; {
			r, nerr := s.log.NextOfItem(ctx, ref, seq)
			if errors.Is(nerr, clog.ErrNotFound) {
				break
			}
			if nerr != nil {
				return "", nerr
			}
			if r.Seq > cv {
				break
			}
			prev, seq = r, r.Seq+1
		}
		target = prev
	} else {
		target, err = s.versionAt(ctx, ref, *t.At)
		if errors.Is(err, clog.ErrNotFound) {
			target, err = nil, nil
		}
		if err != nil {
			return "", err
		}
	}
	last, err := s.log.Last(ctx, ref)
	if err != nil {
		return "", err
	}
	if target == nil || target.Event.Deleted() {
		if last.Event.Deleted() {
			return "unchanged", nil
		}
		dw := w
		dw.ExpectedOV = &last.Event.OV
		_, err := s.Delete(ctx, ref, dw)
		return "deleted", err
	}
	if last.Seq == target.Seq || (!last.Event.Deleted() && sameContent(last.Event, target.Event)) {
		return "unchanged", nil
	}
	ov := target.Event.OV
	rw := w
	rw.ExpectedOV = &last.Event.OV
	_, err = s.Restore(ctx, ref, RestoreTarget{OV: &ov}, rw)
	if err != nil {
		return "", fmt.Errorf("restore %s to v%d: %w", ref.ID, ov, err)
	}
	return "restored", nil
}

// sameContent reports whether two events carry the same document.
func sameContent(a, b *events.Event) bool {
	if a.PayloadRef != nil || b.PayloadRef != nil {
		return a.PayloadRef != nil && b.PayloadRef != nil && a.PayloadRef.SHA256 == b.PayloadRef.SHA256
	}
	return bytes.Equal(a.Payload, b.Payload)
}
