package projection

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/chronos-go/chronos/events"
)

// SwitchingStore is a Store that forwards every call to the store of the
// generation in force, and can be switched to another generation's store
// while in use: the query service holds one SwitchingStore and starts
// reading the new generation at the next call after a `chronos rebuild
// switch`, without a restart. A call in flight finishes on the store it
// started on.
type SwitchingStore struct {
	mu struct {
		sync.RWMutex
		gen int
		cur Store
	}
}

var _ Store = (*SwitchingStore)(nil)

// NewSwitchingStore returns a SwitchingStore on generation gen's store s.
func NewSwitchingStore(gen int, s Store) *SwitchingStore {
	w := &SwitchingStore{}
	w.mu.gen, w.mu.cur = gen, s
	return w
}

// Swap makes s, the store of generation gen, the one in force and returns
// the previous one (its owner closes it when nothing uses it any more).
func (w *SwitchingStore) Swap(gen int, s Store) (old Store) {
	w.mu.Lock()
	defer w.mu.Unlock()
	old, w.mu.gen, w.mu.cur = w.mu.cur, gen, s
	return old
}

// Current returns the generation in force and its store.
func (w *SwitchingStore) Current() (int, Store) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.mu.gen, w.mu.cur
}

func (w *SwitchingStore) store() Store {
	_, s := w.Current()
	return s
}

// Apply applies to the store in force. The generation runner's projectors
// write to their own generation's store, not through here.
func (w *SwitchingStore) Apply(ctx context.Context, batch []Change) error {
	return w.store().Apply(ctx, batch)
}

// Head reads the store in force.
func (w *SwitchingStore) Head(ctx context.Context, ref events.ItemRef) (*Doc, error) {
	return w.store().Head(ctx, ref)
}

// Version reads the store in force.
func (w *SwitchingStore) Version(ctx context.Context, ref events.ItemRef, ov uint64) (*Doc, error) {
	return w.store().Version(ctx, ref, ov)
}

// AsOf reads the store in force.
func (w *SwitchingStore) AsOf(ctx context.Context, ref events.ItemRef, at time.Time) (*Doc, error) {
	return w.store().AsOf(ctx, ref, at)
}

// History reads the store in force.
func (w *SwitchingStore) History(ctx context.Context, ref events.ItemRef, q HistoryQuery) ([]Doc, error) {
	return w.store().History(ctx, ref, q)
}

// List reads the store in force.
func (w *SwitchingStore) List(ctx context.Context, c events.Collection, q ListQuery) (*ListPage, error) {
	return w.store().List(ctx, c, q)
}

// Counters reads the store in force.
func (w *SwitchingStore) Counters(ctx context.Context, c events.Collection) (*Counters, error) {
	return w.store().Counters(ctx, c)
}

// CounterBuckets reads the store in force.
func (w *SwitchingStore) CounterBuckets(ctx context.Context, c events.Collection, p Period, from, to time.Time) ([]CounterBucket, error) {
	return w.store().CounterBuckets(ctx, c, p, from, to)
}

// PruneCounterBuckets prunes the store in force.
func (w *SwitchingStore) PruneCounterBuckets(ctx context.Context, c events.Collection, p Period, before time.Time) (int, error) {
	return w.store().PruneCounterBuckets(ctx, c, p, before)
}

// Close closes the store in force.
func (w *SwitchingStore) Close(ctx context.Context) error {
	return w.store().Close(ctx)
}

// ErrNoPruning: the store in force does not implement VersionPruner.
var ErrNoPruning = errors.New("chronos: this read model cannot prune versions")

var _ VersionPruner = (*SwitchingStore)(nil)

// ExpiredVersions asks the store in force (see VersionPruner).
func (w *SwitchingStore) ExpiredVersions(ctx context.Context, c events.Collection, r VerRetention, now time.Time) ([]VersionKey, error) {
	p, ok := w.store().(VersionPruner)
	if !ok {
		return nil, ErrNoPruning
	}
	return p.ExpiredVersions(ctx, c, r, now)
}

// DeleteVersions deletes from the store in force (see VersionPruner).
func (w *SwitchingStore) DeleteVersions(ctx context.Context, c events.Collection, keys []VersionKey) error {
	p, ok := w.store().(VersionPruner)
	if !ok {
		return ErrNoPruning
	}
	return p.DeleteVersions(ctx, c, keys)
}
