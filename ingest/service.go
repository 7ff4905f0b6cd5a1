package ingest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/chronos-go/chronos/events"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/tenancy"
)

// Options configure a Service. Zero values take the defaults.
type Options struct {
	// MaxPayload is the largest document accepted, in bytes; default
	// events.DefaultMaxPayload (16 MiB).
	MaxPayload int
	// MaxBatchBytes is the largest batch request body; default 64 MiB.
	MaxBatchBytes int
	// MaxRaceRetries bounds how often a write WITHOUT expectedOv is retried
	// after losing a race; default 5.
	MaxRaceRetries int
	// Now returns the current time; default time.Now. Tests set it.
	Now func() time.Time
	// Blobs, when set, is where documents over ClaimThreshold are uploaded
	// before their event is appended (claim check); without it documents
	// stay inline up to MaxPayload (and the NATS server's max_payload).
	Blobs offload.Resolver
	// ClaimThreshold in bytes; default DefaultClaimThreshold (256 KiB).
	ClaimThreshold int
	// Router, when set, refuses writes to unconfigured scopes (404) and
	// applies the configuration's collection maps: required properties,
	// base64 properties, and indexed properties carried as event meta.
	Router *tenancy.Router
}

// Service validates writes and appends them to the log.
type Service struct {
	log  *clog.Log
	opts Options

	idMu  sync.Mutex
	idGen *ulid.MonotonicEntropy
}

// New returns a write service on l.
func New(l *clog.Log, o Options) *Service {
	if o.MaxPayload <= 0 {
		o.MaxPayload = events.DefaultMaxPayload
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = 64 << 20
	}
	if o.MaxRaceRetries <= 0 {
		o.MaxRaceRetries = 5
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ClaimThreshold <= 0 {
		o.ClaimThreshold = DefaultClaimThreshold
	}
	return &Service{log: l, opts: o, idGen: ulid.Monotonic(rand.Reader, 0)}
}

// Write is what every write carries besides the document.
type Write struct {
	Actor   *events.Actor
	Reason  string
	Lineage *events.Lineage
	// IdempotencyKey becomes the event's Nats-Msg-Id.
	IdempotencyKey string
	// ExpectedOV, when set, must be the item's current ov.
	ExpectedOV *uint64
}

// Result is what a successful write returns.
type Result struct {
	ID  string    `json:"id"`
	OV  uint64    `json:"ov"`
	CV  uint64    `json:"cv"`
	Seq uint64    `json:"seq"`
	At  time.Time `json:"at"`
	// Duplicate reports that the idempotency key matched an earlier write,
	// whose result this is; nothing new was written.
	Duplicate bool `json:"duplicate,omitempty"`
}

// NewID returns a new item id: a ULID (sortable by creation time).
func (s *Service) NewID() string {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	return ulid.MustNew(ulid.Now(), s.idGen).String()
}

// now is the event time: UTC, at millisecond precision, the precision of
// BSON dates, so the log, the read model and every response agree exactly.
func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

// Create appends the create event of a new item. An empty id gets a ULID.
func (s *Service) Create(ctx context.Context, c events.Collection, id string, doc []byte, w Write) (Result, error) {
	if id == "" {
		id = s.NewID()
	}
	ref := c.Item(id)
	if err := ref.Validate(); err != nil {
		return Result{}, err
	}
	if err := events.ValidatePayload("document", doc, s.opts.MaxPayload); err != nil {
		return Result{}, err
	}
	if err := s.checkScope(ctx, c); err != nil {
		return Result{}, err
	}
	meta, err := s.applyMap(c, "document", doc)
	if err != nil {
		return Result{}, err
	}
	w.Lineage = s.resolveLineage(ctx, c, w.Lineage)
	now := s.now()
	ev := &events.Event{Meta: meta,
		V: events.Version, Op: events.OpCreate, OV: 0, At: now, InsertedAt: now,
		Actor: w.Actor, Creator: w.Actor, Reason: w.Reason, Lineage: w.Lineage,
	}
	if err := s.setPayload(ctx, c, ev, doc); err != nil {
		return Result{}, err
	}
	ack, err := s.log.Append(ctx, ref, ev, clog.AppendOptions{ExpectSeq: clog.Expect(0), MsgID: w.IdempotencyKey})
	if errors.Is(err, clog.ErrConflict) {
		return Result{}, fmt.Errorf("%w: %s", ErrExists, id)
	}
	if err != nil {
		return Result{}, err
	}
	return s.result(ctx, ref, ev, ack)
}

// Update replaces the document of a live item.
func (s *Service) Update(ctx context.Context, ref events.ItemRef, doc []byte, w Write) (Result, error) {
	if err := events.ValidatePayload("document", doc, s.opts.MaxPayload); err != nil {
		return Result{}, err
	}
	meta, err := s.applyMap(ref.Collection, "document", doc)
	if err != nil {
		return Result{}, err
	}
	return s.write(ctx, ref, w, false, func(last *events.Event) (*events.Event, error) {
		ev := s.next(last, events.OpUpdate, w)
		ev.Meta = meta
		return ev, s.setPayload(ctx, ref.Collection, ev, doc)
	})
}

// Delete deletes a live item logically: its last document stays readable as
// a version and as of earlier times.
func (s *Service) Delete(ctx context.Context, ref events.ItemRef, w Write) (Result, error) {
	return s.write(ctx, ref, w, false, func(last *events.Event) (*events.Event, error) {
		ev := s.next(last, events.OpDelete, w)
		ev.Payload, ev.PayloadRef, ev.Meta = last.Payload, last.PayloadRef, last.Meta
		return ev, nil
	})
}

// next builds the event after last, carrying forward what outlives a write.
func (s *Service) next(last *events.Event, op events.Op, w Write) *events.Event {
	// An item's event times strictly increase, so every version has its own
	// instant and "as of a version's time" is that version. Under a burst
	// of writes to one item within a millisecond (or a clock step back),
	// times run up to a few milliseconds ahead of the wall clock.
	at := s.now()
	if !at.After(last.At) {
		at = last.At.Add(time.Millisecond)
	}
	lineage := last.Lineage
	if w.Lineage != nil {
		lineage = w.Lineage
	}
	return &events.Event{
		V: events.Version, Op: op, OV: last.OV + 1, At: at,
		Actor: w.Actor, Reason: w.Reason, Lineage: lineage,
		InsertedAt: last.InsertedAt, Creator: last.Creator, FunctionIDs: last.FunctionIDs,
	}
}

// write reads the item's last event, builds the next one with build, and
// appends it expecting that last event. Without an expected ov a lost race
// is retried (the new event is rebuilt on the new last event). Only a
// restore (allowDeleted) may write after a delete.
func (s *Service) write(ctx context.Context, ref events.ItemRef, w Write, allowDeleted bool, build func(last *events.Event) (*events.Event, error)) (Result, error) {
	if err := ref.Validate(); err != nil {
		return Result{}, err
	}
	if err := s.checkScope(ctx, ref.Collection); err != nil {
		return Result{}, err
	}
	for attempt := 0; ; attempt++ {
		last, err := s.log.Last(ctx, ref)
		if errors.Is(err, clog.ErrNotFound) {
			return Result{}, fmt.Errorf("%w: %s", ErrNotFound, ref.ID)
		}
		if err != nil {
			return Result{}, err
		}
		if last.HasKey(w.IdempotencyKey) {
			// A retry of a write that already landed: answer with it.
			return Result{ID: ref.ID, OV: last.Event.OV, CV: last.Seq, Seq: last.Seq, At: last.Event.At, Duplicate: true}, nil
		}
		if w.ExpectedOV != nil && *w.ExpectedOV != last.Event.OV {
			return Result{}, &ConflictError{ID: ref.ID, ExpectedOV: *w.ExpectedOV, CurrentOV: last.Event.OV, Deleted: last.Event.Deleted()}
		}
		if last.Event.Deleted() && !allowDeleted {
			return Result{}, fmt.Errorf("%w: %s is deleted (ov %d)", ErrNotFound, ref.ID, last.Event.OV)
		}
		ev, err := build(last.Event)
		if err != nil {
			return Result{}, err
		}
		ack, err := s.log.Append(ctx, ref, ev, clog.AppendOptions{ExpectSeq: clog.Expect(last.Seq), MsgID: w.IdempotencyKey})
		if err == nil {
			return s.result(ctx, ref, ev, ack)
		}
		if !errors.Is(err, clog.ErrConflict) {
			return Result{}, err
		}
		if w.ExpectedOV != nil {
			cur := last.Event.OV + 1
			if again, lerr := s.log.Last(ctx, ref); lerr == nil {
				cur = again.Event.OV
			}
			return Result{}, &ConflictError{ID: ref.ID, ExpectedOV: *w.ExpectedOV, CurrentOV: cur}
		}
		if attempt+1 >= s.opts.MaxRaceRetries {
			return Result{}, fmt.Errorf("%w: %s lost %d races in a row", ErrBusy, ref.ID, attempt+1)
		}
	}
}

// result turns an ack into a Result; a duplicate ack is answered with the
// stored event, not the one just built.
func (s *Service) result(ctx context.Context, ref events.ItemRef, ev *events.Event, ack clog.Ack) (Result, error) {
	if ack.Duplicate {
		rec, err := s.log.Get(ctx, ack.Part, ack.Seq)
		if err != nil {
			return Result{}, err
		}
		return Result{ID: ref.ID, OV: rec.Event.OV, CV: rec.Seq, Seq: rec.Seq, At: rec.Event.At, Duplicate: true}, nil
	}
	return Result{ID: ref.ID, OV: ev.OV, CV: ack.Seq, Seq: ack.Seq, At: ev.At}, nil
}

// resolveLineage makes a record whose parent has an origin inherit that
// origin (the root of the chain), when no origin was given explicitly. The
// parent is looked up in the same scope; a parent that cannot be read
// leaves the parent itself as the origin.
func (s *Service) resolveLineage(ctx context.Context, c events.Collection, l *events.Lineage) *events.Lineage {
	if l == nil || l.ParentID == "" || l.OriginID != l.ParentID || l.OriginCollection != l.ParentCollection {
		return l
	}
	pc := c
	pc.Name = l.ParentCollection
	ref := pc.Item(l.ParentID)
	if ref.Validate() != nil {
		return l
	}
	last, err := s.log.Last(ctx, ref)
	if err != nil || last.Event.Lineage == nil || last.Event.Lineage.OriginID == "" {
		return l
	}
	out := *l
	out.OriginID, out.OriginCollection = last.Event.Lineage.OriginID, last.Event.Lineage.OriginCollection
	return &out
}
