package stack_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/stack"
	"github.com/chronos-go/chronos/query"
)

// queryServer serves the read routes of s with the given collection maps
// (the stack's own query service has none).
func queryServer(t *testing.T, s *stack.Stack, maps func(events.Collection) query.CollectionMap) string {
	t.Helper()
	svc := query.New(s.Store, s.Log, s.Blobs.ReadOnly(), query.Options{CollectionMaps: maps})
	mux := http.NewServeMux()
	query.NewHandler(svc, nil).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// listPage is a decoded POST {base}/query answer.
type listPage struct {
	Items  []map[string]json.RawMessage `json:"items"`
	Cursor *string                      `json:"cursor"`
	Total  *int64                       `json:"total"`
}

func list(t *testing.T, url, body string) listPage {
	t.Helper()
	r := mustStatus(t, call(t, "POST", url+"/query", body, "Content-Type", "application/json"), 200)
	var p listPage
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("list answer: %v\n%s", err, r.Body)
	}
	if p.Items == nil {
		t.Fatalf("list answer without items: %s", r.Body)
	}
	return p
}

func itemID(t *testing.T, it map[string]json.RawMessage) string {
	t.Helper()
	var id string
	if err := json.Unmarshal(it["_id"], &id); err != nil {
		t.Fatalf("item without _id: %v", it)
	}
	return id
}

// createBatch creates items id → JSON document through ingest.
func createBatch(t *testing.T, s *stack.Stack, docs map[string]string) {
	t.Helper()
	var recs []string
	for id, d := range docs {
		recs = append(recs, fmt.Sprintf(`{"id":%q,"data":%s}`, id, d))
	}
	r := mustStatus(t, call(t, "POST", s.URL()+ordersPath+"/items:batch", "["+strings.Join(recs, ",")+"]"), 200)
	if strings.Contains(string(r.Body), `"error"`) {
		t.Fatalf("batch: %s", r.Body)
	}
}

// waitListed waits until the collection lists n live items.
func waitListed(t *testing.T, url string, n int64) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d items listed", n), func() bool {
		p := list(t, url, `{"count":true,"limit":1}`)
		return p.Total != nil && *p.Total == n
	})
}

func TestQueryRejectsFilters(t *testing.T) {
	s := startStack(t, stack.Config{NoWorkers: true})
	url := queryServer(t, s, func(events.Collection) query.CollectionMap {
		return query.CollectionMap{IndexedProps: []string{"status", "total", "email"}, HiddenFields: []string{"email"},
			Projections: map[string][]string{"minimal": {"status"}}}
	}) + ordersPath
	tests := []struct{ body, field, msg string }{
		{`{"filter":{"$where":"this.a"}}`, "filter.$where", "$where is not supported"},
		{`{"filter":{"$expr":{"$eq":["$a",1]}}}`, "filter.$expr", "$expr is not supported"},
		{`{"filter":{"$function":{"body":"x"}}}`, "filter.$function", "$function is not supported"},
		{`{"filter":{"$or":[{"status":"a"},{"status":"b"}]}}`, "filter.$or", "$or is not supported: the conditions of a filter are always ANDed"},
		{`{"filter":{"$and":[{"status":"a"}]}}`, "filter.$and", "$and is not supported"},
		{`{"filter":{"status":{"$regex":"^a"}}}`, "filter.status.$regex", `operator "$regex" is not supported`},
		{`{"filter":{"status":{"$where":"1"}}}`, "filter.status.$where", `operator "$where" is not supported`},
		{`{"filter":{"notes":"x"}}`, "filter.notes", `"notes" is not filterable`},
		{`{"filter":{"status.code":1}}`, "filter.status.code", "nested path"},
		{`{"filter":{"email":"a@b"}}`, "filter.email", "hidden field"},
		{`{"filter":{"_system.secret":1}}`, "filter._system.secret", "not a _system field"},
		{`{"filter":{"status":{"$in":"a"}}}`, "filter.status.$in", "needs an array"},
		{`{"filter":{"status":{"$nin":5}}}`, "filter.status.$nin", "needs an array"},
		{`{"filter":{"status":{"$exists":"yes"}}}`, "filter.status.$exists", "needs true or false"},
		{`{"filter":{"status":{"$exists":1}}}`, "filter.status.$exists", "needs true or false"},
		{`{"filter":{"status":{"a":1}}}`, "filter.status.a", "comparing with an object is not supported"},
		{`{"filter":{"status":["a"]}}`, "filter.status", "comparing with an array is not supported"},
		{`{"filter":{"total":{"$gt":null}}}`, "filter.total.$gt", "cannot compare with null"},
		{`{"filter":{"_system.ov":"3"}}`, "filter._system.ov.$eq", "needs a number"},
		{`{"filter":{"_system.updatedAt":{"$gte":"last week"}}}`, "filter._system.updatedAt.$gte", "RFC 3339"},
		{`{"filter":{"status":"a"},"bogus":1}`, "bogus", "unknown key"},
		{`{"sort":{"notes":1}}`, "sort.notes", "not filterable"},
		{`{"sort":{"total":2}}`, "sort.total", "must be 1 (ascending) or -1 (descending)"},
		{`{"limit":5000}`, "limit", "between 1 and 1000"},
		{`{"cursor":"bm90IGEgY3Vyc29y"}`, "cursor", "not a cursor this service returned"},
		{`{"projection":"full"}`, "projection", `unknown preset "full"`},
		{`{"fields":["a.b"]}`, "fields[0]", "nested path"},
		{`{"filter":`, "filter", "not valid JSON"},
	}
	for _, tt := range tests {
		r := call(t, "POST", url+"/query", tt.body)
		var body struct {
			Error struct{ Code, Message, Field string } `json:"error"`
		}
		_ = json.Unmarshal(r.Body, &body)
		e := body.Error
		if r.Status != 400 || e.Code != "invalid_input" || e.Field != tt.field ||
			!strings.Contains(e.Message, "invalid "+tt.field+": ") || !strings.Contains(e.Message, tt.msg) {
			t.Errorf("%s: %d %s, want 400 invalid_input on %q containing %q", tt.body, r.Status, r.Body, tt.field, tt.msg)
		}
	}
	mustStatus(t, call(t, "POST", url+"/query", `{}`, "Content-Type", "text/plain"), 415)
	mustStatus(t, call(t, "POST", s.URL()+"/v1/runtime/tenant/bad.scope/orders/query", `{}`), 400)
}

// Pages of 7 over 40 items, while another goroutine keeps creating items:
// each of the 40 is seen exactly once, new ones at most once.
func TestQueryPaginationDuringWrites(t *testing.T) {
	s := startStack(t, stack.Config{})
	url := s.URL() + ordersPath
	docs := make(map[string]string)
	var original []string
	for i := range 40 {
		id := fmt.Sprintf("o%02d", i)
		original = append(original, id)
		docs[id] = fmt.Sprintf(`{"rank":%d,"n":%d}`, i%6, i)
	}
	createBatch(t, s, docs)
	waitListed(t, url, 40)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writeErr error
	var created atomic.Int64
	const maxNew = 60
	wg.Go(func() {
		for i := 0; i < maxNew; i++ {
			select {
			case <-stop:
				return
			default:
			}
			body := fmt.Sprintf(`{"rank":%d,"n":%d}`, i%7-1, 100+i)
			res, err := http.Post(fmt.Sprintf("%s/items?id=new-%03d", url, i), "application/json", strings.NewReader(body))
			if err != nil {
				writeErr = err
				return
			}
			res.Body.Close()
			// Paced so that the projector (slow on FerretDB) keeps up and
			// the new items land between pages, not after them.
			time.Sleep(25 * time.Millisecond)
			if res.StatusCode != 201 {
				writeErr = fmt.Errorf("create new-%03d: status %d", i, res.StatusCode)
				return
			}
			created.Add(1)
		}
	})
	eventually(t, "the writer to start", func() bool { return created.Load() >= 3 })
	newSeen := 0
	for _, sort := range []string{`{"rank":1}`, `{"_system.updatedAt":-1,"rank":-1}`, `null`} {
		seen := make(map[string]int)
		cursor, pages := "", 0
		for {
			body := `{"limit":7,"sort":` + sort + `,"fields":["rank"]`
			if cursor != "" {
				body += `,"cursor":"` + cursor + `"`
			}
			p := list(t, url, body+"}")
			if len(p.Items) > 7 {
				t.Fatalf("sort %s: page of %d items", sort, len(p.Items))
			}
			for _, it := range p.Items {
				seen[itemID(t, it)]++
				if _, ok := it["n"]; ok {
					t.Fatalf("sort %s: fields [rank] returned %v", sort, it)
				}
			}
			if pages++; p.Cursor == nil || pages > 100 {
				break
			}
			cursor = *p.Cursor
			// While the writer runs, let at least one new item be
			// projected between pages.
			if created.Load() < maxNew {
				before := *list(t, url, `{"count":true,"limit":1}`).Total
				eventually(t, "a new item projected", func() bool {
					return created.Load() == maxNew || *list(t, url, `{"count":true,"limit":1}`).Total > before
				})
			}
		}
		for _, id := range original {
			if seen[id] != 1 {
				t.Errorf("sort %s: %s seen %d times, want once", sort, id, seen[id])
			}
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("sort %s: %s seen %d times", sort, id, n)
			}
		}
		t.Logf("sort %s: %d pages, %d items (%d created meanwhile)", sort, pages, len(seen), len(seen)-len(original))
		newSeen += len(seen) - len(original)
	}
	close(stop)
	wg.Wait()
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	if newSeen == 0 {
		t.Errorf("no item created during pagination was listed (%d created): the writes did not overlap the pages", created.Load())
	}
}

func TestQueryHistoryAndCounters(t *testing.T) {
	s := startStack(t, stack.Config{})
	base := s.URL() + ordersPath
	mustStatus(t, call(t, "POST", base+"/items?id=h", `{"n":0,"secret":"s0"}`), 201)
	for i := 1; i <= 5; i++ {
		mustStatus(t, call(t, "PUT", base+"/items/h", fmt.Sprintf(`{"n":%d,"secret":"s%d"}`, i, i)), 200)
	}
	mustStatus(t, call(t, "DELETE", base+"/items/h", ""), 200)
	eventually(t, "7 versions", func() bool {
		r := call(t, "GET", base+"/items/h/versions?limit=100", "")
		return r.Status == 200 && strings.Count(string(r.Body), `"_system"`) == 7
	})

	page := func(q string) ([]float64, *string) {
		t.Helper()
		var p struct {
			Items []map[string]any `json:"items"`
			Next  *string          `json:"next"`
		}
		r := mustStatus(t, call(t, "GET", base+"/items/h/versions"+q, ""), 200)
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		var ovs []float64
		for _, it := range p.Items {
			sys := it["_system"].(map[string]any)
			ov := sys["ov"].(float64)
			want := min(ov, 5) // the delete carries the last document
			if it["n"] != want || it["_id"] != "h" {
				t.Errorf("version %v: %v, want n %v", ov, it, want)
			}
			ovs = append(ovs, ov)
		}
		return ovs, p.Next
	}
	check := func(q string, want []float64, next string) {
		t.Helper()
		ovs, n := page(q)
		got := "null"
		if n != nil {
			got = *n
		}
		if !slices.Equal(ovs, want) || got != next {
			t.Errorf("versions%s: ovs %v next %s, want %v next %s", q, ovs, got, want, next)
		}
	}
	check("?limit=3", []float64{0, 1, 2}, "2")
	check("?limit=3&after=2", []float64{3, 4, 5}, "5")
	check("?limit=3&after=5", []float64{6}, "null")
	check("", []float64{0, 1, 2, 3, 4, 5, 6}, "null")
	check("?order=desc&limit=4", []float64{6, 5, 4, 3}, "3")
	check("?order=desc&after=3", []float64{2, 1, 0}, "null")
	check("?limit=7", []float64{0, 1, 2, 3, 4, 5, 6}, "null")
	r := mustStatus(t, call(t, "GET", base+"/items/h/versions?limit=1&fields=n,_system.ov", ""), 200)
	if !strings.Contains(string(r.Body), `"items":[{"_id":"h","n":0,"_system":{"ov":0}}]`) {
		t.Errorf("shaped history: %s", r.Body)
	}
	mustStatus(t, call(t, "GET", base+"/items/nobody/versions", ""), 404)
	mustStatus(t, call(t, "GET", base+"/items/h/versions?limit=101", ""), 400)
	mustStatus(t, call(t, "GET", base+"/items/h/versions?after=x", ""), 400)
	mustStatus(t, call(t, "GET", base+"/items/h/versions?order=up", ""), 400)

	var c map[string]any
	eventually(t, "counters", func() bool {
		c = mustStatus(t, call(t, "GET", base+"/counters", ""), 200).json(t)
		return c["lastSeq"] == 7.0
	})
	if c["created"] != 1.0 || c["updated"] != 5.0 || c["deleted"] != 1.0 || c["lastAt"] == nil {
		t.Errorf("counters %v", c)
	}
	empty := mustStatus(t, call(t, "GET", s.URL()+"/v1/runtime/tenant/acme/nothing/counters", ""), 200).json(t)
	if empty["created"] != 0.0 || empty["lastSeq"] != 0.0 || empty["lastAt"] != nil {
		t.Errorf("counters of an empty collection %v", empty)
	}
	mustStatus(t, call(t, "GET", s.URL()+"/v1/runtime/tenant/a.b/orders/counters", ""), 400)
}

// Shaping (fields, hidden fields, presets) on item reads and lists, a
// payload not held inline in the read model, and deleted items.
func TestQueryShaping(t *testing.T) {
	s := startStack(t, stack.Config{})
	url := queryServer(t, s, func(events.Collection) query.CollectionMap {
		return query.CollectionMap{HiddenFields: []string{"secret"}, Projections: map[string][]string{"minimal": {"name"}}}
	}) + ordersPath
	createBatch(t, s, map[string]string{
		"s1": `{"name":"a","secret":"x","n":1}`,
		"s2": `{"name":"b","secret":"y","n":2}`,
	})
	blob := strings.Repeat("z", 70<<10) // over the read model's inline limit
	mustStatus(t, call(t, "POST", s.URL()+ordersPath+"/items?id=big", `{"name":"big","secret":"z","blob":"`+blob+`"}`), 201)
	waitListed(t, url, 3)

	for _, tt := range []struct{ q, want string }{
		{"", `{"_id":"s1","name":"a","n":1,"_system":{`},
		{"?includeHidden=true", `{"_id":"s1","name":"a","secret":"x","n":1,"_system":{`},
		{"?fields=name,_system.ov", `{"_id":"s1","name":"a","_system":{"ov":0}}`},
		{"?projection=minimal", `{"_id":"s1","name":"a"}`},
		{"?fields=secret", `{"_id":"s1"}`},
		{"?fields=secret,_id&includeHidden=true", `{"_id":"s1","secret":"x"}`},
		{"?ov=0&fields=n", `{"_id":"s1","n":1}`},
	} {
		r := mustStatus(t, call(t, "GET", url+"/items/s1"+tt.q, ""), 200)
		if !strings.HasPrefix(string(r.Body), tt.want) {
			t.Errorf("GET s1%s = %s, want %s...", tt.q, r.Body, tt.want)
		}
	}
	mustStatus(t, call(t, "GET", url+"/items/s1?projection=nope", ""), 400)
	mustStatus(t, call(t, "GET", url+"/items/s1?fields=a.b", ""), 400)

	render := func(p listPage) string {
		var out []string
		for _, it := range p.Items {
			delete(it, "_system")
			b, _ := json.Marshal(it)
			out = append(out, string(b))
		}
		return strings.Join(out, " ")
	}
	for _, tt := range []struct{ body, want string }{
		{`{"projection":"minimal"}`, `{"_id":"big","name":"big"} {"_id":"s1","name":"a"} {"_id":"s2","name":"b"}`},
		{`{"filter":{"_id":"big"},"fields":["name"]}`, `{"_id":"big","name":"big"}`},
		{`{"filter":{"secret":"x"},"includeHidden":true,"fields":["secret"]}`, `{"_id":"s1","secret":"x"}`},
		{`{"filter":{"n":{"$gte":2}}}`, `{"_id":"s2","n":2,"name":"b"}`},
		{`{"sort":{"n":-1},"fields":["n"]}`, `{"_id":"s2","n":2} {"_id":"s1","n":1} {"_id":"big"}`},
	} {
		if got := render(list(t, url, tt.body)); got != tt.want {
			t.Errorf("list %s = %s, want %s", tt.body, got, tt.want)
		}
	}
	full := list(t, url, `{"filter":{"_id":"big"}}`)
	var data string
	if len(full.Items) != 1 || json.Unmarshal(full.Items[0]["blob"], &data) != nil || data != blob || full.Items[0]["secret"] != nil {
		t.Errorf("the large item is not listed whole without its hidden field (%d items)", len(full.Items))
	}
	p := list(t, url, `{"count":true,"limit":2,"fields":[]}`)
	if p.Total == nil || *p.Total != 3 || p.Cursor == nil || len(p.Items) != 2 {
		t.Errorf("count page: total %v cursor %v items %d", p.Total, p.Cursor, len(p.Items))
	}
	p = list(t, url, `{"count":true,"limit":2,"fields":[],"cursor":"`+*p.Cursor+`"}`)
	if p.Total == nil || *p.Total != 3 || p.Cursor != nil || len(p.Items) != 1 {
		t.Errorf("last page: total %v cursor %v items %d", p.Total, p.Cursor, len(p.Items))
	}
	r := call(t, "POST", url+"/query", `{"sort":{"n":1},"cursor":"`+encodeLike(t, url)+`"}`)
	if r.Status != 400 || !strings.Contains(string(r.Body), "belongs to another query") {
		t.Errorf("a cursor of another query: %d %s", r.Status, r.Body)
	}

	mustStatus(t, call(t, "DELETE", s.URL()+ordersPath+"/items/s2", ""), 200)
	waitListed(t, url, 2)
	p = list(t, url, `{"includeDeleted":true,"filter":{"_system.deleted":true},"fields":["name","_system.deleted"]}`)
	if got := render(p); got != `{"_id":"s2","name":"b"}` {
		t.Errorf("deleted items: %s", got)
	}
}

// encodeLike returns a cursor of the query {"limit":1} on url.
func encodeLike(t *testing.T, url string) string {
	t.Helper()
	p := list(t, url, `{"limit":1}`)
	if p.Cursor == nil {
		t.Fatal("no cursor after a page of 1")
	}
	return *p.Cursor
}
