package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// List returns a page of a collection's heads: one SELECT of limit+1 rows
// (to learn whether a page follows) and a COUNT when q.Count, with the
// semantics of projection.ListQuery (see filter.go).
func (s *Store) List(ctx context.Context, c events.Collection, q projection.ListQuery) (*projection.ListPage, error) {
	limit := q.Limit
	switch {
	case limit < 0 || limit > projection.MaxListLimit:
		return nil, fmt.Errorf("%w: list limit %d is not between 1 and %d", events.ErrInvalid, limit, projection.MaxListLimit)
	case limit == 0:
		limit = projection.DefaultListLimit
	}
	for _, f := range q.Fields {
		if f != "_id" && !propName(f) {
			return nil, fmt.Errorf("%w: %q is not a top-level prop a list can return", events.ErrInvalid, f)
		}
	}
	var props []string
	if s.opts.IndexedProps != nil {
		props = s.opts.IndexedProps(c)
	}
	indexed := func(p string) bool { return slices.Contains(props, p) }
	keys, err := orderKeys(q.Sort, indexed)
	if err != nil {
		return nil, err
	}
	sq := query{indexed: indexed}
	var conds []string
	if !q.IncludeDeleted {
		conds = append(conds, "deleted = 0")
	}
	for _, cl := range q.Filter {
		cond, err := sq.clause(cl)
		if err != nil {
			return nil, err
		}
		conds = append(conds, cond)
	}
	filterArgs := len(sq.args)
	where := func(conds []string) string {
		if len(conds) == 0 {
			return ""
		}
		return " WHERE " + strings.Join(conds, " AND ")
	}
	page := &projection.ListPage{}
	n, ok, err := s.tables(ctx, c)
	if err != nil {
		return nil, err
	}
	if q.After != nil {
		ks, err := sq.keyset(keys, q.After)
		if err != nil {
			return nil, err
		}
		conds = append(conds, ks)
	}
	if !ok {
		if q.Count {
			page.Total = new(int64)
		}
		return page, nil
	}
	table := headTable(n)
	if q.Count {
		var total int64
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM `+table+where(conds[:len(conds)-boolInt(q.After != nil)]),
			sq.args[:filterArgs]...).Scan(&total); err != nil {
			return nil, readErr("count of "+c.String(), err)
		}
		page.Total = &total
	}
	outs := make([]string, 0, len(keys))
	for _, k := range keys[:len(keys)-1] {
		outs = append(outs, k.out)
	}
	sel := `SELECT ` + headColumns
	for _, o := range outs {
		sel += ", " + o
	}
	text := sel + ` FROM ` + table + where(conds) + ` ORDER BY ` + orderBy(keys) + ` LIMIT ` + fmt.Sprint(limit+1)
	rows, err := s.r.QueryContext(ctx, text, sq.args...)
	if err != nil {
		return nil, readErr("list of "+c.String(), err)
	}
	defer rows.Close()
	var lastVals []any
	for rows.Next() {
		if len(page.Items) == limit {
			cur, err := cursorOf(keys, page.Items[limit-1].ID, lastVals)
			if err != nil {
				return nil, err
			}
			page.Next = cur
			break
		}
		var id string
		var data, meta sql.NullString
		var sysb []byte
		vals := make([]any, len(outs))
		dest := []any{&id, &data, &meta, &sysb}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, readErr("list of "+c.String(), err)
		}
		d, err := decodeDoc(id, data, meta, sysb)
		if err != nil {
			return nil, err
		}
		if q.Fields != nil {
			if err := limitFields(d, q.Fields); err != nil {
				return nil, err
			}
		}
		page.Items = append(page.Items, *d)
		lastVals = vals
	}
	if err := rows.Err(); err != nil {
		return nil, readErr("list of "+c.String(), err)
	}
	return page, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cursorOf returns the position of a listed head from its selected sort
// values.
func cursorOf(keys []sortKey, id string, vals []any) (*projection.Cursor, error) {
	c := &projection.Cursor{ID: id}
	for i, k := range keys[:len(keys)-1] {
		v := vals[i]
		var js []byte
		var err error
		switch {
		case v == nil:
			js = []byte("null")
		case k.f.kind == 0:
			switch t := v.(type) {
			case string:
				js = []byte(t)
			case []byte:
				js = slices.Clone(t)
			default:
				js, err = json.Marshal(t)
			}
		case k.f.kind == projection.KindTime:
			ms, ok := v.(int64)
			if !ok {
				return nil, fmt.Errorf("chronos: sqlitestore: time sort value %v of %q", v, id)
			}
			js, err = json.Marshal(time.UnixMilli(ms).UTC().Format(time.RFC3339Nano))
		case k.f.kind == projection.KindBool:
			js, err = json.Marshal(v != int64(0))
		case k.f.kind == projection.KindString:
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			js, err = json.Marshal(v)
		default:
			js, err = json.Marshal(v)
		}
		if err != nil {
			return nil, fmt.Errorf("chronos: sqlitestore: sort value of %q: %w", id, err)
		}
		c.Values = append(c.Values, js)
	}
	return c, nil
}

// limitFields keeps only the top-level props of fields in d's Data (in
// the payload's order) and Meta.
func limitFields(d *projection.Doc, fields []string) error {
	for k := range d.Meta {
		if !slices.Contains(fields, k) {
			delete(d.Meta, k)
		}
	}
	if len(d.Meta) == 0 {
		d.Meta = nil
	}
	if d.Data == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(d.Data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		d.Data = json.RawMessage(`{}`)
		return nil
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("chronos: sqlitestore: read payload of %q: %w", d.ID, err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("chronos: sqlitestore: read payload of %q: %w", d.ID, err)
		}
		k := tok.(string)
		if !slices.Contains(fields, k) {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	d.Data = b.Bytes()
	return nil
}
