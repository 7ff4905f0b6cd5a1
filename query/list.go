package query

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// Bounds of a list request.
const (
	// maxClauses bounds the conditions of a filter.
	maxClauses = 64
	// maxSetSize bounds the values of $in and $nin.
	maxSetSize = 1000
	// maxSortKeys bounds the keys of a sort.
	maxSortKeys = 8
	// fetchParallelism bounds the payload fetches of one page.
	fetchParallelism = 8
)

// ListResult is a page of a list.
type ListResult struct {
	Items []*Item
	// Cursor continues after this page; "" when no item follows.
	Cursor string
	// Total is the number of matching items, when the request asked.
	Total *int64
}

// List returns a page of the items of c that match req (listByMeta). The
// read model answers with one query per page (plus one count when
// req.Count); items whose payload it does not hold inline are then
// completed one by one, from the blob store or the log, a few at a time,
// as a single read would be.
//
// An item whose sort values and deletion do not change while a client
// pages is returned exactly once (see projection.ListQuery).
func (s *Service) List(ctx context.Context, c events.Collection, req ListRequest) (*ListResult, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	q, sh, hash, err := listQuery(req, s.collectionMap(c))
	if err != nil {
		return nil, err
	}
	page, err := s.store.List(ctx, c, q)
	if err != nil {
		return nil, err
	}
	items, err := s.complete(ctx, c, page.Items, sh)
	if err != nil {
		return nil, err
	}
	res := &ListResult{Items: items, Total: page.Total}
	if page.Next != nil {
		res.Cursor = encodeCursor(hash, page.Next)
	}
	return res, nil
}

// complete fetches the payloads the docs lack, at most fetchParallelism at
// once, and shapes every item.
func (s *Service) complete(ctx context.Context, c events.Collection, docs []projection.Doc, sh *shaper) ([]*Item, error) {
	items := make([]*Item, len(docs))
	errs := make([]error, len(docs))
	sem := make(chan struct{}, fetchParallelism)
	done := make(chan struct{})
	pending := 0
	for i := range docs {
		if docs[i].Data != nil {
			items[i] = &Item{ID: docs[i].ID, Data: docs[i].Data, System: docs[i].System}
			continue
		}
		pending++
		go func() {
			defer func() { done <- struct{}{} }()
			sem <- struct{}{}
			defer func() { <-sem }()
			items[i], errs[i] = s.withPayload(ctx, c.Item(docs[i].ID), &docs[i])
		}()
	}
	for ; pending > 0; pending-- {
		<-done
	}
	for i, it := range items {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if err := sh.apply(it); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// listQuery checks req against the collection map and returns the store
// query, the shaper of its items and the hash that ties cursors to it.
func listQuery(req ListRequest, m CollectionMap) (projection.ListQuery, *shaper, string, error) {
	var q projection.ListQuery
	sh, err := req.Shape.resolve(m)
	if err != nil {
		return q, nil, "", err
	}
	if len(req.Filter) > maxClauses {
		return q, nil, "", invalid("filter", "has %d conditions; at most %d", len(req.Filter), maxClauses)
	}
	for _, c := range req.Filter {
		kind, err := checkField("filter."+c.Field, c.Field, m, req.IncludeHidden)
		if err != nil {
			return q, nil, "", err
		}
		v, err := checkValue("filter."+c.Field+"."+c.Op, kind, c.Op, c.Value)
		if err != nil {
			return q, nil, "", err
		}
		q.Filter = append(q.Filter, projection.Clause{Field: c.Field, Op: c.Op, Value: v})
	}
	if len(req.Sort) > maxSortKeys {
		return q, nil, "", invalid("sort", "has %d keys; at most %d", len(req.Sort), maxSortKeys)
	}
	for i, k := range req.Sort {
		path := "sort." + k.Field
		kind, err := checkField(path, k.Field, m, req.IncludeHidden)
		switch {
		case err != nil:
			return q, nil, "", err
		case kind == projection.KindStrings:
			return q, nil, "", invalid(path, "holds an array and cannot be sorted on")
		case k.Field == "_id" && i != len(req.Sort)-1:
			return q, nil, "", invalid(path, `"_id" breaks ties: it can only be the last sort key`)
		case slices.ContainsFunc(req.Sort[:i], func(o projection.SortKey) bool { return o.Field == k.Field }):
			return q, nil, "", invalid(path, "the key is repeated")
		}
	}
	q.Sort = slices.Clone(req.Sort)
	switch {
	case req.Limit < 0 || req.Limit > projection.MaxListLimit:
		return q, nil, "", invalid("limit", "must be between 1 and %d, got %d", projection.MaxListLimit, req.Limit)
	case req.Limit == 0:
		q.Limit = projection.DefaultListLimit
	default:
		q.Limit = req.Limit
	}
	q.IncludeDeleted, q.Count = req.IncludeDeleted, req.Count
	q.Fields = sh.storeFields()
	hash := queryHash(q)
	if req.Cursor != "" {
		if q.After, err = decodeCursor(req.Cursor, hash, q.Sort); err != nil {
			return q, nil, "", err
		}
	}
	return q, sh, hash, nil
}

// kindID is the kind of "_id": a string, filtered like a KindString.
const kindID = projection.KindString

// checkField returns the kind of a filter or sort field (0 for a user
// prop), or an *InputError at path when the field may not be used.
func checkField(path, field string, m CollectionMap, includeHidden bool) (projection.FieldKind, error) {
	switch {
	case strings.HasPrefix(field, "$"):
		return 0, topLevelOperator(path, field)
	case field == "_id":
		return kindID, nil
	case strings.HasPrefix(field, "_system"):
		if kind, ok := projection.SystemField(field); ok {
			return kind, nil
		}
		return 0, invalid(path, "%q is not a _system field a query can use; they are %s", field, strings.Join(projection.SystemFields(), ", "))
	case strings.Contains(field, "."):
		return 0, invalid(path, "%q is a nested path; queries use top-level props and _system fields only", field)
	}
	if err := checkProp(path, field); err != nil {
		return 0, err
	}
	if len(m.IndexedProps) > 0 && !slices.Contains(m.IndexedProps, field) {
		return 0, invalid(path, "%q is not filterable: this collection's indexedProps are [%s] (and _id and _system fields)",
			field, strings.Join(m.IndexedProps, ", "))
	}
	if !includeHidden && slices.Contains(m.HiddenFields, field) {
		return 0, invalid(path, "%q is a hidden field: filtering or sorting on it needs includeHidden", field)
	}
	return 0, nil
}

// checkValue checks the operand of op on a field of kind and returns it
// compacted.
func checkValue(path string, kind projection.FieldKind, op string, v json.RawMessage) (json.RawMessage, error) {
	v = compact(v)
	switch op {
	case projection.OpExists:
		if s := string(v); s != "true" && s != "false" {
			return nil, invalid(path, "needs true or false, got %.40s", v)
		}
	case projection.OpIn, projection.OpNin:
		var elems []json.RawMessage
		if firstByte(v) != '[' || json.Unmarshal(v, &elems) != nil {
			return nil, invalid(path, "needs an array of values, got %.40s", v)
		}
		if len(elems) > maxSetSize {
			return nil, invalid(path, "has %d values; at most %d", len(elems), maxSetSize)
		}
		for i, e := range elems {
			if err := checkScalar(fmt.Sprintf("%s[%d]", path, i), kind, e, true); err != nil {
				return nil, err
			}
		}
	case projection.OpEq, projection.OpNe:
		return v, checkScalar(path, kind, v, true)
	case projection.OpGt, projection.OpGte, projection.OpLt, projection.OpLte:
		return v, checkScalar(path, kind, v, false)
	default:
		return nil, invalid(path, "operator %q is not supported; use one of %s", op, strings.Join(projection.Operators, " "))
	}
	return v, nil
}

// checkScalar checks one value: a string, number, boolean or (with
// null) null, of the field's kind.
func checkScalar(path string, kind projection.FieldKind, raw json.RawMessage, null bool) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return invalid(path, "is not a JSON value")
	}
	if v == nil {
		if !null {
			return invalid(path, "cannot compare with null; use {\"$eq\": null} or {\"$exists\": false}")
		}
		return nil
	}
	want := map[projection.FieldKind]string{
		projection.KindInt: "a number", projection.KindTime: "an RFC 3339 time such as \"2026-01-02T15:04:05Z\"",
		projection.KindBool: "true or false", projection.KindString: "a string", projection.KindStrings: "a string",
	}[kind]
	switch t := v.(type) {
	case json.Number:
		if f, err := t.Float64(); err != nil || math.IsInf(f, 0) {
			return invalid(path, "the number %.40s is out of range", t)
		}
		if kind == 0 || kind == projection.KindInt {
			return nil
		}
	case string:
		if kind == projection.KindTime {
			if _, err := time.Parse(time.RFC3339Nano, t); err != nil {
				return invalid(path, "needs %s, got %s", want, strconv.Quote(t))
			}
			return nil
		}
		if kind == 0 || kind == projection.KindString || kind == projection.KindStrings {
			return nil
		}
	case bool:
		if kind == 0 || kind == projection.KindBool {
			return nil
		}
	default:
		return invalid(path, "needs a string, number, boolean or null: objects and arrays are not compared")
	}
	return invalid(path, "needs %s, got %.40s", want, raw)
}
