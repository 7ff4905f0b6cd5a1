package mongostore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// List returns a page of a collection's heads with one find (filter, sort
// and limit+1, to learn whether a page follows), plus a countDocuments
// when q.Count. The semantics are projection.ListQuery's; the filter is
// MongoDB's own query language (see filter.go), and pagination is keyset:
// the cursor's position becomes an $or of "after on key i, equal on the
// keys before it". Indexes: _system.updatedAt, _system.deleted and each
// indexed prop named by Options.IndexedProps (see the package doc).
func (s *Store) List(ctx context.Context, c events.Collection, q projection.ListQuery) (*projection.ListPage, error) {
	head, _, err := s.collections(c)
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	switch {
	case limit < 0 || limit > projection.MaxListLimit:
		return nil, fmt.Errorf("%w: list limit %d is not between 1 and %d", events.ErrInvalid, limit, projection.MaxListLimit)
	case limit == 0:
		limit = projection.DefaultListLimit
	}
	keys, err := orderKeys(q.Sort)
	if err != nil {
		return nil, err
	}
	var conds bson.A
	if !q.IncludeDeleted {
		conds = append(conds, bson.D{{Key: fieldSystem + ".deleted", Value: false}})
	}
	for _, cl := range q.Filter {
		f, err := clauseFilter(cl)
		if err != nil {
			return nil, err
		}
		conds = append(conds, f)
	}
	filter := and(conds)
	page := &projection.ListPage{}
	if q.Count {
		n, err := head.CountDocuments(ctx, filter)
		if err != nil {
			return nil, readErr("count of "+c.String(), err)
		}
		page.Total = &n
	}
	if q.After != nil {
		ks, err := keysetFilter(keys, q.After)
		if err != nil {
			return nil, err
		}
		filter = and(append(slices.Clone(conds), ks))
	}
	opts := options.Find().SetSort(sortDoc(keys)).SetLimit(int64(limit) + 1)
	if q.Fields != nil {
		proj, err := projectionDoc(q.Fields, keys)
		if err != nil {
			return nil, err
		}
		opts.SetProjection(proj)
	}
	cur, err := head.Find(ctx, filter, opts)
	if err != nil {
		return nil, readErr("list of "+c.String(), err)
	}
	defer cur.Close(ctx)
	var last bson.Raw
	for cur.Next(ctx) {
		if len(page.Items) == limit {
			page.Next, err = cursorOf(last, keys)
			if err != nil {
				return nil, err
			}
			break
		}
		d, err := docFromListed(cur.Current, q.Fields)
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, *d)
		last = slices.Clone(cur.Current)
	}
	if err := cur.Err(); err != nil {
		return nil, readErr("list of "+c.String(), err)
	}
	return page, nil
}

// projectionDoc returns the find projection of fields: those, the user
// props the order needs for the cursor, and `_system` (the reader needs
// it whole). _id always comes.
func projectionDoc(fields []string, keys []projection.SortKey) (bson.D, error) {
	var proj bson.D
	add := func(f string) {
		if f != fieldID && !slices.ContainsFunc(proj, func(e bson.E) bool { return e.Key == f }) {
			proj = append(proj, bson.E{Key: f, Value: 1})
		}
	}
	for _, f := range fields {
		if f == fieldSystem || f != fieldID && !fieldName(f) {
			return nil, fmt.Errorf("%w: %q is not a top-level prop a list can return", events.ErrInvalid, f)
		}
		add(f)
	}
	for _, k := range keys {
		if _, sys := projection.SystemField(k.Field); !sys {
			add(k.Field)
		}
	}
	add(fieldSystem)
	return proj, nil
}

// cursorOf returns the position of a listed head in the order keys.
func cursorOf(raw bson.Raw, keys []projection.SortKey) (*projection.Cursor, error) {
	id, ok := raw.Lookup(fieldID).StringValueOK()
	if !ok {
		return nil, fmt.Errorf("chronos: mongostore: a listed head has no string _id")
	}
	c := &projection.Cursor{ID: id}
	for _, k := range keys[:len(keys)-1] {
		v, err := raw.LookupErr(lookupPath(k.Field)...)
		if err != nil || v.Type == bsontype.Null {
			c.Values = append(c.Values, []byte("null"))
			continue
		}
		if v.Type == bsontype.DateTime {
			t := v.Time().UTC().Format(time.RFC3339Nano)
			c.Values = append(c.Values, appendString(nil, t))
			continue
		}
		js, err := appendJSON(nil, v)
		if err != nil {
			return nil, fmt.Errorf("chronos: mongostore: sort value %q of %q: %w", k.Field, id, err)
		}
		c.Values = append(c.Values, js)
	}
	return c, nil
}

// docFromListed reads a listed head, which may lack the fields its find
// projected out: Data and Meta hold only the top-level props in fields
// (all of them when fields is nil).
func docFromListed(raw bson.Raw, fields []string) (*projection.Doc, error) {
	if fields == nil {
		return docFromHead(raw)
	}
	var h struct {
		ID  string    `bson:"_id"`
		Sys systemDoc `bson:"_system"`
	}
	if err := bson.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("chronos: decode head document: %w", err)
	}
	doc := &projection.Doc{ID: h.ID, System: h.Sys.system()}
	var keys []string
	for _, k := range h.Sys.MetaKeys {
		if slices.Contains(fields, k) {
			keys = append(keys, k)
		}
	}
	extra := slices.DeleteFunc(slices.Clone(h.Sys.MetaExtra), func(p metaPair) bool { return !slices.Contains(fields, p.Key) })
	meta, err := metaOf(keys, extra, func(k string) (bson.RawValue, error) { return raw.LookupErr(k) })
	if err != nil {
		return nil, fmt.Errorf("chronos: decode head %q: %w", h.ID, err)
	}
	doc.Meta = meta
	if h.Sys.PayloadInline {
		data, err := appendObject(nil, raw, func(k string) bool {
			return k == fieldID || k == fieldSystem || !slices.Contains(fields, k) || slices.Contains(h.Sys.MetaOnlyKeys, k)
		})
		if err != nil {
			return nil, fmt.Errorf("chronos: decode head %q: %w", h.ID, err)
		}
		doc.Data = data
	}
	return doc, nil
}
