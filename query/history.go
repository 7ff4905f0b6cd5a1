package query

import (
	"context"
	"fmt"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// Page sizes of History.
const (
	// DefaultHistoryLimit is the page size of a history read that names
	// none.
	DefaultHistoryLimit = 20
	// MaxHistoryLimit is the largest history page: every version's payload
	// is fetched (version documents never hold it inline).
	MaxHistoryLimit = 100
)

// HistoryOptions select a page of an item's versions.
type HistoryOptions struct {
	// After continues after that ov (exclusive); nil starts at the first
	// version (the last one with Desc).
	After *uint64
	// Limit is the page size: 0 means DefaultHistoryLimit; at most
	// MaxHistoryLimit.
	Limit int
	// Desc returns the newest version first.
	Desc bool
	// Shape selects the parts of each version returned.
	Shape Shape
}

// HistoryPage is a page of an item's versions, each with its payload.
type HistoryPage struct {
	Items []*Item
	// Next is the After of the next page; nil when no version follows.
	Next *uint64
}

// History returns a page of an item's versions with their payloads,
// deleted versions included. The read model answers with one query; the
// payloads come from the blob store or the log, a few at a time. An item
// that never existed is ErrNotFound.
func (s *Service) History(ctx context.Context, ref events.ItemRef, o HistoryOptions) (*HistoryPage, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	switch {
	case o.Limit < 0 || o.Limit > MaxHistoryLimit:
		return nil, invalid("limit", "must be between 1 and %d, got %d", MaxHistoryLimit, o.Limit)
	case o.Limit == 0:
		o.Limit = DefaultHistoryLimit
	}
	sh, err := o.Shape.resolve(s.collectionMap(ref.Collection))
	if err != nil {
		return nil, err
	}
	docs, err := s.store.History(ctx, ref, projection.HistoryQuery{AfterOV: o.After, Limit: o.Limit + 1, Desc: o.Desc})
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 && o.After == nil {
		return nil, fmt.Errorf("%w: %s has no version", ErrNotFound, ref.ID)
	}
	page := &HistoryPage{}
	if len(docs) > o.Limit {
		docs = docs[:o.Limit]
		ov := docs[len(docs)-1].System.OV
		page.Next = &ov
	}
	if page.Items, err = s.complete(ctx, ref.Collection, docs, sh); err != nil {
		return nil, err
	}
	if page.Items == nil {
		page.Items = []*Item{}
	}
	return page, nil
}

// CountersView is the JSON shape of a collection's counters.
type CountersView struct {
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
	Deleted int64 `json:"deleted"`
	// LastAt is the time of the last event counted; nil before any.
	LastAt *time.Time `json:"lastAt"`
	// LastSeq is the partition sequence of the last event counted: a
	// reader that waits for a sequence (read-your-writes) compares with it.
	LastSeq uint64 `json:"lastSeq"`
}

// Counters returns the write totals of a collection (zeros when nothing
// of it was projected yet): creates, updates (enrichments and restores
// included) and deletes (erasures included), each event counted once.
func (s *Service) Counters(ctx context.Context, c events.Collection) (*CountersView, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	n, err := s.store.Counters(ctx, c)
	if err != nil {
		return nil, err
	}
	v := &CountersView{Created: n.Created, Updated: n.Updated, Deleted: n.Deleted, LastSeq: n.LastSeq}
	if n.LastSeq > 0 {
		at := n.LastAt.UTC()
		v.LastAt = &at
	}
	return v, nil
}
