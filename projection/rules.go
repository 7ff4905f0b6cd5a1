package projection

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/tenancy"
)

// Rule operation classes, as tenancy.CounterRule.On names them.
const (
	RuleOnCreate = "CREATE"
	RuleOnUpdate = "UPDATE"
	RuleOnDelete = "DELETE"
)

// CounterRule is a compiled tenancy.CounterRule: a named counter of the
// events that match it, with exact distinct counts of some fields.
//
// An event matches when its operation class is in On (CREATE: create;
// UPDATE: update, enrich, restore; DELETE: delete, erase) and every clause
// of When holds. Clauses see the event's indexed props (scope "meta") or
// the top-level props of its payload (scope "payload"; a claim-checked
// payload, or an erase, shows its indexed props only). Clause semantics
// are ListQuery's: values compare within their type, a missing field and
// null are alike except for $exists, an array field matches when one of
// its elements does.
//
// A rule applies to every collection, as in the seed's config.
type CounterRule struct {
	Name string
	// On holds the operation classes counted; all three when the config
	// names none.
	On      []string
	Payload bool
	When    []Clause
	// CountUnique are the props whose distinct values are counted, seen in
	// the rule's scope. A missing or null value is not counted; an array
	// value counts as one value.
	CountUnique []string
}

// RuleCounters are the totals of one counter rule in a collection.
type RuleCounters struct {
	// Count is the number of matching events; Created, Updated and
	// Deleted split it by operation class.
	Count   int64 `json:"count"`
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
	Deleted int64 `json:"deleted"`
	// Unique holds, for each CountUnique prop, the exact number of
	// distinct values seen in matching events.
	Unique map[string]int64 `json:"unique,omitempty"`
}

// CompileRules checks and compiles the config's counter rules. Errors
// match events.ErrInvalid and name the rule.
func CompileRules(cfg tenancy.CounterRules) ([]CounterRule, error) {
	out := make([]CounterRule, 0, len(cfg.Rules))
	seen := make(map[string]bool)
	for i, r := range cfg.Rules {
		if err := events.ValidateToken("name", r.Name); err != nil || seen[r.Name] {
			return nil, fmt.Errorf("%w: counterRules.rules[%d]: name %q must be a unique token", events.ErrInvalid, i, r.Name)
		}
		seen[r.Name] = true
		c := CounterRule{Name: r.Name, CountUnique: slices.Clone(r.CountUnique)}
		for _, on := range r.On {
			switch on {
			case RuleOnCreate, RuleOnUpdate, RuleOnDelete:
				if !slices.Contains(c.On, on) {
					c.On = append(c.On, on)
				}
			default:
				return nil, fmt.Errorf("%w: counterRules.rules[%d] (%s): on %q is not one of CREATE, UPDATE, DELETE", events.ErrInvalid, i, r.Name, on)
			}
		}
		if len(c.On) == 0 {
			c.On = []string{RuleOnCreate, RuleOnUpdate, RuleOnDelete}
		}
		switch r.Scope {
		case "", "meta":
		case "payload":
			c.Payload = true
		default:
			return nil, fmt.Errorf("%w: counterRules.rules[%d] (%s): scope %q is not meta or payload", events.ErrInvalid, i, r.Name, r.Scope)
		}
		if r.When == nil {
			return nil, fmt.Errorf("%w: counterRules.rules[%d] (%s): when is required", events.ErrInvalid, i, r.Name)
		}
		for _, field := range slices.Sorted(func(yield func(string) bool) {
			for k := range r.When {
				if !yield(k) {
					return
				}
			}
		}) {
			clauses, err := whenClauses(field, r.When[field])
			if err != nil {
				return nil, fmt.Errorf("%w: counterRules.rules[%d] (%s): when.%s: %v", events.ErrInvalid, i, r.Name, field, err)
			}
			c.When = append(c.When, clauses...)
		}
		out = append(out, c)
	}
	return out, nil
}

// whenClauses reads one `when` entry: a value (equality) or an object of
// operators.
func whenClauses(field string, v json.RawMessage) ([]Clause, error) {
	if field == "" || strings.HasPrefix(field, "$") {
		return nil, fmt.Errorf("%q is not a property name", field)
	}
	t := bytes.TrimSpace(v)
	if len(t) == 0 || t[0] != '{' {
		if err := checkOperand(OpEq, t); err != nil {
			return nil, err
		}
		return []Clause{{Field: field, Op: OpEq, Value: t}}, nil
	}
	var ops map[string]json.RawMessage
	if err := json.Unmarshal(t, &ops); err != nil {
		return nil, err
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("an empty object is not a condition")
	}
	var out []Clause
	for _, op := range slices.Sorted(func(yield func(string) bool) {
		for k := range ops {
			if !yield(k) {
				return
			}
		}
	}) {
		if !slices.Contains(Operators, op) {
			return nil, fmt.Errorf("operator %q is not one of %s (objects are not compared)", op, strings.Join(Operators, " "))
		}
		val := bytes.TrimSpace(ops[op])
		if err := checkOperand(op, val); err != nil {
			return nil, err
		}
		out = append(out, Clause{Field: field, Op: op, Value: val})
	}
	return out, nil
}

// checkOperand checks a clause value: a scalar, an array of scalars for
// $in and $nin, a boolean for $exists.
func checkOperand(op string, v json.RawMessage) error {
	val, err := decodeValue(v)
	if err != nil {
		return err
	}
	switch op {
	case OpExists:
		if val.kind != kindBool {
			return fmt.Errorf("%s takes true or false", op)
		}
	case OpIn, OpNin:
		if val.kind != kindArray {
			return fmt.Errorf("%s takes an array of scalars", op)
		}
		for _, e := range val.elems {
			if e.kind == kindArray || e.kind == kindObject {
				return fmt.Errorf("%s takes an array of scalars", op)
			}
		}
	default:
		if val.kind == kindArray || val.kind == kindObject {
			return fmt.Errorf("%s takes a scalar", op)
		}
	}
	return nil
}

// Class returns the rule operation class of op.
func Class(op events.Op) string {
	switch {
	case op == events.OpCreate:
		return RuleOnCreate
	case op.Deletes():
		return RuleOnDelete
	default:
		return RuleOnUpdate
	}
}

// Fields returns the props an event shows to the rule: its indexed props,
// or with scope payload its payload's top-level props over them.
func (r *CounterRule) Fields(e *events.Event) map[string]json.RawMessage {
	if !r.Payload || len(e.Payload) == 0 {
		return e.Meta
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal(e.Payload, &root); err != nil || root == nil {
		return e.Meta
	}
	for k, v := range e.Meta {
		if _, ok := root[k]; !ok {
			root[k] = v
		}
	}
	return root
}

// Match reports whether the rule counts e.
func (r *CounterRule) Match(e *events.Event) bool {
	if !slices.Contains(r.On, Class(e.Op)) {
		return false
	}
	fields := r.Fields(e)
	for _, c := range r.When {
		if !MatchClause(c, fields) {
			return false
		}
	}
	return true
}

// UniqueValue is one value of a CountUnique prop, in canonical form.
type UniqueValue struct {
	Field string
	// Value is the canonical JSON of the value: numbers by exact value
	// (1 and 1.0 are one value), object keys sorted.
	Value string
	// Hash is the hex SHA-256 of "<field>\x00<Value>", a fixed-size key.
	Hash string
}

// Uniques returns the values of the rule's CountUnique props in e (which
// the caller has matched), skipping missing and null ones.
func (r *CounterRule) Uniques(e *events.Event) []UniqueValue {
	if len(r.CountUnique) == 0 {
		return nil
	}
	fields := r.Fields(e)
	var out []UniqueValue
	for _, f := range r.CountUnique {
		raw, ok := fields[f]
		if !ok {
			continue
		}
		v, err := decodeValue(raw)
		if err != nil || v.kind == kindNull {
			continue
		}
		canon := v.canonical()
		sum := sha256.Sum256([]byte(f + "\x00" + canon))
		out = append(out, UniqueValue{Field: f, Value: canon, Hash: hex.EncodeToString(sum[:])})
	}
	return out
}

// MatchClause evaluates one clause against top-level fields, with the
// semantics documented on ListQuery (times are not special here: they are
// strings).
func MatchClause(c Clause, fields map[string]json.RawMessage) bool {
	raw, present := fields[c.Field]
	var field value
	if present {
		var err error
		if field, err = decodeValue(raw); err != nil {
			return false
		}
	}
	operand, err := decodeValue(c.Value)
	if err != nil {
		return false
	}
	switch c.Op {
	case OpExists:
		return present == (operand.kind == kindBool && operand.b)
	case OpEq:
		return eqMatch(present, field, operand)
	case OpNe:
		return !eqMatch(present, field, operand)
	case OpIn, OpNin:
		in := false
		for _, o := range operand.elems {
			if eqMatch(present, field, o) {
				in = true
				break
			}
		}
		return in == (c.Op == OpIn)
	case OpGt, OpGte, OpLt, OpLte:
		if !present {
			return false
		}
		for _, e := range field.elemsOrSelf() {
			cmp, ok := compareValues(e, operand)
			if !ok || e.kind == kindNull {
				continue
			}
			switch c.Op {
			case OpGt:
				ok = cmp > 0
			case OpGte:
				ok = cmp >= 0
			case OpLt:
				ok = cmp < 0
			default:
				ok = cmp <= 0
			}
			if ok {
				return true
			}
		}
	}
	return false
}

// eqMatch is $eq: null matches missing and null; an array matches when an
// element does.
func eqMatch(present bool, field, operand value) bool {
	if operand.kind == kindNull {
		if !present || field.kind == kindNull {
			return true
		}
		return field.kind == kindArray && slices.ContainsFunc(field.elems, func(e value) bool { return e.kind == kindNull })
	}
	if !present {
		return false
	}
	for _, e := range field.elemsOrSelf() {
		if cmp, ok := compareValues(e, operand); ok && cmp == 0 {
			return true
		}
	}
	return false
}

type valueKind int

const (
	kindNull valueKind = iota
	kindNumber
	kindString
	kindBool
	kindArray
	kindObject
)

// value is a decoded JSON value with exact numbers.
type value struct {
	kind  valueKind
	num   *big.Rat
	str   string
	b     bool
	elems []value
	obj   map[string]value
}

func decodeValue(raw json.RawMessage) (value, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return value{}, fmt.Errorf("not JSON: %w", err)
	}
	return fromAny(x)
}

func fromAny(x any) (value, error) {
	switch x := x.(type) {
	case nil:
		return value{kind: kindNull}, nil
	case bool:
		return value{kind: kindBool, b: x}, nil
	case string:
		return value{kind: kindString, str: x}, nil
	case json.Number:
		r, ok := new(big.Rat).SetString(string(x))
		if !ok {
			return value{}, fmt.Errorf("number %s out of range", x)
		}
		return value{kind: kindNumber, num: r}, nil
	case []any:
		v := value{kind: kindArray, elems: make([]value, 0, len(x))}
		for _, e := range x {
			ev, err := fromAny(e)
			if err != nil {
				return value{}, err
			}
			v.elems = append(v.elems, ev)
		}
		return v, nil
	case map[string]any:
		v := value{kind: kindObject, obj: make(map[string]value, len(x))}
		for k, e := range x {
			ev, err := fromAny(e)
			if err != nil {
				return value{}, err
			}
			v.obj[k] = ev
		}
		return v, nil
	}
	return value{}, fmt.Errorf("unexpected JSON value %T", x)
}

func (v value) elemsOrSelf() []value {
	if v.kind == kindArray {
		return v.elems
	}
	return []value{v}
}

// compareValues compares two scalars of one type; ok is false across
// types and for arrays and objects.
func compareValues(a, b value) (cmp int, ok bool) {
	if a.kind != b.kind {
		return 0, false
	}
	switch a.kind {
	case kindNull:
		return 0, true
	case kindNumber:
		return a.num.Cmp(b.num), true
	case kindString:
		return strings.Compare(a.str, b.str), true
	case kindBool:
		switch {
		case a.b == b.b:
			return 0, true
		case b.b:
			return -1, true
		default:
			return 1, true
		}
	}
	return 0, false
}

// canonical writes v as JSON-like text with numbers as reduced fractions
// ("1", "1/2") and sorted object keys, so equal values give equal text
// (strings stay quoted, so "1" and 1 differ).
func (v value) canonical() string {
	var b strings.Builder
	v.writeCanonical(&b)
	return b.String()
}

func (v value) writeCanonical(b *strings.Builder) {
	switch v.kind {
	case kindNull:
		b.WriteString("null")
	case kindBool:
		if v.b {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case kindNumber:
		b.WriteString(v.num.RatString())
	case kindString:
		s, _ := json.Marshal(v.str)
		b.Write(s)
	case kindArray:
		b.WriteByte('[')
		for i, e := range v.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			e.writeCanonical(b)
		}
		b.WriteByte(']')
	case kindObject:
		b.WriteByte('{')
		keys := make([]string, 0, len(v.obj))
		for k := range v.obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			s, _ := json.Marshal(k)
			b.Write(s)
			b.WriteByte(':')
			v.obj[k].writeCanonical(b)
		}
		b.WriteByte('}')
	}
}
