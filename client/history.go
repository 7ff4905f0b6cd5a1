package client

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/chronos-go/chronos/events"
)

// HistoryQuery selects a page of an item's versions.
type HistoryQuery struct {
	// After continues after that ov (HistoryPage.Next); nil starts at the
	// first version (the last one with Desc).
	After *uint64
	// Limit is the page size; 0 is the server's default (20), at most 100.
	Limit int
	// Desc returns the newest version first.
	Desc bool
}

// HistoryPage is a page of an item's versions.
type HistoryPage struct {
	// Items are versions with their documents, deleted ones included.
	Items []*Item
	// Next is the After of the next page; nil when no version follows.
	Next *uint64
}

// History returns a page of an item's versions, each with its document
// (GET {collection}/items/{id}/versions). An item that never existed is
// ErrNotFound. Options: Fields, Projection, IncludeHidden, MinSeq,
// AfterWrite.
func (col *Collection) History(ctx context.Context, id string, q HistoryQuery, opts ...ReadOption) (*HistoryPage, error) {
	if col.err != nil {
		return nil, col.err
	}
	if err := events.ValidateToken("id", id); err != nil {
		return nil, err
	}
	o := applyRead(opts)
	v := url.Values{}
	if q.After != nil {
		v.Set("after", strconv.FormatUint(*q.After, 10))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Desc {
		v.Set("order", "desc")
	}
	o.query(v)
	var res struct {
		Items []json.RawMessage `json:"items"`
		Next  *string           `json:"next"`
	}
	r := request{method: http.MethodGet, path: col.item(id) + "/versions", query: v, header: o.header(), id: id}
	if err := col.c.call(ctx, r, &res); err != nil {
		return nil, err
	}
	p := &HistoryPage{}
	if res.Next != nil {
		n, err := strconv.ParseUint(*res.Next, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("chronos: history of %s: undecodable next %q", id, *res.Next)
		}
		p.Next = &n
	}
	var err error
	if p.Items, err = splitItems(res.Items); err != nil {
		return nil, err
	}
	return p, nil
}

// AllVersions returns every version of an item from q.After on, page
// after page (q.Limit versions a request). It stops at the first error,
// which it yields with a nil item.
func (col *Collection) AllVersions(ctx context.Context, id string, q HistoryQuery, opts ...ReadOption) iter.Seq2[*Item, error] {
	return func(yield func(*Item, error) bool) {
		for {
			p, err := col.History(ctx, id, q, opts...)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, it := range p.Items {
				if !yield(it, nil) {
					return
				}
			}
			if p.Next == nil || len(p.Items) == 0 {
				return
			}
			q.After = p.Next
		}
	}
}

// Counters are the write totals of a collection, each event counted once.
type Counters struct {
	// Created counts creates; Updated updates, enrichments and restores;
	// Deleted deletes and erasures.
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
	Deleted int64 `json:"deleted"`
	// LastAt is the time of the last event counted; nil before any.
	LastAt *time.Time `json:"lastAt"`
	// LastSeq is the partition sequence of the last event counted.
	LastSeq uint64 `json:"lastSeq"`
}

// Counters returns the write totals of the collection (zeros before
// anything of it was projected). Options: MinSeq, AfterWrite; the shape
// options fail with ErrInvalidOption.
func (col *Collection) Counters(ctx context.Context, opts ...ReadOption) (*Counters, error) {
	if col.err != nil {
		return nil, col.err
	}
	o := applyRead(opts)
	if o.fields != nil || o.projection != "" || o.includeHidden || o.includeDeleted {
		return nil, fmt.Errorf("%w: Counters takes MinSeq and AfterWrite only", ErrInvalidOption)
	}
	var n Counters
	if err := col.c.call(ctx, request{method: http.MethodGet, path: col.path + "/counters", header: o.header()}, &n); err != nil {
		return nil, err
	}
	return &n, nil
}
