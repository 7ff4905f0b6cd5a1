package projection

import (
	"context"
	"errors"
	"time"

	"github.com/chronos-go/chronos/events"
)

// Routed is a Store over several stores, one per database deployment:
// each collection lives in the store its route names. Apply splits a batch
// by store, keeping stream order within each; reads go to one store.
// Idempotency holds per store, hence for the whole.
type Routed struct {
	route  func(events.Collection) (Store, error)
	stores []Store
}

var _ Store = (*Routed)(nil)

// NewRouted returns a Store sending collection c to route(c). stores are
// every store route may return; Close closes them.
func NewRouted(route func(events.Collection) (Store, error), stores []Store) *Routed {
	return &Routed{route: route, stores: stores}
}

// Apply applies each store's share of the batch, in stream order.
func (r *Routed) Apply(ctx context.Context, batch []Change) error {
	var order []Store
	parts := map[Store][]Change{}
	for _, ch := range batch {
		s, err := r.route(ch.Ref.Collection)
		if err != nil {
			return err
		}
		if _, ok := parts[s]; !ok {
			order = append(order, s)
		}
		parts[s] = append(parts[s], ch)
	}
	for _, s := range order {
		if err := s.Apply(ctx, parts[s]); err != nil {
			return err
		}
	}
	return nil
}

// Head reads from the item's store.
func (r *Routed) Head(ctx context.Context, ref events.ItemRef) (*Doc, error) {
	s, err := r.route(ref.Collection)
	if err != nil {
		return nil, err
	}
	return s.Head(ctx, ref)
}

// Version reads from the item's store.
func (r *Routed) Version(ctx context.Context, ref events.ItemRef, ov uint64) (*Doc, error) {
	s, err := r.route(ref.Collection)
	if err != nil {
		return nil, err
	}
	return s.Version(ctx, ref, ov)
}

// AsOf reads from the item's store.
func (r *Routed) AsOf(ctx context.Context, ref events.ItemRef, at time.Time) (*Doc, error) {
	s, err := r.route(ref.Collection)
	if err != nil {
		return nil, err
	}
	return s.AsOf(ctx, ref, at)
}

// History reads from the item's store.
func (r *Routed) History(ctx context.Context, ref events.ItemRef, q HistoryQuery) ([]Doc, error) {
	s, err := r.route(ref.Collection)
	if err != nil {
		return nil, err
	}
	return s.History(ctx, ref, q)
}

// List reads from the collection's store.
func (r *Routed) List(ctx context.Context, c events.Collection, q ListQuery) (*ListPage, error) {
	s, err := r.route(c)
	if err != nil {
		return nil, err
	}
	return s.List(ctx, c, q)
}

// Counters reads from the collection's store.
func (r *Routed) Counters(ctx context.Context, c events.Collection) (*Counters, error) {
	s, err := r.route(c)
	if err != nil {
		return nil, err
	}
	return s.Counters(ctx, c)
}

// CounterBuckets reads from the collection's store.
func (r *Routed) CounterBuckets(ctx context.Context, c events.Collection, p Period, from, to time.Time) ([]CounterBucket, error) {
	s, err := r.route(c)
	if err != nil {
		return nil, err
	}
	return s.CounterBuckets(ctx, c, p, from, to)
}

// PruneCounterBuckets prunes in the collection's store.
func (r *Routed) PruneCounterBuckets(ctx context.Context, c events.Collection, p Period, before time.Time) (int, error) {
	s, err := r.route(c)
	if err != nil {
		return 0, err
	}
	return s.PruneCounterBuckets(ctx, c, p, before)
}

// Close closes every store.
func (r *Routed) Close(ctx context.Context) error {
	var errs []error
	for _, s := range r.stores {
		errs = append(errs, s.Close(ctx))
	}
	return errors.Join(errs...)
}

var _ VersionPruner = (*Routed)(nil)

// ExpiredVersions asks the collection's store; a store that cannot prune
// has nothing expired.
func (r *Routed) ExpiredVersions(ctx context.Context, c events.Collection, ret VerRetention, now time.Time) ([]VersionKey, error) {
	s, err := r.route(c)
	if err != nil {
		return nil, err
	}
	if p, ok := s.(VersionPruner); ok {
		return p.ExpiredVersions(ctx, c, ret, now)
	}
	return nil, nil
}

// DeleteVersions deletes from the collection's store.
func (r *Routed) DeleteVersions(ctx context.Context, c events.Collection, keys []VersionKey) error {
	s, err := r.route(c)
	if err != nil {
		return err
	}
	if p, ok := s.(VersionPruner); ok {
		return p.DeleteVersions(ctx, c, keys)
	}
	return nil
}
