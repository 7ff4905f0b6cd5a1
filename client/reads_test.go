package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/client"
	"github.com/chronos-go/chronos/events"
)

// A read with AfterWrite sees the write at once, every time; a sequence
// the read model never reaches is a *BehindError, not retried.
func TestClientReadYourWrites(t *testing.T) {
	ctx := context.Background()
	col, _ := handle(t, newClient(t))
	for i := range 10 {
		id := fmt.Sprintf("rw-%d", i)
		res := must(t)(col.Create(ctx, map[string]any{"n": i}, client.WithID(id)))
		it, err := col.Get(ctx, id, client.AfterWrite(res))
		if err != nil || it.System.Seq != res.Seq {
			t.Fatalf("read after create %d: %v %+v", i, err, it)
		}
		up := must(t)(col.Update(ctx, id, map[string]any{"n": i + 100}))
		it, err = col.Get(ctx, id, client.MinSeq(up.Seq))
		if err != nil || it.System.OV != 1 || !jsonEq(t, it.Data, fmt.Appendf(nil, `{"n":%d}`, i+100)) {
			t.Fatalf("read after update %d: %v %+v", i, err, it)
		}
		v, err := col.GetVersion(ctx, id, 0, client.AfterWrite(up), client.Fields("n"))
		if err != nil || !jsonEq(t, v.Data, fmt.Appendf(nil, `{"n":%d}`, i)) || v.System.OV != 0 {
			t.Fatalf("version 0 after update %d: %v %+v", i, err, v)
		}
	}
	last := must(t)(col.Create(ctx, map[string]any{"n": -1}))
	_, err := col.Get(ctx, last.ID, client.MinSeq(last.Seq+1_000_000))
	be, ok := err.(*client.BehindError) // unwrapped: no retries
	if !ok || !errors.Is(err, client.ErrBehind) || be.MinSeq != last.Seq+1_000_000 || be.Position < last.Seq || be.Message == "" {
		t.Fatalf("a sequence never reached: %T %v", err, err)
	}
}

// List pages through a filter and a sort; ListAll visits every item
// exactly once; a rejected filter names its field.
func TestClientList(t *testing.T) {
	ctx := context.Background()
	col, _ := handle(t, newClient(t))
	var last client.Result
	const n = 11
	for i := range n {
		last = must(t)(col.Create(ctx, map[string]any{"n": i, "parity": []string{"even", "odd"}[i%2], "note": "x"}, client.WithID(fmt.Sprintf("l-%02d", i))))
	}
	q := client.Query{Filter: map[string]any{"parity": "odd", "n": map[string]any{"$gte": 3}}, Sort: []client.SortKey{{Field: "n", Desc: true}}, Limit: 2, Count: true}
	p, err := col.List(ctx, q, client.AfterWrite(last), client.Fields("n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Total == nil || *p.Total != 4 || len(p.Items) != 2 || p.Cursor == "" {
		t.Fatalf("first page: total %v, %d items, cursor %q", p.Total, len(p.Items), p.Cursor)
	}
	if p.Items[0].ID != "l-09" || p.Items[1].ID != "l-07" || !jsonEq(t, p.Items[0].Data, []byte(`{"n":9}`)) {
		t.Fatalf("first page: %s %s %s", p.Items[0].ID, p.Items[1].ID, p.Items[0].Data)
	}
	q.Cursor = p.Cursor
	p, err = col.List(ctx, q, client.Fields("n"))
	if err != nil || len(p.Items) != 2 || p.Items[0].ID != "l-05" || p.Items[1].ID != "l-03" || p.Cursor != "" {
		t.Fatalf("second page: %v %+v", err, p)
	}

	var seen []string
	for it, err := range col.ListAll(ctx, client.Query{Limit: 3, Sort: []client.SortKey{{Field: "n"}}}) {
		if err != nil {
			t.Fatal(err)
		}
		if it.System.OV != 0 || it.System.Op != events.OpCreate {
			t.Fatalf("listed item without its _system: %+v", it)
		}
		seen = append(seen, it.ID)
	}
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("l-%02d", i)
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("ListAll visited %v, want each of %v once, in order", seen, want)
	}
	// Stopping early stops paging.
	count := 0
	for range col.ListAll(ctx, client.Query{Limit: 2}) {
		if count++; count == 3 {
			break
		}
	}
	if count != 3 {
		t.Fatalf("early stop after %d items", count)
	}

	for _, tc := range []struct {
		filter map[string]any
		field  string
	}{
		{map[string]any{"_system.nope": 1}, "filter._system.nope"},
		{map[string]any{"n": map[string]any{"$where": "1"}}, "filter.n.$where"},
	} {
		_, err = col.List(ctx, client.Query{Filter: tc.filter})
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != "invalid_input" || ae.Field != tc.field || !errors.Is(err, client.ErrInvalid) {
			t.Errorf("filter %v: %v, want a 400 naming %s", tc.filter, err, tc.field)
		}
	}
	for it, err := range col.ListAll(ctx, client.Query{Sort: []client.SortKey{{Field: "a.b"}}}) {
		var ae *client.APIError
		if it != nil || !errors.As(err, &ae) || ae.Field != "sort.a.b" {
			t.Fatalf("ListAll with a bad sort: %v %v", it, err)
		}
	}
}

// History pages through versions; AllVersions visits each once; Counters
// counts each write once.
func TestClientHistoryAndCounters(t *testing.T) {
	ctx := context.Background()
	col, _ := handle(t, newClient(t))
	must(t)(col.Create(ctx, map[string]any{"v": 0}, client.WithID("h")))
	var last client.Result
	for v := 1; v <= 6; v++ {
		last = must(t)(col.Update(ctx, "h", map[string]any{"v": v}))
	}
	last = must(t)(col.Delete(ctx, "h", client.WithReason("done")))

	p, err := col.History(ctx, "h", client.HistoryQuery{Limit: 3}, client.AfterWrite(last))
	if err != nil || len(p.Items) != 3 || p.Next == nil || *p.Next != 2 {
		t.Fatalf("first page: %v %+v", err, p)
	}
	if !jsonEq(t, p.Items[2].Data, []byte(`{"v":2}`)) {
		t.Fatalf("version 2: %s", p.Items[2].Data)
	}
	var ovs []uint64
	for it, err := range col.AllVersions(ctx, "h", client.HistoryQuery{Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		ovs = append(ovs, it.System.OV)
	}
	if !slices.Equal(ovs, []uint64{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("AllVersions visited ovs %v", ovs)
	}
	p, err = col.History(ctx, "h", client.HistoryQuery{Limit: 2, Desc: true})
	if err != nil || len(p.Items) != 2 || p.Items[0].System.OV != 7 || !p.Items[0].System.Deleted || p.Items[0].System.Reason != "done" {
		t.Fatalf("newest first: %v %+v", err, p)
	}
	if _, err := col.History(ctx, "never", client.HistoryQuery{}); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("history of an item that never existed: %v", err)
	}

	n, err := col.Counters(ctx, client.AfterWrite(last))
	if err != nil || n.Created != 1 || n.Updated != 6 || n.Deleted != 1 || n.LastSeq != last.Seq || n.LastAt == nil || !n.LastAt.Equal(last.At) {
		t.Fatalf("counters %v %+v, want 1 created, 6 updated, 1 deleted, last seq %d", err, n, last.Seq)
	}
	if _, err := col.Counters(ctx, client.Fields("v")); !errors.Is(err, client.ErrInvalidOption) {
		t.Fatalf("Counters with Fields: %v", err)
	}
}

// A tiered fetch finds the first tier holding the record, or merges all.
func TestClientTiered(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	name := coll(t).Name
	write := func(tier events.Tier, scope, doc string) {
		t.Helper()
		col := c.Collection(events.DBKnowledge, tier, scope, name)
		res := must(t)(col.Create(ctx, []byte(doc), client.WithID("cfg")))
		if _, err := col.Get(ctx, "cfg", client.AfterWrite(res)); err != nil {
			t.Fatal(err)
		}
	}
	write(events.TierGeneric, events.GenericScope, `{"theme":"light","features":["basic"],"limits":{"rps":10,"burst":20}}`)
	write(events.TierDomain, "retail", `{"features":["loyalty"],"limits":{"rps":50}}`)
	write(events.TierTenant, "acme", `{"theme":"dark","features":["basic","beta"]}`)

	res, err := c.Tiered(ctx, client.TieredQuery{DBType: events.DBKnowledge, Collection: name, Tenant: "acme", Domain: "retail", ID: "cfg", Merge: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.TiersFound, []events.Tier{events.TierGeneric, events.TierDomain, events.TierTenant}) || len(res.TierRecords) != 3 {
		t.Fatalf("tiers %v, %d records", res.TiersFound, len(res.TierRecords))
	}
	if !jsonEq(t, res.Data, []byte(`{"theme":"dark","features":["basic","loyalty","beta"],"limits":{"rps":50,"burst":20}}`)) {
		t.Fatalf("merged %s", res.Data)
	}
	if r := res.TierRecords[events.TierDomain]; r == nil || r.ID != "cfg" || !jsonEq(t, r.Data, []byte(`{"features":["loyalty"],"limits":{"rps":50}}`)) {
		t.Fatalf("domain record %+v", r)
	}
	res, err = c.Tiered(ctx, client.TieredQuery{DBType: events.DBKnowledge, Collection: name, Tenant: "other", Domain: "retail", Filter: map[string]any{"theme": map[string]any{"$exists": false}}})
	if err != nil || res.Tier != events.TierDomain || !jsonEq(t, res.Data, []byte(`{"features":["loyalty"],"limits":{"rps":50}}`)) {
		t.Fatalf("first found by filter: %v %+v", err, res)
	}
	if _, err := c.Tiered(ctx, client.TieredQuery{DBType: events.DBKnowledge, Collection: name, ID: "nope"}); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("no tier holds it: %v", err)
	}
	for _, q := range []client.TieredQuery{
		{DBType: events.DBRuntime, Collection: name, ID: "cfg"},
		{DBType: events.DBMetadata, Collection: name},
	} {
		if _, err := c.Tiered(ctx, q); !errors.Is(err, client.ErrInvalidOption) {
			t.Errorf("%+v: %v, want ErrInvalidOption", q, err)
		}
	}
	if _, err := c.Tiered(ctx, client.TieredQuery{DBType: events.DBKnowledge, Collection: name, ID: "cfg", Filter: map[string]any{"a": 1}}); err == nil || !strings.Contains(err.Error(), "exactly one") {
		t.Fatalf("ID and Filter: %v", err)
	}
}
