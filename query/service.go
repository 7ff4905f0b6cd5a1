package query

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/httpapi"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/projection"
)

// ErrNotFound: no such item, version, or no version at that time.
var ErrNotFound = httpapi.Sentinel("chronos: not found", http.StatusNotFound, "not_found")

// Options configure a Service.
type Options struct {
	// MaxPayload bounds a decompressed payload; default events.DefaultMaxPayload.
	MaxPayload int64
	// CollectionMaps returns the map of a collection: its indexedProps,
	// hiddenFields and projection presets. Default (nil): no collection
	// has a map.
	CollectionMaps func(events.Collection) CollectionMap
	// Progress follows the projector's published positions, so that reads
	// with minSeq can wait for them. Nil: such reads fail with 501.
	Progress Progress
	// MinSeqWait bounds a minSeq wait; default DefaultMinSeqWait.
	MinSeqWait time.Duration
	// Presign issues URLs for presign=true reads; default: the blob
	// store's own Presign (S3 presigned GET, Azure SAS, local signed URL).
	// Set it only to route presigning elsewhere.
	Presign func(ctx context.Context, c events.Collection, key string, ttl time.Duration) (string, error)
	// Auth, when set, authorizes each tier a tiered read visits (see
	// Tiered). Nil: PrincipalAuth for a request that carries a
	// tenancy.Principal (the HTTP middleware leaves tiered reads to this
	// check), every tier for a trusted in-process caller without one.
	Auth func(ctx context.Context, c events.Collection) error
	// Content resolves the store of a collection's decoded base64
	// content (the route's content bucket), which Content reads first and
	// whose own Presign signs content URLs (Presign above routes payload
	// URLs only). Nil: content is always decoded from the version's
	// payload.
	Content offload.ReadResolver
}

// Service answers reads.
type Service struct {
	store projection.Store
	log   *clog.Log
	blobs offload.ReadResolver
	opts  Options
}

// New returns a read service over store, with blobs and the log as the
// payload sources of versions the store does not hold inline.
func New(store projection.Store, l *clog.Log, blobs offload.ReadResolver, o Options) *Service {
	if o.MaxPayload <= 0 {
		o.MaxPayload = events.DefaultMaxPayload
	}
	if o.MinSeqWait <= 0 {
		o.MinSeqWait = DefaultMinSeqWait
	}
	return &Service{store: store, log: l, blobs: blobs, opts: o}
}

// Item is one version of an item with its payload, shaped as the read
// asked (Shape).
type Item struct {
	ID string
	// Data is the user's document, limited to the fields asked for.
	Data   json.RawMessage
	System projection.System
	// Payload, on presigned reads, is where to fetch the payload; Data is
	// then empty. Rendered as "_payload".
	Payload *PayloadURL
	// systemKeys limits the rendered `_system` block: nil renders it whole,
	// an empty slice leaves it out.
	systemKeys []string
}

// MarshalJSON renders the seed's shape: the user's data with "_id" and
// "_system" added at the root.
func (it *Item) MarshalJSON() ([]byte, error) {
	return it.appendJSON(make([]byte, 0, len(it.Data)+512))
}

// objectInner returns the members of a JSON object without its braces.
func objectInner(obj []byte) []byte {
	obj = bytes.TrimSpace(obj)
	if len(obj) < 2 {
		return nil
	}
	return bytes.TrimSpace(obj[1 : len(obj)-1])
}

// ReadOptions modify a read.
type ReadOptions struct {
	// IncludeDeleted returns a deleted item (its last document, with
	// _system.deleted true) instead of ErrNotFound.
	IncludeDeleted bool
	// Shape selects the parts of the item returned.
	Shape Shape
	// Presign, when positive, returns a URL valid for that long (Payload)
	// instead of the body, for a payload that lives in the blob store. A
	// payload the read model holds inline, or one not offloaded yet, is
	// returned as the body. A presigned object is the whole stored
	// payload, so Presign cannot be combined with fields, a projection
	// preset, or a collection's hidden fields without IncludeHidden (400).
	// base64Props content is part of the payload, body or URL; Content
	// serves one prop's decoded content by itself.
	Presign time.Duration
}

// collectionMap returns c's map, the zero map when there is none.
func (s *Service) collectionMap(c events.Collection) CollectionMap {
	if s.opts.CollectionMaps == nil {
		return CollectionMap{}
	}
	return s.opts.CollectionMaps(c)
}

// Latest returns the current version of an item.
func (s *Service) Latest(ctx context.Context, ref events.ItemRef, o ReadOptions) (*Item, error) {
	sh, err := s.readShaper(ref.Collection, o)
	if err != nil {
		return nil, err
	}
	doc, err := s.store.Head(ctx, ref)
	if err != nil {
		return nil, s.notFound(err, ref, "")
	}
	if doc.System.Deleted && !o.IncludeDeleted {
		return nil, fmt.Errorf("%w: %s was deleted at ov %d (add includeDeleted=true to read it)", ErrNotFound, ref.ID, doc.System.OV)
	}
	return s.shaped(ctx, ref, doc, sh, o.Presign)
}

// Version returns version ov of an item, deleted or not
// (o.IncludeDeleted is not needed).
func (s *Service) Version(ctx context.Context, ref events.ItemRef, ov uint64, o ReadOptions) (*Item, error) {
	sh, err := s.readShaper(ref.Collection, o)
	if err != nil {
		return nil, err
	}
	doc, err := s.store.Version(ctx, ref, ov)
	if err != nil {
		return nil, s.notFound(err, ref, fmt.Sprintf(" version %d", ov))
	}
	return s.shaped(ctx, ref, doc, sh, o.Presign)
}

// AsOf returns the version of an item in force at time at.
func (s *Service) AsOf(ctx context.Context, ref events.ItemRef, at time.Time, o ReadOptions) (*Item, error) {
	sh, err := s.readShaper(ref.Collection, o)
	if err != nil {
		return nil, err
	}
	doc, err := s.store.AsOf(ctx, ref, at)
	if err != nil {
		return nil, s.notFound(err, ref, " as of "+at.UTC().Format(time.RFC3339Nano))
	}
	if doc.System.Deleted && !o.IncludeDeleted {
		return nil, fmt.Errorf("%w: %s was deleted as of %s (ov %d)", ErrNotFound, ref.ID, at.UTC().Format(time.RFC3339Nano), doc.System.OV)
	}
	return s.shaped(ctx, ref, doc, sh, o.Presign)
}

// shaped completes doc with its payload and shapes it.
func (s *Service) shaped(ctx context.Context, ref events.ItemRef, doc *projection.Doc, sh *shaper, presign time.Duration) (*Item, error) {
	if presign > 0 {
		pu, err := s.presign(ctx, ref, doc, presign)
		if err != nil {
			return nil, err
		}
		if pu != nil {
			it := &Item{ID: doc.ID, Data: json.RawMessage(`{}`), System: doc.System, Payload: pu}
			return it, sh.apply(it)
		}
	}
	it, err := s.withPayload(ctx, ref, doc)
	if err != nil {
		return nil, err
	}
	return it, sh.apply(it)
}

func (s *Service) notFound(err error, ref events.ItemRef, what string) error {
	if errors.Is(err, projection.ErrNotFound) {
		return fmt.Errorf("%w: %s%s", ErrNotFound, ref.ID, what)
	}
	return err
}

// withPayload completes doc with its payload: inline, else the claim-check
// blob, else the version blob, else the log at the version's sequence.
func (s *Service) withPayload(ctx context.Context, ref events.ItemRef, doc *projection.Doc) (*Item, error) {
	it := &Item{ID: doc.ID, Data: doc.Data, System: doc.System}
	if it.Data != nil {
		return it, nil
	}
	if doc.System.Op == events.OpErase {
		it.Data = json.RawMessage(`{}`)
		return it, nil
	}
	r, err := s.blobs(ref.Collection)
	if err != nil {
		return nil, err
	}
	if pr := doc.System.PayloadRef; pr != nil {
		data, err := offload.ReadRef(ctx, r, pr, s.opts.MaxPayload)
		if err != nil {
			return nil, err
		}
		it.Data = data
		return it, nil
	}
	data, err := offload.ReadVersion(ctx, r, ref, doc.System.OV, s.opts.MaxPayload)
	if err == nil {
		it.Data = data
		return it, nil
	}
	if !errors.Is(err, offload.ErrNotFound) {
		return nil, err
	}
	rec, err := s.log.Get(ctx, s.log.Partition(ref.Collection), doc.System.Seq)
	if err != nil {
		return nil, fmt.Errorf("chronos: payload of %s v%d is neither in the blob store nor in the log: %w", ref, doc.System.OV, err)
	}
	if rec.Ref != ref || rec.Event.OV != doc.System.OV {
		return nil, fmt.Errorf("chronos: log seq %d holds %s v%d, not %s v%d", doc.System.Seq, rec.Ref, rec.Event.OV, ref, doc.System.OV)
	}
	it.Data = rec.Event.Payload
	return it, nil
}
