package projection_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
	"github.com/chronos-go/chronos/tenancy"
)

func TestMatchClause(t *testing.T) {
	fields := map[string]json.RawMessage{
		"n": json.RawMessage(`10`), "s": json.RawMessage(`"paid"`), "z": json.RawMessage(`null`),
		"tags": json.RawMessage(`["a","b"]`), "f": json.RawMessage(`1.0`), "b": json.RawMessage(`true`),
	}
	for _, tc := range []struct {
		field, op, value string
		want             bool
	}{
		{"n", projection.OpGte, `10`, true},
		{"n", projection.OpGte, `1e1`, true},
		{"n", projection.OpGt, `10`, false},
		{"n", projection.OpGte, `"10"`, false}, // no cross-type comparison
		{"n", projection.OpEq, `10.0`, true},
		{"f", projection.OpEq, `1`, true},
		{"s", projection.OpIn, `["new","paid"]`, true},
		{"s", projection.OpNin, `["new","paid"]`, false},
		{"missing", projection.OpNin, `["new"]`, true},
		{"missing", projection.OpEq, `null`, true},
		{"z", projection.OpEq, `null`, true},
		{"z", projection.OpExists, `true`, true},
		{"missing", projection.OpExists, `false`, true},
		{"z", projection.OpGte, `null`, false},
		{"tags", projection.OpEq, `"b"`, true},
		{"tags", projection.OpNe, `"b"`, false},
		{"tags", projection.OpLt, `"b"`, true},
		{"b", projection.OpGt, `false`, true},
		{"missing", projection.OpLt, `5`, false},
	} {
		got := projection.MatchClause(projection.Clause{Field: tc.field, Op: tc.op, Value: json.RawMessage(tc.value)}, fields)
		if got != tc.want {
			t.Errorf("%s %s %s = %v, want %v", tc.field, tc.op, tc.value, got, tc.want)
		}
	}
}

func TestCompileRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule tenancy.CounterRule
	}{
		{"bad operator", tenancy.CounterRule{Name: "r", When: map[string]json.RawMessage{"a": json.RawMessage(`{"$regex":"x"}`)}}},
		{"object operand", tenancy.CounterRule{Name: "r", When: map[string]json.RawMessage{"a": json.RawMessage(`{"$eq":{"x":1}}`)}}},
		{"$in scalar", tenancy.CounterRule{Name: "r", When: map[string]json.RawMessage{"a": json.RawMessage(`{"$in":1}`)}}},
		{"bad on", tenancy.CounterRule{Name: "r", On: []string{"ERASE"}, When: map[string]json.RawMessage{}}},
		{"bad scope", tenancy.CounterRule{Name: "r", Scope: "body", When: map[string]json.RawMessage{}}},
		{"no when", tenancy.CounterRule{Name: "r"}},
	} {
		_, err := projection.CompileRules(tenancy.CounterRules{Rules: []tenancy.CounterRule{tc.rule}})
		if !errors.Is(err, events.ErrInvalid) {
			t.Errorf("%s: err %v, want events.ErrInvalid", tc.name, err)
		}
	}
	rules, err := projection.CompileRules(tenancy.CounterRules{Rules: []tenancy.CounterRule{{
		Name: "r", On: []string{"UPDATE"}, Scope: "payload",
		When: map[string]json.RawMessage{"amount": json.RawMessage(`{"$gte":100,"$lt":200}`)}, CountUnique: []string{"c"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	r := rules[0]
	ev := &events.Event{Op: events.OpEnrich, Payload: json.RawMessage(`{"amount":150,"c":1.0}`)}
	if !r.Match(ev) {
		t.Errorf("enrich with amount 150 does not match")
	}
	ev2 := &events.Event{Op: events.OpCreate, Payload: ev.Payload}
	if r.Match(ev2) {
		t.Errorf("a create matches a rule on UPDATE")
	}
	u1 := r.Uniques(ev)
	u2 := r.Uniques(&events.Event{Op: events.OpUpdate, Payload: json.RawMessage(`{"c":1}`)})
	u3 := r.Uniques(&events.Event{Op: events.OpUpdate, Payload: json.RawMessage(`{"c":"1"}`)})
	if len(u1) != 1 || len(u2) != 1 || u1[0].Hash != u2[0].Hash || u3[0].Hash == u1[0].Hash {
		t.Errorf("uniques: 1.0 %v, 1 %v, \"1\" %v: want 1.0 and 1 alike, \"1\" apart", u1, u2, u3)
	}
}
