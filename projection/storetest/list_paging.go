package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// testListPagingDuringWrites pages through 15 items by a sort key with
// ties while items are created, updated (sort key kept or changed) and
// deleted between pages: every item that stays unchanged in sort key and
// deletion is seen exactly once.
func testListPagingDuringWrites(t *testing.T, s projection.Store) {
	ctx := caseContext(t)
	in := newIngest(t)
	item := func(i int) events.ItemRef { return orders.Item(fmt.Sprintf("p%02d", i)) }
	for i := range 15 {
		in.create(item(i), fmt.Sprintf(`{"status":"new","rank":%d}`, i%5), write{actor: alice})
	}
	applyAll(ctx, t, s, in)
	one := func(ch projection.Change) { apply(ctx, t, s, []projection.Change{ch}) }
	between := func(page int) {
		switch page {
		case 0:
			one(in.create(orders.Item("n-first"), `{"status":"new","rank":-1}`, write{actor: bob}))
			one(in.create(orders.Item("n-last"), `{"status":"new","rank":99}`, write{actor: bob}))
			one(in.update(item(14), `{"status":"new","rank":4,"note":"same rank"}`, write{actor: bob}))
		case 1:
			one(in.update(item(0), `{"status":"new","rank":50}`, write{actor: bob}))
			one(in.delete(item(13), write{actor: bob}))
		}
	}
	q := projection.ListQuery{Sort: []projection.SortKey{{Field: "rank"}}}
	got := pageAll(ctx, t, s, orders, q, 4, between)
	seen := make(map[string]int)
	for _, id := range got {
		seen[id]++
	}
	for i := 1; i <= 14; i++ {
		if want := 1 - bool2int(i == 13); seen[item(i).ID] != want {
			t.Errorf("%s seen %d times, want %d (pages %q)", item(i).ID, seen[item(i).ID], want, got)
		}
	}
	if n := seen["p00"]; n < 1 || n > 2 {
		t.Errorf("p00 (moved after being seen) seen %d times, want 1 or 2 (pages %q)", n, got)
	}
	if seen["n-first"] != 0 || seen["n-last"] != 1 {
		t.Errorf("created behind the position: seen %d times, want 0; created ahead: %d, want 1 (pages %q)",
			seen["n-first"], seen["n-last"], got)
	}
}

func bool2int(b bool) int {
	if b {
		return 1
	}
	return 0
}

// testListFields checks Fields: Data and Meta hold only the named props in
// the payload's order, the sort key still pages when not named, a head
// without an inline payload has Data nil, and indexed props of such a head
// are still filtered on.
func testListFields(t *testing.T, s projection.Store) {
	ctx := caseContext(t)
	limit := inlineLimit(s)
	in := newIngest(t)
	a := in.create(orders.Item("a"), `{"status":"new","n":1,"price":10,"note":"x"}`, write{actor: alice})
	b := in.create(orders.Item("b"), `{"price":5,"status":"paid","n":2}`, write{actor: alice})
	big := in.create(orders.Item("big"), `{"status":"new","n":3,"price":7}`, write{actor: alice, claim: true})
	applyAll(ctx, t, s, in)

	want := func(ch projection.Change, data string, meta map[string]string) projection.Doc {
		d := expect(ch, true, limit)
		if d.Data != nil {
			d.Data = []byte(data)
		}
		d.Meta = nil
		for k, v := range meta {
			if d.Meta == nil {
				d.Meta = make(map[string]json.RawMessage)
			}
			d.Meta[k] = json.RawMessage(v)
		}
		return d
	}
	check := func(q projection.ListQuery, wants ...projection.Doc) {
		t.Helper()
		var docs []projection.Doc
		q.Limit = 1
		for pages := 0; pages < 10; pages++ {
			p, err := s.List(ctx, orders, q)
			if err != nil {
				t.Fatalf("List(fields %q): %v", q.Fields, err)
			}
			docs = append(docs, p.Items...)
			if p.Next == nil {
				break
			}
			q.After = p.Next
		}
		if len(docs) != len(wants) {
			t.Errorf("List(fields %q): %d items, want %d", q.Fields, len(docs), len(wants))
			return
		}
		for i := range docs {
			checkDoc(t, fmt.Sprintf("List(fields %q)[%d]", q.Fields, i), &docs[i], nil, wants[i])
		}
	}
	byN := []projection.SortKey{{Field: "n", Desc: true}}
	check(projection.ListQuery{Fields: []string{"price", "status"}, Sort: byN},
		want(big, "", map[string]string{"status": `"new"`}),
		want(b, `{"price":5,"status":"paid"}`, map[string]string{"status": `"paid"`}),
		want(a, `{"status":"new","price":10}`, map[string]string{"status": `"new"`}))
	check(projection.ListQuery{Fields: []string{}, Sort: byN},
		want(big, "", nil), want(b, `{}`, nil), want(a, `{}`, nil))
	check(projection.ListQuery{Fields: []string{"nothing", "_id"}, Filter: []projection.Clause{cl("status", "$eq", `"new"`)}},
		want(a, `{}`, nil), want(big, "", nil))
	check(projection.ListQuery{Filter: []projection.Clause{cl("status", "$eq", `"new"`)}},
		expect(a, true, limit), expect(big, true, limit))
}

func testListCountAndLimits(t *testing.T, s projection.Store) {
	ctx := caseContext(t)
	in := newIngest(t)
	for i := range 52 {
		status := []string{"new", "paid"}[i%2]
		in.create(orders.Item(fmt.Sprintf("c%02d", i)), fmt.Sprintf(`{"status":%q,"n":%d}`, status, i), write{actor: alice})
	}
	in.delete(orders.Item("c00"), write{actor: alice})
	applyAll(ctx, t, s, in)

	ids, page := listIDs(ctx, t, s, orders, projection.ListQuery{})
	if len(ids) != projection.DefaultListLimit || page.Next == nil || page.Total != nil {
		t.Errorf("List() without a limit: %d items, next %v, total %v; want %d, a cursor and no total",
			len(ids), page.Next, page.Total, projection.DefaultListLimit)
	}
	ids, page = listIDs(ctx, t, s, orders, projection.ListQuery{Limit: projection.MaxListLimit})
	if len(ids) != 51 || page.Next != nil {
		t.Errorf("List(limit %d): %d items, next %v; want 51 and none", projection.MaxListLimit, len(ids), page.Next)
	}

	isNew := []projection.Clause{cl("status", "$eq", `"new"`)}
	q := projection.ListQuery{Filter: isNew, Count: true, Limit: 5}
	for pages := 0; ; pages++ {
		_, page := listIDs(ctx, t, s, orders, q)
		if page.Total == nil || *page.Total != 25 {
			t.Fatalf("List(%s, count) page %d: total %v, want 25 on every page", showQuery(q), pages, page.Total)
		}
		if page.Next == nil || pages > 10 {
			break
		}
		q.After = page.Next
	}
	q = projection.ListQuery{Filter: isNew, Count: true, IncludeDeleted: true, Limit: 1}
	if _, page := listIDs(ctx, t, s, orders, q); page.Total == nil || *page.Total != 26 {
		t.Errorf("List(%s, count): total %v, want 26", showQuery(q), page.Total)
	}
	q = projection.ListQuery{Filter: []projection.Clause{cl("n", "$gt", `1000`)}, Count: true}
	if ids, page := listIDs(ctx, t, s, orders, q); len(ids) != 0 || page.Total == nil || *page.Total != 0 || page.Next != nil {
		t.Errorf("List(%s, count) = %q, total %v, next %v; want nothing, 0 and no cursor", showQuery(q), ids, page.Total, page.Next)
	}

	for _, bad := range []projection.ListQuery{
		{Limit: -1},
		{Limit: projection.MaxListLimit + 1},
		{Filter: []projection.Clause{cl("status", "$regex", `"^n"`)}},
		{Filter: []projection.Clause{cl("status", "$where", `"true"`)}},
	} {
		if _, err := s.List(ctx, orders, bad); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("List(%s) = %v, want an error matching events.ErrInvalid", showQuery(bad), err)
		}
	}
}

// testListIsolation lists the same ids in collections and tenants that
// must not see each other.
func testListIsolation(t *testing.T, s projection.Store) {
	ctx := caseContext(t)
	in := newIngest(t)
	colls := []events.Collection{
		orders,
		{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "invoices"},
		{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "globex", Name: "orders"},
		{DBType: events.DBRuntime, Tier: events.TierDomain, Scope: "acme", Name: "orders"},
	}
	for i, c := range colls {
		for j := 0; j <= i; j++ {
			in.create(c.Item(fmt.Sprintf("x%d", j)), fmt.Sprintf(`{"status":"new","owner":%q}`, c), write{actor: alice})
		}
	}
	applyAll(ctx, t, s, in)
	for i, c := range colls {
		q := projection.ListQuery{Filter: []projection.Clause{cl("status", "$eq", `"new"`)}, Count: true}
		_, page := listIDs(ctx, t, s, c, q)
		if len(page.Items) != i+1 || page.Total == nil || *page.Total != int64(i+1) {
			t.Errorf("List(%s): %d items, total %v; want %d", c, len(page.Items), page.Total, i+1)
			continue
		}
		for _, d := range page.Items {
			if !jsonEqual(d.Data, fmt.Appendf(nil, `{"status":"new","owner":%q}`, c)) {
				t.Errorf("List(%s) returned %s", c, d.Data)
			}
		}
	}
	nowhere := events.Collection{DBType: events.DBLogs, Tier: events.TierTenant, Scope: "nobody", Name: "nothing"}
	if ids, page := listIDs(ctx, t, s, nowhere, projection.ListQuery{Count: true}); len(ids) != 0 || page.Next != nil || page.Total == nil || *page.Total != 0 {
		t.Errorf("List(unknown collection) = %q, next %v, total %v; want an empty page", ids, page.Next, page.Total)
	}
}

// testHistoryDesc pages through an item's versions newest first.
func testHistoryDesc(t *testing.T, s projection.Store) {
	ctx := caseContext(t)
	in := newIngest(t)
	ref := orders.Item("h")
	steps := []projection.Change{in.create(ref, `{"status":"new","n":0}`, write{actor: alice})}
	for i := 1; i < 5; i++ {
		steps = append(steps, in.update(ref, fmt.Sprintf(`{"status":"new","n":%d}`, i), write{actor: bob}))
	}
	apply(ctx, t, s, steps)
	rev := slices.Clone(steps)
	slices.Reverse(rev)
	checkHistory(ctx, t, s, ref, projection.HistoryQuery{Desc: true}, rev)
	var after *uint64
	for page := 0; page < 3; page++ {
		want := rev[page*2 : min(page*2+2, len(rev))]
		checkHistory(ctx, t, s, ref, projection.HistoryQuery{AfterOV: after, Limit: 2, Desc: true}, want)
		ov := want[len(want)-1].Event.OV
		after = &ov
	}
	checkHistory(ctx, t, s, ref, projection.HistoryQuery{AfterOV: after, Limit: 2, Desc: true}, nil)
}
