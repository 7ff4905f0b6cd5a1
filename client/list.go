package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
)

// Query selects items of a collection by their indexed props and
// `_system` fields (listByMeta), for List and ListAll.
type Query struct {
	// Filter holds conditions, all of which an item meets: a field and a
	// value (equality), or a field and operators, e.g.
	// {"status": "paid", "total": map[string]any{"$gte": 10}}. Fields are
	// "_id", the collection's filterable props and "_system.<key>";
	// operators $eq $ne $gt $gte $lt $lte $in $nin $exists. The server
	// rejects anything else with an *APIError (400) whose Field names it.
	Filter map[string]any
	// Sort orders the items, ties broken by "_id"; default by "_id".
	Sort []SortKey
	// Limit is the page size; 0 is the server's default (50), at most
	// 1000.
	Limit int
	// Cursor continues after the page that returned it (Page.Cursor), with
	// the same Filter, Sort and IncludeDeleted; "" starts at the first.
	Cursor string
	// Count asks for the number of matching items (Page.Total); it costs
	// a second query. ListAll ignores it.
	Count bool
}

// SortKey is one key of a sort: a field, ascending unless Desc.
type SortKey struct {
	Field string
	Desc  bool
}

// Page is one page of a list.
type Page struct {
	Items []*Item
	// Cursor continues after this page (Query.Cursor); "" when no item
	// follows.
	Cursor string
	// Total is the number of matching items, when Query.Count asked.
	Total *int64
}

// List returns one page of the items that match q, with their documents
// (POST {collection}/query). Options: Fields, Projection, IncludeHidden,
// IncludeDeleted, MinSeq, AfterWrite. An item whose sort values do not
// change while a caller pages is returned exactly once.
func (col *Collection) List(ctx context.Context, q Query, opts ...ReadOption) (*Page, error) {
	if col.err != nil {
		return nil, col.err
	}
	o := applyRead(opts)
	body, err := q.body(o)
	if err != nil {
		return nil, err
	}
	var res struct {
		Items  []json.RawMessage `json:"items"`
		Cursor *string           `json:"cursor"`
		Total  *int64            `json:"total"`
	}
	r := request{method: http.MethodPost, path: col.path + "/query", header: o.header(), body: body, read: true}
	if err := col.c.call(ctx, r, &res); err != nil {
		return nil, err
	}
	p := &Page{Total: res.Total}
	if res.Cursor != nil {
		p.Cursor = *res.Cursor
	}
	if p.Items, err = splitItems(res.Items); err != nil {
		return nil, err
	}
	return p, nil
}

// ListAll returns every item that matches q, page after page (q.Limit
// items a request), starting at q.Cursor. It stops at the first error,
// which it yields with a nil item.
func (col *Collection) ListAll(ctx context.Context, q Query, opts ...ReadOption) iter.Seq2[*Item, error] {
	return func(yield func(*Item, error) bool) {
		q.Count = false
		for {
			p, err := col.List(ctx, q, opts...)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, it := range p.Items {
				if !yield(it, nil) {
					return
				}
			}
			if p.Cursor == "" || len(p.Items) == 0 {
				return
			}
			q.Cursor = p.Cursor
		}
	}
}

// body encodes the request body of q with the shape options of o. Sort
// keeps its order, which a Go map would not.
func (q Query) body(o readOptions) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	member := func(key string, v any) error {
		enc, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("%w: query %s: %v", ErrInvalidOption, key, err)
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		writeKey(&b, key)
		b.Write(enc)
		return nil
	}
	var err error
	if len(q.Filter) > 0 {
		err = member("filter", q.Filter)
	}
	if len(q.Sort) > 0 && err == nil {
		var s bytes.Buffer
		s.WriteByte('{')
		for i, k := range q.Sort {
			if i > 0 {
				s.WriteByte(',')
			}
			writeKey(&s, k.Field)
			if k.Desc {
				s.WriteString("-1")
			} else {
				s.WriteString("1")
			}
		}
		s.WriteByte('}')
		err = member("sort", json.RawMessage(s.Bytes()))
	}
	if q.Limit != 0 && err == nil {
		err = member("limit", q.Limit)
	}
	if q.Cursor != "" && err == nil {
		err = member("cursor", q.Cursor)
	}
	if o.fields != nil && err == nil {
		err = member("fields", o.fields)
	}
	if o.projection != "" && err == nil {
		err = member("projection", o.projection)
	}
	if o.includeHidden && err == nil {
		err = member("includeHidden", true)
	}
	if o.includeDeleted && err == nil {
		err = member("includeDeleted", true)
	}
	if q.Count && err == nil {
		err = member("count", true)
	}
	if err != nil {
		return nil, err
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// splitItems decodes the items of a page.
func splitItems(raw []json.RawMessage) ([]*Item, error) {
	items := make([]*Item, len(raw))
	for i, r := range raw {
		it, err := splitItem(r)
		if err != nil {
			return nil, err
		}
		items[i] = it
	}
	return items, nil
}
