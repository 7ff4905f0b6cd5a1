package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// The List cases: filter semantics (every operator, type mixing, missing
// and null fields, arrays, `_system` fields and times), order (mixed
// types, ties, several keys, "_id" descending, times at millisecond
// precision), keyset pagination (alone and with writes between pages),
// deleted heads, Fields, Count, limits and isolation.

func runList(t *testing.T, newStore func(t *testing.T) projection.Store) {
	t.Run("ListFilter", func(t *testing.T) { testListFilter(t, newStore(t)) })
	t.Run("ListSort", func(t *testing.T) { testListSort(t, newStore(t)) })
	t.Run("ListTimeOrder", func(t *testing.T) { testListTimeOrder(t, newStore(t)) })
	t.Run("ListPagingDuringWrites", func(t *testing.T) { testListPagingDuringWrites(t, newStore(t)) })
	t.Run("ListFields", func(t *testing.T) { testListFields(t, newStore(t)) })
	t.Run("ListCountAndLimits", func(t *testing.T) { testListCountAndLimits(t, newStore(t)) })
	t.Run("ListIsolation", func(t *testing.T) { testListIsolation(t, newStore(t)) })
	t.Run("HistoryDesc", func(t *testing.T) { testHistoryDesc(t, newStore(t)) })
}

// cl builds a clause; value is JSON.
func cl(field, op, value string) projection.Clause {
	return projection.Clause{Field: field, Op: op, Value: json.RawMessage(value)}
}

// listIDs returns the ids of one page.
func listIDs(ctx context.Context, t testing.TB, s projection.Store, c events.Collection, q projection.ListQuery) ([]string, *projection.ListPage) {
	t.Helper()
	page, err := s.List(ctx, c, q)
	if err != nil {
		t.Fatalf("List(%s, %s): %v", c, showQuery(q), err)
	}
	ids := make([]string, len(page.Items))
	for i, d := range page.Items {
		ids[i] = d.ID
	}
	return ids, page
}

// pageAll follows the cursor with pages of size limit and returns every
// id seen, in order. between runs after each page.
func pageAll(ctx context.Context, t testing.TB, s projection.Store, c events.Collection, q projection.ListQuery, limit int, between func(page int)) []string {
	t.Helper()
	q.Limit, q.After = limit, nil
	var all []string
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatalf("List(%s, %s): more than 100 pages", c, showQuery(q))
		}
		ids, p := listIDs(ctx, t, s, c, q)
		if len(ids) > limit {
			t.Fatalf("List(%s, %s): %d items on a page of %d", c, showQuery(q), len(ids), limit)
		}
		all = append(all, ids...)
		if p.Next == nil {
			return all
		}
		if len(ids) == 0 {
			t.Fatalf("List(%s, %s): an empty page with a cursor", c, showQuery(q))
		}
		if p.Next.ID != ids[len(ids)-1] {
			t.Errorf("List(%s, %s): cursor at %q, want the last item %q", c, showQuery(q), p.Next.ID, ids[len(ids)-1])
		}
		q.After = p.Next
		if between != nil {
			between(page)
		}
	}
}

func showQuery(q projection.ListQuery) string {
	var b strings.Builder
	for _, c := range q.Filter {
		fmt.Fprintf(&b, "%s %s %s; ", c.Field, c.Op, c.Value)
	}
	for _, k := range q.Sort {
		fmt.Fprintf(&b, "sort %s desc=%v; ", k.Field, k.Desc)
	}
	if q.IncludeDeleted {
		b.WriteString("includeDeleted; ")
	}
	if q.Limit != 0 {
		fmt.Fprintf(&b, "limit %d; ", q.Limit)
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// filterData writes the items of the filter and sort cases. The prop "v"
// mixes types, is null on e and missing on f, and is an array on g.
func filterData(t testing.TB, c events.Collection) (*ingest, map[string]projection.Change) {
	in := newIngest(t)
	last := make(map[string]projection.Change)
	w := write{actor: alice}
	for _, it := range []struct{ id, payload string }{
		{"a", `{"status":"new","v":1,"tags":["x","y"]}`},
		{"b", `{"status":"paid","v":1.0,"tags":["y"]}`},
		{"c", `{"status":"new","v":"1"}`},
		{"e", `{"status":"new","v":null}`},
		{"f", `{"status":"paid"}`},
		{"g", `{"status":"new","v":[1,"z"]}`},
		{"h", `{"status":"new","v":4}`},
		{"i", `{"status":"paid","v":"b"}`},
		{"x", `{"status":"new","v":2}`},
	} {
		ww := w
		if it.id == "a" {
			ww.lineage = &events.Lineage{ParentID: "cart-1", ParentCollection: "carts"}
		}
		last[it.id] = in.create(c.Item(it.id), it.payload, ww)
	}
	last["d"] = in.create(c.Item("d"), `{"status":"paid","v":true}`, write{actor: bob})
	last["h"] = in.update(c.Item("h"), `{"status":"new","v":5}`, write{actor: bob})
	last["i"] = in.enrich(c.Item("i"), `{"status":"paid","v":"b","score":1}`, "scorer@v1", write{actor: bot})
	last["x"] = in.delete(c.Item("x"), write{actor: alice})
	return in, last
}

func applyAll(ctx context.Context, t testing.TB, s projection.Store, in *ingest) {
	t.Helper()
	for _, p := range in.parts() {
		apply(ctx, t, s, in.log(p))
	}
}

func testListFilter(t *testing.T, s projection.Store) {
	ctx := caseContext(t)
	in, last := filterData(t, orders)
	applyAll(ctx, t, s, in)
	at := func(id string, d time.Duration) string {
		return strconv.Quote(last[id].Event.At.Add(d).Format(time.RFC3339Nano))
	}
	live := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"}
	except := func(ids ...string) []string {
		return slices.DeleteFunc(slices.Clone(live), func(id string) bool { return slices.Contains(ids, id) })
	}
	tests := []struct {
		filter         []projection.Clause
		includeDeleted bool
		want           []string
	}{
		{nil, false, live},
		{nil, true, append(slices.Clone(live), "x")},
		// Equality: numbers by value, no cross-type equality, null is missing too, arrays by element.
		{[]projection.Clause{cl("v", "$eq", `1`)}, false, []string{"a", "b", "g"}},
		{[]projection.Clause{cl("v", "$eq", `1.0`)}, false, []string{"a", "b", "g"}},
		{[]projection.Clause{cl("v", "$eq", `"1"`)}, false, []string{"c"}},
		{[]projection.Clause{cl("v", "$eq", `true`)}, false, []string{"d"}},
		{[]projection.Clause{cl("v", "$eq", `null`)}, false, []string{"e", "f"}},
		{[]projection.Clause{cl("v", "$eq", `"z"`)}, false, []string{"g"}},
		{[]projection.Clause{cl("tags", "$eq", `"y"`)}, false, []string{"a", "b"}},
		// $ne: everything $eq does not match, missing included.
		{[]projection.Clause{cl("v", "$ne", `1`)}, false, except("a", "b", "g")},
		{[]projection.Clause{cl("v", "$ne", `null`)}, false, except("e", "f")},
		{[]projection.Clause{cl("tags", "$ne", `"x"`)}, false, except("a")},
		// Ranges: within the operand's type only, never null or missing.
		{[]projection.Clause{cl("v", "$gt", `1`)}, false, []string{"h"}},
		{[]projection.Clause{cl("v", "$gte", `1`)}, false, []string{"a", "b", "g", "h"}},
		{[]projection.Clause{cl("v", "$lt", `5`)}, false, []string{"a", "b", "g"}},
		{[]projection.Clause{cl("v", "$lte", `5`)}, false, []string{"a", "b", "g", "h"}},
		{[]projection.Clause{cl("v", "$gt", `"1"`)}, false, []string{"g", "i"}},
		{[]projection.Clause{cl("v", "$lte", `"b"`)}, false, []string{"c", "i"}},
		{[]projection.Clause{cl("v", "$gt", `false`)}, false, []string{"d"}},
		{[]projection.Clause{cl("v", "$gte", `1`), cl("v", "$lt", `5`)}, false, []string{"a", "b", "g"}},
		// Sets.
		{[]projection.Clause{cl("v", "$in", `[1,"b"]`)}, false, []string{"a", "b", "g", "i"}},
		{[]projection.Clause{cl("v", "$in", `[null,true]`)}, false, []string{"d", "e", "f"}},
		{[]projection.Clause{cl("v", "$in", `[]`)}, false, nil},
		{[]projection.Clause{cl("v", "$nin", `[1,null]`)}, false, []string{"c", "d", "h", "i"}},
		{[]projection.Clause{cl("tags", "$in", `["x","q"]`)}, false, []string{"a"}},
		{[]projection.Clause{cl("tags", "$nin", `["x"]`)}, false, except("a")},
		// Presence: null is present.
		{[]projection.Clause{cl("v", "$exists", `true`)}, false, except("f")},
		{[]projection.Clause{cl("v", "$exists", `false`)}, false, []string{"f"}},
		{[]projection.Clause{cl("status", "$eq", `"paid"`), cl("v", "$exists", `true`)}, false, []string{"b", "d", "i"}},
		// The item id.
		{[]projection.Clause{cl("_id", "$in", `["a","c","zz"]`)}, false, []string{"a", "c"}},
		{[]projection.Clause{cl("_id", "$gt", `"g"`)}, true, []string{"h", "i", "x"}},
		// _system fields.
		{[]projection.Clause{cl("_system.ov", "$gte", `1`)}, false, []string{"h", "i"}},
		{[]projection.Clause{cl("_system.op", "$eq", `"enrich"`)}, false, []string{"i"}},
		{[]projection.Clause{cl("_system.creator.identifier", "$eq", `"u-2"`)}, false, []string{"d"}},
		{[]projection.Clause{cl("_system.updater.type", "$eq", `"agent"`)}, false, []string{"i"}},
		{[]projection.Clause{cl("_system.functionIds", "$eq", `"scorer@v1"`)}, false, []string{"i"}},
		{[]projection.Clause{cl("_system.functionIds", "$ne", `"scorer@v1"`)}, false, except("i")},
		{[]projection.Clause{cl("_system.functionIds", "$exists", `false`)}, false, except("i")},
		{[]projection.Clause{cl("_system.parentId", "$eq", `"cart-1"`)}, false, []string{"a"}},
		{[]projection.Clause{cl("_system.parentId", "$exists", `true`)}, false, []string{"a"}},
		{[]projection.Clause{cl("_system.parentId", "$eq", `null`)}, false, except("a")},
		{[]projection.Clause{cl("_system.deleted", "$eq", `true`)}, false, nil},
		{[]projection.Clause{cl("_system.deleted", "$eq", `true`)}, true, []string{"x"}},
		{[]projection.Clause{cl("_system.deletedAt", "$exists", `true`)}, true, []string{"x"}},
		{[]projection.Clause{cl("_system.deletedAt", "$exists", `false`)}, true, live},
		{[]projection.Clause{cl("_system.deletedAt", "$eq", `null`)}, true, live},
		{[]projection.Clause{cl("_system.deletedAt", "$gte", at("x", 0))}, true, []string{"x"}},
		// Times compare at millisecond precision: 100µs before an event
		// is the event's millisecond (every suite time has ≥ 400µs).
		{[]projection.Clause{cl("_system.updatedAt", "$gte", at("h", 0))}, false, []string{"h", "i"}},
		{[]projection.Clause{cl("_system.updatedAt", "$gt", at("h", -100*time.Microsecond))}, false, []string{"i"}},
		{[]projection.Clause{cl("_system.updatedAt", "$lte", at("a", 100*time.Microsecond))}, false, []string{"a"}},
		{[]projection.Clause{cl("_system.insertedAt", "$lt", at("d", 0)), cl("_system.ov", "$eq", `1`)}, false, []string{"h", "i"}},
		{[]projection.Clause{cl("_system.updatedAt", "$in", "["+at("d", 0)+","+at("e", 0)+"]")}, false, []string{"d", "e"}},
	}
	for _, tt := range tests {
		q := projection.ListQuery{Filter: tt.filter, IncludeDeleted: tt.includeDeleted}
		got, _ := listIDs(ctx, t, s, orders, q)
		if !slices.Equal(got, tt.want) {
			t.Errorf("List(%s) = %q, want %q", showQuery(q), got, tt.want)
		}
	}

	// Items are heads as Head returns them.
	_, page := listIDs(ctx, t, s, orders, projection.ListQuery{IncludeDeleted: true})
	for _, d := range page.Items {
		checkDoc(t, "List item "+d.ID, &d, nil, expect(last[d.ID], true, inlineLimit(s)))
	}
}

func testListSort(t *testing.T, s projection.Store) {
	ctx := caseContext(t)
	in, _ := filterData(t, orders)
	applyAll(ctx, t, s, in)
	noArray := []projection.Clause{cl("_id", "$ne", `"g"`)}
	asc := func(f string) projection.SortKey { return projection.SortKey{Field: f} }
	desc := func(f string) projection.SortKey { return projection.SortKey{Field: f, Desc: true} }
	tests := []struct {
		sort []projection.SortKey
		want []string
	}{
		{nil, []string{"a", "b", "c", "d", "e", "f", "h", "i"}},
		// null/missing < numbers < strings < booleans; ties by _id.
		{[]projection.SortKey{asc("v")}, []string{"e", "f", "a", "b", "h", "c", "i", "d"}},
		{[]projection.SortKey{desc("v")}, []string{"d", "i", "c", "h", "a", "b", "e", "f"}},
		{[]projection.SortKey{asc("v"), desc("_id")}, []string{"f", "e", "b", "a", "h", "c", "i", "d"}},
		{[]projection.SortKey{desc("_id")}, []string{"i", "h", "f", "e", "d", "c", "b", "a"}},
		{[]projection.SortKey{asc("status"), desc("v")}, []string{"c", "h", "a", "e", "d", "i", "b", "f"}},
		{[]projection.SortKey{desc("status"), asc("v")}, []string{"f", "b", "i", "d", "e", "a", "h", "c"}},
		{[]projection.SortKey{desc("_system.ov"), asc("status")}, []string{"h", "i", "a", "c", "e", "b", "d", "f"}},
		{[]projection.SortKey{desc("_system.updatedAt")}, []string{"i", "h", "d", "f", "e", "c", "b", "a"}},
		{[]projection.SortKey{asc("_system.deletedAt"), desc("_system.creator.identifier")}, []string{"d", "a", "b", "c", "e", "f", "h", "i"}},
	}
	for _, tt := range tests {
		q := projection.ListQuery{Filter: noArray, Sort: tt.sort, Limit: 100}
		got, page := listIDs(ctx, t, s, orders, q)
		if !slices.Equal(got, tt.want) || page.Next != nil {
			t.Errorf("List(%s) = %q (next %v), want %q and no next page", showQuery(q), got, page.Next, tt.want)
			continue
		}
		for _, limit := range []int{1, 2, 3} {
			if got := pageAll(ctx, t, s, orders, q, limit, nil); !slices.Equal(got, tt.want) {
				t.Errorf("List(%s) in pages of %d = %q, want %q", showQuery(q), limit, got, tt.want)
			}
		}
	}
}

// testListTimeOrder orders by a time at millisecond precision: items 300µs
// apart share milliseconds, and within one they are ordered by _id.
func testListTimeOrder(t *testing.T, s projection.Store) {
	ctx := caseContext(t)
	in := newIngest(t)
	in.clock = time.Date(2025, 3, 1, 9, 0, 0, 100_500, time.UTC)
	in.gap = 300 * time.Microsecond
	for _, id := range []string{"t5", "t4", "t3", "t2", "t1"} { // .4005ms .7005ms 1.0005ms 1.3005ms 1.6005ms
		in.create(orders.Item(id), `{"status":"new"}`, write{actor: alice})
	}
	applyAll(ctx, t, s, in)
	for _, tt := range []struct {
		desc bool
		want []string
	}{
		{false, []string{"t4", "t5", "t1", "t2", "t3"}},
		{true, []string{"t1", "t2", "t3", "t4", "t5"}},
	} {
		q := projection.ListQuery{Sort: []projection.SortKey{{Field: "_system.updatedAt", Desc: tt.desc}}}
		for _, limit := range []int{1, 2, 10} {
			if got := pageAll(ctx, t, s, orders, q, limit, nil); !slices.Equal(got, tt.want) {
				t.Errorf("List(%s) in pages of %d = %q, want %q", showQuery(q), limit, got, tt.want)
			}
		}
	}
}
