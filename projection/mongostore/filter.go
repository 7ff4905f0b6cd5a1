package mongostore

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// This file translates a projection.ListQuery into a MongoDB filter. The
// semantics of ListQuery are MongoDB's own (narrowed to scalars), so most
// clauses map one to one; the exceptions are `_system` fields, whose
// absent values are null ($exists becomes a null test), and times, whose
// RFC 3339 operands become BSON dates.

// fieldKind returns the kind of a List field: a SystemField's, or 0 for
// "_id" and user props. Any other name under `_system` is invalid.
func fieldKind(field string) (projection.FieldKind, error) {
	if k, ok := projection.SystemField(field); ok {
		return k, nil
	}
	if field == fieldID || fieldName(field) && field != fieldSystem {
		return 0, nil
	}
	return 0, fmt.Errorf("%w: %q is not a field a list can filter or sort on", events.ErrInvalid, field)
}

// clauseFilter returns the filter of one clause.
func clauseFilter(c projection.Clause) (bson.D, error) {
	kind, err := fieldKind(c.Field)
	if err != nil {
		return nil, err
	}
	if c.Op == projection.OpExists {
		var exists bool
		if err := json.Unmarshal(c.Value, &exists); err != nil {
			return nil, fmt.Errorf("%w: %s of %q needs true or false", events.ErrInvalid, c.Op, c.Field)
		}
		if kind == 0 {
			return bson.D{{Key: c.Field, Value: bson.D{{Key: c.Op, Value: exists}}}}, nil
		}
		// `_system` fields that do not apply are null or absent alike.
		op := projection.OpEq
		if exists {
			op = projection.OpNe
		}
		return bson.D{{Key: c.Field, Value: bson.D{{Key: op, Value: nil}}}}, nil
	}
	if !slices.Contains(projection.Operators, c.Op) {
		return nil, fmt.Errorf("%w: operator %q is not supported", events.ErrInvalid, c.Op)
	}
	list := c.Op == projection.OpIn || c.Op == projection.OpNin
	v, err := filterValue(c.Field, kind, c.Value, list)
	if err != nil {
		return nil, err
	}
	return bson.D{{Key: c.Field, Value: bson.D{{Key: c.Op, Value: v}}}}, nil
}

// filterValue converts a clause or cursor value: a scalar, or with list an
// array of scalars. Times of KindTime fields become dates. Objects are
// refused: as a filter value, a document whose keys start with '$' would
// be an operator expression.
func filterValue(field string, kind projection.FieldKind, raw json.RawMessage, list bool) (any, error) {
	v, err := jsonToBSON(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: value of %q: %v", events.ErrInvalid, field, err)
	}
	if a, ok := v.(bson.A); ok && list {
		for i, e := range a {
			if a[i], err = scalarValue(field, kind, e); err != nil {
				return nil, err
			}
		}
		return a, nil
	}
	if list {
		return nil, fmt.Errorf("%w: value of %q must be an array", events.ErrInvalid, field)
	}
	return scalarValue(field, kind, v)
}

func scalarValue(field string, kind projection.FieldKind, v any) (any, error) {
	switch t := v.(type) {
	case bson.D, bson.A:
		return nil, fmt.Errorf("%w: value of %q must be a string, number, boolean or null", events.ErrInvalid, field)
	case string:
		if kind != projection.KindTime {
			return t, nil
		}
		at, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return nil, fmt.Errorf("%w: value of %q must be an RFC 3339 time: %v", events.ErrInvalid, field, err)
		}
		return at.UTC().Truncate(time.Millisecond), nil
	}
	return v, nil
}

// Type brackets of the sort order, lowest first, with their $type aliases.
// Missing and null fields share bracket 0; objects and arrays sit where
// MongoDB puts them (see projection.ListQuery on non-scalar sort values).
var typeAliases = []string{"", "number", "string", "object", "array", "bool", "date"}

func bracket(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case int32, int64, float64:
		return 1
	case string:
		return 2
	case bson.D:
		return 3
	case bson.A:
		return 4
	case bool:
		return 5
	case time.Time:
		return 6
	default:
		return 0
	}
}

// keysetFilter returns the filter of the items strictly after the cursor
// in the order keys (which end with "_id"): for each key i, the items
// equal on the keys before i and after on key i, or equal on every key
// and after on _id.
func keysetFilter(keys []projection.SortKey, after *projection.Cursor) (bson.D, error) {
	sortKeys := keys[:len(keys)-1]
	if len(after.Values) != len(sortKeys) {
		return nil, fmt.Errorf("%w: the cursor holds %d values for %d sort keys", events.ErrInvalid, len(after.Values), len(sortKeys))
	}
	vals := make([]any, len(sortKeys))
	for i, k := range sortKeys {
		kind, err := fieldKind(k.Field)
		if err != nil {
			return nil, err
		}
		v, err := jsonToBSON(after.Values[i])
		if err != nil {
			return nil, fmt.Errorf("%w: cursor value of %q: %v", events.ErrInvalid, k.Field, err)
		}
		if s, ok := v.(string); ok && kind == projection.KindTime {
			v, err = scalarValue(k.Field, kind, s)
			if err != nil {
				return nil, err
			}
		}
		if !storable(v) {
			return nil, fmt.Errorf("%w: cursor value of %q cannot be compared", events.ErrInvalid, k.Field)
		}
		vals[i] = v
	}
	var branches bson.A
	var equal bson.A
	for i, k := range sortKeys {
		if b := afterValue(k, vals[i]); b != nil {
			branches = append(branches, and(append(slices.Clone(equal), b)))
		}
		equal = append(equal, bson.D{{Key: k.Field, Value: bson.D{{Key: "$eq", Value: vals[i]}}}})
	}
	idOp := "$gt"
	if keys[len(keys)-1].Desc {
		idOp = "$lt"
	}
	branches = append(branches, and(append(equal, bson.D{{Key: fieldID, Value: bson.D{{Key: idOp, Value: after.ID}}}})))
	if len(branches) == 1 {
		return branches[0].(bson.D), nil
	}
	return bson.D{{Key: "$or", Value: branches}}, nil
}

// afterValue returns the filter of the values strictly after v in k's
// direction, or nil when none is.
func afterValue(k projection.SortKey, v any) bson.D {
	b := bracket(v)
	var or bson.A
	if !k.Desc {
		if b == 0 {
			return bson.D{{Key: k.Field, Value: bson.D{{Key: "$ne", Value: nil}}}}
		}
		or = append(or, bson.D{{Key: k.Field, Value: bson.D{{Key: "$gt", Value: v}}}})
		if b+1 < len(typeAliases) {
			or = append(or, bson.D{{Key: k.Field, Value: bson.D{{Key: "$type", Value: toA(typeAliases[b+1:])}}}})
		}
	} else {
		if b == 0 {
			return nil
		}
		or = append(or, bson.D{{Key: k.Field, Value: bson.D{{Key: "$lt", Value: v}}}})
		if b > 1 {
			or = append(or, bson.D{{Key: k.Field, Value: bson.D{{Key: "$type", Value: toA(typeAliases[1:b])}}}})
		}
		or = append(or, bson.D{{Key: k.Field, Value: bson.D{{Key: "$eq", Value: nil}}}})
	}
	if len(or) == 1 {
		return or[0].(bson.D)
	}
	return bson.D{{Key: "$or", Value: or}}
}

func toA(ss []string) bson.A {
	a := make(bson.A, len(ss))
	for i, s := range ss {
		a[i] = s
	}
	return a
}

// and returns the conjunction of filters (each a bson.D).
func and(filters bson.A) bson.D {
	switch len(filters) {
	case 0:
		return bson.D{}
	case 1:
		return filters[0].(bson.D)
	}
	return bson.D{{Key: "$and", Value: filters}}
}

// orderKeys returns q's sort keys ending with "_id": q.Sort's last key
// when it is "_id", else "_id" ascending appended. "_id" elsewhere, or a
// key that cannot be sorted on, is invalid.
func orderKeys(sort []projection.SortKey) ([]projection.SortKey, error) {
	keys := slices.Clone(sort)
	for i, k := range keys {
		if k.Field == fieldID {
			if i != len(keys)-1 {
				return nil, fmt.Errorf("%w: \"_id\" can only be the last sort key", events.ErrInvalid)
			}
			continue
		}
		kind, err := fieldKind(k.Field)
		if err != nil {
			return nil, err
		}
		if kind == projection.KindStrings {
			return nil, fmt.Errorf("%w: %q holds an array and cannot be a sort key", events.ErrInvalid, k.Field)
		}
		if slices.ContainsFunc(keys[:i], func(o projection.SortKey) bool { return o.Field == k.Field }) {
			return nil, fmt.Errorf("%w: sort key %q is repeated", events.ErrInvalid, k.Field)
		}
	}
	if len(keys) == 0 || keys[len(keys)-1].Field != fieldID {
		keys = append(keys, projection.SortKey{Field: fieldID})
	}
	return keys, nil
}

// sortDoc returns the MongoDB sort of keys.
func sortDoc(keys []projection.SortKey) bson.D {
	d := make(bson.D, len(keys))
	for i, k := range keys {
		dir := 1
		if k.Desc {
			dir = -1
		}
		d[i] = bson.E{Key: k.Field, Value: dir}
	}
	return d
}

// lookupPath splits a dotted field name for bson.Raw.LookupErr.
func lookupPath(field string) []string { return strings.Split(field, ".") }
