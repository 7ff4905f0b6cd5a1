package query

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/httpapi"
	"github.com/chronos-go/chronos/projection"
)

var testMap = CollectionMap{
	IndexedProps: []string{"status", "total", "email", "tags"},
	HiddenFields: []string{"email"},
	Projections:  map[string][]string{"minimal": {"status"}, "audit": {"status", "_system.ov", "email"}},
}

// parse decodes and checks body as the service does.
func parse(body string, m CollectionMap) (projection.ListQuery, *shaper, error) {
	req, err := decodeListRequest([]byte(body))
	if err != nil {
		return projection.ListQuery{}, nil, err
	}
	q, sh, _, err := listQuery(*req, m)
	return q, sh, err
}

func TestListRequestRejections(t *testing.T) {
	tests := []struct {
		body  string
		field string // the "field" of the 400
		msg   string
	}{
		{`[1]`, "body", "must be a JSON object"},
		{`{"filter":`, "filter", "not valid JSON"},
		{`{"a" 1}`, "a", "not valid JSON"},
		{`{"a":1,}`, "body", "not valid JSON"},
		{`{} {}`, "body", "data after"},
		{`{"filtr":{}}`, "filtr", "unknown key"},
		{`{"limit":1,"limit":2}`, "limit", "repeated"},
		{`{"filter":{"$where":"this.a > 1"}}`, "filter.$where", "$where is not supported"},
		{`{"filter":{"$expr":{"$gt":["$a",1]}}}`, "filter.$expr", "$expr is not supported"},
		{`{"filter":{"$function":{}}}`, "filter.$function", "$function is not supported"},
		{`{"filter":{"$or":[{"status":"a"}]}}`, "filter.$or", "always ANDed"},
		{`{"filter":{"$and":[{"status":"a"}]}}`, "filter.$and", "$and is not supported"},
		{`{"filter":{"status":{"$regex":"^a"}}}`, "filter.status.$regex", `operator "$regex" is not supported`},
		{`{"filter":{"status":{"$where":"1"}}}`, "filter.status.$where", "not supported"},
		{`{"filter":{"status":{"$elemMatch":{}}}}`, "filter.status.$elemMatch", "not supported"},
		{`{"filter":{"status":{"$eq":"a","$eq":"b"}}}`, "filter.status.$eq", "repeated"},
		{`{"filter":{"status":"a","status":"b"}}`, "filter.status", "repeated"},
		{`{"filter":{"status":{}}}`, "filter.status", "empty object"},
		{`{"filter":{"status":{"a":1}}}`, "filter.status.a", "comparing with an object"},
		{`{"filter":{"status":["a","b"]}}`, "filter.status", "$in"},
		{`{"filter":{"status":{"$in":"a"}}}`, "filter.status.$in", "needs an array"},
		{`{"filter":{"status":{"$nin":{"a":1}}}}`, "filter.status.$nin", "needs an array"},
		{`{"filter":{"status":{"$in":[["a"]]}}}`, "filter.status.$in[0]", "objects and arrays are not compared"},
		{`{"filter":{"status":{"$exists":1}}}`, "filter.status.$exists", "true or false"},
		{`{"filter":{"status":{"$exists":"yes"}}}`, "filter.status.$exists", "true or false"},
		{`{"filter":{"status":{"$eq":{"$gt":1}}}}`, "filter.status.$eq", "objects and arrays are not compared"},
		{`{"filter":{"total":{"$gt":null}}}`, "filter.total.$gt", "cannot compare with null"},
		{`{"filter":{"total":{"$gt":1e999}}}`, "filter.total.$gt", "out of range"},
		{`{"filter":{"nope":1}}`, "filter.nope", "not filterable"},
		{`{"filter":{"a.b":1}}`, "filter.a.b", "nested path"},
		{`{"filter":{"":1}}`, "filter.", "empty"},
		{`{"filter":{"email":"x@y"}}`, "filter.email", "hidden field"},
		{`{"filter":{"_system.nope":1}}`, "filter._system.nope", "not a _system field"},
		{`{"filter":{"_system":{"$exists":true}}}`, "filter._system", "not a _system field"},
		{`{"filter":{"_system.ov":"1"}}`, "filter._system.ov.$eq", "needs a number"},
		{`{"filter":{"_system.updatedAt":{"$gt":"yesterday"}}}`, "filter._system.updatedAt.$gt", "RFC 3339"},
		{`{"filter":{"_system.updatedAt":{"$in":["2026-01-01T00:00:00Z",5]}}}`, "filter._system.updatedAt.$in[1]", "RFC 3339"},
		{`{"filter":{"_system.deleted":"no"}}`, "filter._system.deleted.$eq", "true or false"},
		{`{"filter":{"_system.op":1}}`, "filter._system.op.$eq", "needs a string"},
		{`{"sort":{"total":"asc"}}`, "sort.total", "1 (ascending) or -1"},
		{`{"sort":{"total":1,"total":-1}}`, "sort.total", "repeated"},
		{`{"sort":{"nope":1}}`, "sort.nope", "not filterable"},
		{`{"sort":{"email":1}}`, "sort.email", "hidden field"},
		{`{"sort":{"_id":1,"total":1}}`, "sort._id", "last sort key"},
		{`{"sort":{"_system.functionIds":1}}`, "sort._system.functionIds", "array"},
		{`{"sort":[["total",1]]}`, "sort", "must be a JSON object"},
		{`{"limit":0}`, "limit", "between 1 and 1000"},
		{`{"limit":1001}`, "limit", "between 1 and 1000"},
		{`{"limit":2.5}`, "limit", "integer"},
		{`{"limit":"5"}`, "limit", "integer"},
		{`{"cursor":5}`, "cursor", "a string"},
		{`{"cursor":"!!!"}`, "cursor", "not a cursor"},
		{`{"fields":"status"}`, "fields", "array of strings"},
		{`{"fields":["a.b"]}`, "fields[0]", "nested path"},
		{`{"fields":["$x"]}`, "fields[0]", "not a field name"},
		{`{"fields":["_system.nope"]}`, "fields[0]", "not a key of _system"},
		{`{"projection":"huge"}`, "projection", `unknown preset "huge"`},
		{`{"projection":"minimal","fields":["status"]}`, "projection", "not both"},
		{`{"includeHidden":"yes"}`, "includeHidden", "true or false"},
		{`{"includeDeleted":1}`, "includeDeleted", "true or false"},
		{`{"count":null,"count":true}`, "count", "repeated"},
	}
	for _, tt := range tests {
		_, _, err := parse(tt.body, testMap)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != tt.field || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: error %v, want an InputError on %q containing %q", tt.body, err, tt.field, tt.msg)
			continue
		}
		if status, code, _ := httpapi.Classify(err); status != http.StatusBadRequest || code != "invalid_input" || !errors.Is(err, events.ErrInvalid) {
			t.Errorf("%s: maps to %d %s, want 400 invalid_input", tt.body, status, code)
		}
	}
}

func TestListRequestAccepted(t *testing.T) {
	body := `{"filter":{"status":"paid","total":{"$gte":10,"$lt":20.5},"tags":{"$in":["a",null]},
		"_system.updatedAt":{"$gt":"2026-01-01T00:00:00.123456Z"},"_system.deletedAt":null,"_id":{"$nin":["x"]},
		"email":{"$exists":false}},
		"sort":{"total":-1,"status":1,"_id":-1},"limit":7,"fields":["status","_system.ov","_id"],
		"includeHidden":true,"includeDeleted":true,"count":true,"cursor":null}`
	q, sh, err := parse(body, testMap)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range q.Filter {
		got = append(got, c.Field+" "+c.Op+" "+string(c.Value))
	}
	want := []string{
		`status $eq "paid"`, `total $gte 10`, `total $lt 20.5`, `tags $in ["a",null]`,
		`_system.updatedAt $gt "2026-01-01T00:00:00.123456Z"`, `_system.deletedAt $eq null`, `_id $nin ["x"]`, `email $exists false`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("filter\n got %q\nwant %q", got, want)
	}
	wantSort := []projection.SortKey{{Field: "total", Desc: true}, {Field: "status"}, {Field: "_id", Desc: true}}
	if !slices.Equal(q.Sort, wantSort) || q.Limit != 7 || !q.IncludeDeleted || !q.Count {
		t.Errorf("query %+v", q)
	}
	if !slices.Equal(q.Fields, []string{"status"}) || !slices.Equal(sh.system, []string{"ov"}) || len(sh.hidden) != 0 {
		t.Errorf("fields %q, shaper %+v", q.Fields, sh)
	}

	// No map: any top-level prop; defaults.
	q, sh, err = parse(``, CollectionMap{})
	if err != nil || q.Limit != projection.DefaultListLimit || q.Filter != nil || q.Fields != nil || sh.props != nil || sh.system != nil {
		t.Errorf("empty body: %+v %+v %v", q, sh, err)
	}
	if _, _, err := parse(`{"filter":{"anything":{"$exists":true}},"sort":{"other":1}}`, CollectionMap{}); err != nil {
		t.Errorf("no map: %v", err)
	}
	// A preset, with its hidden field removed.
	_, sh, err = parse(`{"projection":"audit"}`, testMap)
	if err != nil || !slices.Equal(sh.props, []string{"status", "email"}) || !slices.Equal(sh.hidden, []string{"email"}) ||
		!slices.Equal(sh.storeFields(), []string{"status"}) {
		t.Errorf("preset: %+v %v", sh, err)
	}
}

func TestCursorTiedToQuery(t *testing.T) {
	q, _, err := parse(`{"filter":{"status":"a"},"sort":{"total":1}}`, testMap)
	if err != nil {
		t.Fatal(err)
	}
	cur := encodeCursor(queryHash(q), &projection.Cursor{Values: []json.RawMessage{json.RawMessage(`12.5`)}, ID: "it-1"})
	for _, tt := range []struct {
		body string
		ok   bool
	}{
		{`{"filter":{"status":"a"},"sort":{"total":1},"limit":3,"fields":["status"],"count":true}`, true},
		{`{"filter":{"status": "a"},"sort":{"total":1}}`, true},
		{`{"filter":{"status":"b"},"sort":{"total":1}}`, false},
		{`{"filter":{"status":"a"},"sort":{"total":-1}}`, false},
		{`{"filter":{"status":"a"},"sort":{"total":1},"includeDeleted":true}`, false},
		{`{"filter":{"status":"a"}}`, false},
	} {
		body := strings.TrimSuffix(tt.body, "}") + `,"cursor":"` + cur + `"}`
		q, _, err := parse(body, testMap)
		if tt.ok && (err != nil || q.After == nil || q.After.ID != "it-1" || string(q.After.Values[0]) != "12.5") {
			t.Errorf("%s: %+v %v, want the cursor accepted", tt.body, q.After, err)
		}
		if !tt.ok && (err == nil || !strings.Contains(err.Error(), "another query")) {
			t.Errorf("%s: %v, want the cursor refused as another query's", tt.body, err)
		}
	}
}

func TestShapeItem(t *testing.T) {
	it := &Item{ID: "x", Data: json.RawMessage(`{"b":1,"email":"e","a":{"n":[1]},"c":null}`)}
	for _, tt := range []struct {
		shape Shape
		want  string
	}{
		{Shape{}, `{"_id":"x","b":1,"a":{"n":[1]},"c":null,"_system":`},
		{Shape{IncludeHidden: true}, `{"_id":"x","b":1,"email":"e","a":{"n":[1]},"c":null,"_system":`},
		{Shape{Fields: []string{"a", "email", "_id"}}, `{"_id":"x","a":{"n":[1]}}`},
		{Shape{Fields: []string{}}, `{"_id":"x"}`},
		{Shape{Fields: []string{"c", "_system.op", "_system.ov"}}, `{"_id":"x","c":null,"_system":{"ov":0,"op":""}}`},
		{Shape{Projection: "audit", IncludeHidden: true}, `{"_id":"x","email":"e","_system":{"ov":0}}`},
	} {
		sh, err := tt.shape.resolve(testMap)
		if err != nil {
			t.Fatalf("%+v: %v", tt.shape, err)
		}
		cp := *it
		if err := sh.apply(&cp); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(&cp)
		if err != nil || !strings.HasPrefix(string(b), tt.want) {
			t.Errorf("%+v: %s (%v), want prefix %s", tt.shape, b, err, tt.want)
		}
	}
}
