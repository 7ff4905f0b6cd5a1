package sqlitestore

import (
	"bytes"
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

// This file translates projection.ListQuery filters and orders into SQL
// with the semantics documented there (see the package doc).

// docExpr is the JSON object a filter on a user prop reads.
const docExpr = `coalesce(fdoc, data)`

// jsonPath returns the SQL literal of the JSON path of top-level prop p.
func jsonPath(p string) string {
	return `'$."` + strings.ReplaceAll(p, `'`, `''`) + `"'`
}

// propDoc returns the JSON document a filter on user prop p reads. For
// an indexed prop it is meta when meta holds p (the small object of
// indexed props, where the filter document has the same value) and the
// filter document otherwise: the same value, parsed from a few bytes
// instead of the whole payload, on writes (the prop's index) and reads.
func propDoc(p string, indexed bool) string {
	if !indexed {
		return docExpr
	}
	return `(CASE WHEN json_type(meta, ` + jsonPath(p) + `) IS NOT NULL THEN meta ELSE ` + docExpr + ` END)`
}

func typeExpr(p string, indexed bool) string {
	return `json_type(` + propDoc(p, indexed) + `, ` + jsonPath(p) + `)`
}

func valueExpr(p string, indexed bool) string {
	return `json_extract(` + propDoc(p, indexed) + `, ` + jsonPath(p) + `)`
}

// field is how SQL reads one List field.
type field struct {
	name string
	kind projection.FieldKind // 0: a user prop
	// expr is the SQL value: of a `_system` field or "_id", or of a user
	// prop (json_extract: booleans read 1 and 0).
	expr string
	// typ is the JSON type of a user prop.
	typ string
	// path is the JSON path literal of a user prop, doc the document it
	// is read from, src the json_each of its elements (or of functionIds).
	path, doc, src string
	// nullable is set for `_system` fields that may not apply.
	nullable bool
}

type sysCol struct {
	expr     string
	nullable bool
}

var sysCols = map[string]sysCol{
	"_system.ov":                 {"ov", false},
	"_system.cv":                 {"seq", false},
	"_system.seq":                {"seq", false},
	"_system.size":               {"json_extract(sys, '$.size')", false},
	"_system.restoredFrom":       {"json_extract(sys, '$.restoredFrom')", true},
	"_system.insertedAt":         {"inserted_ms", false},
	"_system.updatedAt":          {"updated_ms", false},
	"_system.deletedAt":          {"deleted_ms", true},
	"_system.deleted":            {"deleted", false},
	"_system.op":                 {"json_extract(sys, '$.op')", false},
	"_system.creator.type":       {"json_extract(sys, '$.creator.type')", true},
	"_system.creator.identifier": {"json_extract(sys, '$.creator.identifier')", true},
	"_system.updater.type":       {"json_extract(sys, '$.updater.type')", true},
	"_system.updater.identifier": {"json_extract(sys, '$.updater.identifier')", true},
	"_system.parentId":           {"json_extract(sys, '$.parentId')", true},
	"_system.parentCollection":   {"json_extract(sys, '$.parentCollection')", true},
	"_system.originId":           {"json_extract(sys, '$.originId')", true},
	"_system.originCollection":   {"json_extract(sys, '$.originCollection')", true},
	"_system.functionIds":        {"json_type(sys, '$.functionIds')", true},
}

// propName reports whether p can be a user prop a List reads.
func propName(p string) bool {
	return p != "" && p != "_id" && p != "_system" && !strings.HasPrefix(p, "_system.") &&
		!strings.ContainsAny(p, "\"\\\x00") && !strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 })
}

// fieldOf returns how SQL reads field name; indexed tells the collection's
// indexed props (nil: none).
func fieldOf(name string, indexed func(string) bool) (field, error) {
	if name == "_id" {
		return field{name: name, kind: projection.KindString, expr: "id"}, nil
	}
	if k, ok := projection.SystemField(name); ok {
		c, ok := sysCols[name]
		if !ok {
			return field{}, fmt.Errorf("%w: %q is not supported by this store", events.ErrInvalid, name)
		}
		f := field{name: name, kind: k, expr: c.expr, nullable: c.nullable}
		if k == projection.KindStrings {
			f.src = `json_each(sys, '$.functionIds')`
		}
		return f, nil
	}
	if !propName(name) {
		return field{}, fmt.Errorf("%w: %q is not a field a list can filter or sort on", events.ErrInvalid, name)
	}
	ix := indexed != nil && indexed(name)
	return field{name: name, expr: valueExpr(name, ix), typ: typeExpr(name, ix), path: jsonPath(name),
		doc: propDoc(name, ix), src: `json_each(` + propDoc(name, ix) + `, ` + jsonPath(name) + `)`}, nil
}

// Value classes of operands, in the sort's type order.
const (
	classNull = iota
	classNum
	classStr
	classBool
	classTime
	classOther // objects and arrays: never operands
)

// operand is a filter or cursor value read for a field.
type operand struct {
	class int
	v     any // int64, float64, string; booleans are 0 and 1
}

// operandOf reads a JSON scalar for f. Strings of KindTime fields are
// RFC 3339 times, truncated to the millisecond.
func operandOf(f field, raw json.RawMessage) (operand, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return operand{}, fmt.Errorf("%w: value of %q: %v", events.ErrInvalid, f.name, err)
	}
	switch t := v.(type) {
	case nil:
		return operand{class: classNull}, nil
	case bool:
		if t {
			return operand{classBool, int64(1)}, nil
		}
		return operand{classBool, int64(0)}, nil
	case json.Number:
		if i, err := strconv.ParseInt(t.String(), 10, 64); err == nil {
			return operand{classNum, i}, nil
		}
		x, err := t.Float64()
		if err != nil && !math.IsInf(x, 0) {
			return operand{}, fmt.Errorf("%w: value of %q: %v", events.ErrInvalid, f.name, err)
		}
		return operand{classNum, x}, nil
	case string:
		if f.kind != projection.KindTime {
			return operand{classStr, t}, nil
		}
		at, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return operand{}, fmt.Errorf("%w: value of %q must be an RFC 3339 time: %v", events.ErrInvalid, f.name, err)
		}
		return operand{classTime, at.UnixMilli()}, nil
	}
	return operand{}, fmt.Errorf("%w: value of %q must be a string, number, boolean or null", events.ErrInvalid, f.name)
}

// kindClass is the class of a `_system` field's (or _id's) values.
func kindClass(k projection.FieldKind) int {
	switch k {
	case projection.KindInt:
		return classNum
	case projection.KindTime:
		return classTime
	case projection.KindBool:
		return classBool
	}
	return classStr
}

// typeCheck returns the SQL test that JSON type t (a json_type or a
// json_each type column) is of class c.
func typeCheck(t string, c int) string {
	switch c {
	case classNum:
		return t + ` IN ('integer', 'real')`
	case classStr:
		return t + ` = 'text'`
	case classBool:
		return t + ` IN ('true', 'false')`
	}
	return "0"
}

var sqlOps = map[string]string{
	projection.OpEq: "=", projection.OpGt: ">", projection.OpGte: ">=", projection.OpLt: "<", projection.OpLte: "<=",
}

// query accumulates SQL text and its arguments.
type query struct {
	args []any
	// indexed reports the collection's indexed props.
	indexed func(string) bool
}

// arg adds an argument and returns its numbered parameter, which may be
// used more than once in the text.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "?" + strconv.Itoa(len(q.args))
}

// clause returns the SQL condition of one clause.
func (q *query) clause(c projection.Clause) (string, error) {
	f, err := fieldOf(c.Field, q.indexed)
	if err != nil {
		return "", err
	}
	switch c.Op {
	case projection.OpExists:
		var exists bool
		if err := json.Unmarshal(c.Value, &exists); err != nil {
			return "", fmt.Errorf("%w: %s of %q needs true or false", events.ErrInvalid, c.Op, c.Field)
		}
		e := f.expr
		if f.kind == 0 {
			e = f.typ
		} else if !f.nullable {
			e = "1"
		}
		if exists {
			return e + " IS NOT NULL", nil
		}
		return e + " IS NULL", nil
	case projection.OpIn, projection.OpNin:
		var vals []json.RawMessage
		if err := json.Unmarshal(c.Value, &vals); err != nil {
			return "", fmt.Errorf("%w: value of %q must be an array for %s", events.ErrInvalid, c.Field, c.Op)
		}
		var ors []string
		for _, v := range vals {
			o, err := operandOf(f, v)
			if err != nil {
				return "", err
			}
			ors = append(ors, q.compare(f, "=", o))
		}
		in := "0"
		if len(ors) > 0 {
			in = "(" + strings.Join(ors, " OR ") + ")"
		}
		if c.Op == projection.OpNin {
			return "NOT coalesce(" + in + ", 0)", nil
		}
		return in, nil
	case projection.OpEq, projection.OpNe, projection.OpGt, projection.OpGte, projection.OpLt, projection.OpLte:
		o, err := operandOf(f, c.Value)
		if err != nil {
			return "", err
		}
		if c.Op == projection.OpNe {
			return "NOT coalesce(" + q.compare(f, "=", o) + ", 0)", nil
		}
		return q.compare(f, sqlOps[c.Op], o), nil
	}
	return "", fmt.Errorf("%w: operator %q is not supported", events.ErrInvalid, c.Op)
}

// compare returns the condition "f op o" with MongoDB's semantics: within
// o's type only, null and missing alike, arrays by element.
func (q *query) compare(f field, op string, o operand) string {
	if o.class == classNull {
		if op == ">" || op == "<" {
			return "0"
		}
		switch {
		case f.kind == 0:
			return "(" + f.typ + " IS NULL OR " + f.typ + " = 'null' OR (" + f.typ +
				" = 'array' AND EXISTS (SELECT 1 FROM " + f.src + " WHERE type = 'null')))"
		case f.nullable:
			return f.expr + " IS NULL"
		}
		return "0"
	}
	switch f.kind {
	case 0:
		if o.class == classTime || o.class == classOther {
			return "0"
		}
		return "((" + typeCheck(f.typ, o.class) + " AND " + f.expr + " " + op + " " + q.arg(o.v) + ") OR (" + f.typ +
			" = 'array' AND EXISTS (SELECT 1 FROM " + f.src + " WHERE " + typeCheck("type", o.class) + " AND value " + op + " " + q.arg(o.v) + ")))"
	case projection.KindStrings:
		if o.class != classStr {
			return "0"
		}
		return "EXISTS (SELECT 1 FROM " + f.src + " WHERE value " + op + " " + q.arg(o.v) + ")"
	}
	if o.class != kindClass(f.kind) {
		return "0"
	}
	return f.expr + " " + op + " " + q.arg(o.v)
}

// sortKey is how SQL orders by one key: by rank (the type bracket) when
// the field's values may differ in type, then by value.
type sortKey struct {
	f    field
	desc bool
	rank string // "" when constant
	val  string
	// out is the expression selected to build the cursor.
	out string
}

// orderKeys returns q's sort keys ending with "_id".
func orderKeys(sort []projection.SortKey, indexed func(string) bool) ([]sortKey, error) {
	var keys []sortKey
	for i, k := range sort {
		if k.Field == "_id" && i != len(sort)-1 {
			return nil, fmt.Errorf("%w: \"_id\" can only be the last sort key", events.ErrInvalid)
		}
		if slices.ContainsFunc(sort[:i], func(o projection.SortKey) bool { return o.Field == k.Field }) {
			return nil, fmt.Errorf("%w: sort key %q is repeated", events.ErrInvalid, k.Field)
		}
		f, err := fieldOf(k.Field, indexed)
		if err != nil {
			return nil, err
		}
		if f.kind == projection.KindStrings {
			return nil, fmt.Errorf("%w: %q holds an array and cannot be a sort key", events.ErrInvalid, k.Field)
		}
		sk := sortKey{f: f, desc: k.Desc, val: f.expr, out: f.expr}
		switch {
		case f.kind == 0:
			sk.rank, sk.val = rankExpr(f.typ), sortValueExpr(f.expr)
			sk.out = f.doc + " -> " + f.path
		case f.nullable:
			sk.rank = "(" + f.expr + " IS NOT NULL)"
			sk.val = "coalesce(" + f.expr + ", 0)"
		}
		keys = append(keys, sk)
	}
	if len(keys) == 0 || keys[len(keys)-1].f.name != "_id" {
		id, _ := fieldOf("_id", nil)
		keys = append(keys, sortKey{f: id, val: "id", out: "id"})
	}
	return keys, nil
}

// rankExpr is the type bracket of a user prop's sort order (numbers,
// text, booleans, objects and arrays; missing and null first), from its
// json_type expression typ.
func rankExpr(typ string) string {
	return "(CASE " + typ + " WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 WHEN 'true' THEN 3 WHEN 'false' THEN 3 WHEN 'object' THEN 5 WHEN 'array' THEN 5 ELSE 0 END)"
}

// sortValueExpr is a user prop's value in its sort order, from its
// json_extract expression.
func sortValueExpr(expr string) string { return "coalesce(" + expr + ", 0)" }

// orderBy returns the ORDER BY list of keys.
func orderBy(keys []sortKey) string {
	var parts []string
	for _, k := range keys {
		dir := " ASC"
		if k.desc {
			dir = " DESC"
		}
		if k.rank != "" {
			parts = append(parts, k.rank+dir)
		}
		parts = append(parts, k.val+dir)
	}
	return strings.Join(parts, ", ")
}

// rankOf returns the rank and value of a cursor value for key k.
func rankOf(k sortKey, raw json.RawMessage) (int, any, error) {
	o, err := operandOf(k.f, raw)
	if err != nil {
		// An array or object sort value: ranked last, by its JSON text.
		var buf bytes.Buffer
		if k.f.kind == 0 && json.Compact(&buf, raw) == nil {
			return 5, buf.String(), nil
		}
		return 0, nil, err
	}
	switch {
	case o.class == classNull:
		return 0, int64(0), nil
	case k.f.kind == 0:
		if o.class == classTime {
			return 0, nil, fmt.Errorf("%w: cursor value of %q", events.ErrInvalid, k.f.name)
		}
		return o.class, o.v, nil
	case o.class != kindClass(k.f.kind):
		return 0, nil, fmt.Errorf("%w: cursor value of %q has the wrong type", events.ErrInvalid, k.f.name)
	}
	return 1, o.v, nil
}

// keyset returns the condition "strictly after the cursor" in keys'
// order.
func (q *query) keyset(keys []sortKey, after *projection.Cursor) (string, error) {
	sortKeys := keys[:len(keys)-1]
	if len(after.Values) != len(sortKeys) {
		return "", fmt.Errorf("%w: the cursor holds %d values for %d sort keys", events.ErrInvalid, len(after.Values), len(sortKeys))
	}
	var branches, equal []string
	for i, k := range sortKeys {
		rank, val, err := rankOf(k, after.Values[i])
		if err != nil {
			return "", err
		}
		op := ">"
		if k.desc {
			op = "<"
		}
		var cond, eq string
		if k.rank != "" {
			cond = "(" + k.rank + ", " + k.val + ") " + op + " (" + q.arg(rank) + ", " + q.arg(val) + ")"
			eq = k.rank + " = " + q.arg(rank) + " AND " + k.val + " = " + q.arg(val)
		} else {
			cond = k.val + " " + op + " " + q.arg(val)
			eq = k.val + " = " + q.arg(val)
		}
		branches = append(branches, "("+strings.Join(append(slices.Clone(equal), cond), " AND ")+")")
		equal = append(equal, eq)
	}
	op := ">"
	if keys[len(keys)-1].desc {
		op = "<"
	}
	branches = append(branches, "("+strings.Join(append(equal, "id "+op+" "+q.arg(after.ID)), " AND ")+")")
	return "(" + strings.Join(branches, " OR ") + ")", nil
}
