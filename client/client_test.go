package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/client"
	"github.com/chronos-go/chronos/events"
)

func newClient(t testing.TB, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(apiURL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func handle(t testing.TB, c *client.Client) (*client.Collection, events.Collection) {
	ref := coll(t)
	return c.Collection(ref.DBType, ref.Tier, ref.Scope, ref.Name), ref
}

func jsonEq(t testing.TB, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%v: %s", err, a)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return reflect.DeepEqual(x, y)
}

// getOV waits until the read model has version ov of id as its head.
func getOV(t testing.TB, col *client.Collection, id string, ov uint64, opts ...client.ReadOption) *client.Item {
	t.Helper()
	var it *client.Item
	eventually(t, "the projection of "+id, func() bool {
		var err error
		it, err = col.Get(context.Background(), id, opts...)
		return err == nil && it.System.OV == ov
	})
	return it
}

func must(t testing.TB) func(client.Result, error) client.Result {
	return func(res client.Result, err error) client.Result {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
}

// Every write and read of the API, through the client, end to end.
func TestClientRoundTrip(t *testing.T) {
	ctx := context.Background()
	col, _ := handle(t, newClient(t))
	ann := events.Actor{Type: "user", Identifier: "u-1", Name: "Ann Ö"}

	c := must(t)(col.Create(ctx, map[string]any{"sku": "A-1", "qty": 1, "tags": []string{"new"}},
		client.WithID("o-1"), client.WithActor(ann), client.WithReason("checkout")))
	if c.ID != "o-1" || c.OV != 0 || c.Seq == 0 || c.CV != c.Seq || c.At.IsZero() || c.Duplicate {
		t.Fatalf("create %+v", c)
	}
	it := getOV(t, col, "o-1", 0)
	if !jsonEq(t, it.Data, []byte(`{"sku":"A-1","qty":1,"tags":["new"]}`)) || it.ID != "o-1" {
		t.Fatalf("get: %s %+v", it.Data, it)
	}
	if s := it.System; s.Creator == nil || !reflect.DeepEqual(*s.Creator, ann) || s.Reason != "checkout" || s.Op != events.OpCreate || !s.InsertedAt.Equal(c.At) || s.Seq != c.Seq {
		t.Fatalf("system %+v", it.System)
	}
	var doc struct{ SKU string }
	if err := it.Decode(&doc); err != nil || doc.SKU != "A-1" {
		t.Fatalf("decode %+v %v", doc, err)
	}

	u := must(t)(col.Update(ctx, "o-1", json.RawMessage(`{"sku":"A-1","qty":2,"tags":["new"]}`), client.WithExpectedOV(0)))
	if u.OV != 1 || !u.At.After(c.At) {
		t.Fatalf("update %+v", u)
	}
	e := must(t)(col.Enrich(ctx, "o-1", []any{map[string]any{"tags": []string{"paid"}}, []byte(`{"meta":{"x":1}}`)},
		client.WithFunctionID("enricher@v1"), client.WithExpectedOV(1)))
	if e.OV != 2 {
		t.Fatalf("enrich %+v", e)
	}
	it = getOV(t, col, "o-1", 2)
	if !jsonEq(t, it.Data, []byte(`{"sku":"A-1","qty":2,"tags":["new","paid"],"meta":{"x":1}}`)) ||
		!reflect.DeepEqual(it.System.FunctionIDs, []string{"enricher@v1"}) || it.System.Op != events.OpEnrich {
		t.Fatalf("enriched %s %+v", it.Data, it.System)
	}
	if v1, err := col.GetVersion(ctx, "o-1", 1); err != nil || !jsonEq(t, v1.Data, []byte(`{"sku":"A-1","qty":2,"tags":["new"]}`)) || v1.System.OV != 1 {
		t.Fatalf("version 1: %+v %v", v1, err)
	}
	if a, err := col.GetAsOf(ctx, "o-1", u.At); err != nil || a.System.OV != 1 {
		t.Fatalf("as of v1's time: %+v %v", a, err)
	}

	d := must(t)(col.Delete(ctx, "o-1", client.WithExpectedOV(2)))
	if d.OV != 3 {
		t.Fatalf("delete %+v", d)
	}
	getOV(t, col, "o-1", 3, client.IncludeDeleted())
	if _, err := col.Get(ctx, "o-1"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("get of a deleted item: %v", err)
	}
	if it, err := col.Get(ctx, "o-1", client.IncludeDeleted()); err != nil || !it.System.Deleted || it.System.DeletedAt == nil {
		t.Fatalf("get with IncludeDeleted: %+v %v", it, err)
	}
	if _, err := col.GetAsOf(ctx, "o-1", d.At); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("as of the deletion: %v", err)
	}

	r := must(t)(col.Restore(ctx, "o-1", client.RestoreOV(0), client.WithReason("undo")))
	r2 := must(t)(col.Restore(ctx, "o-1", client.RestoreAt(u.At)))
	if r.OV != 4 || r2.OV != 5 {
		t.Fatalf("restores %+v %+v", r, r2)
	}
	it = getOV(t, col, "o-1", 5)
	if !jsonEq(t, it.Data, []byte(`{"sku":"A-1","qty":2,"tags":["new"]}`)) || it.System.RestoredFrom == nil || *it.System.RestoredFrom != 1 {
		t.Fatalf("restored %s %+v", it.Data, it.System)
	}

	// A create without an id gets a ULID.
	g := must(t)(col.Create(ctx, json.RawMessage(`{"n":1}`)))
	if len(g.ID) != 26 {
		t.Fatalf("generated id %q", g.ID)
	}
}

func TestClientBatch(t *testing.T) {
	ctx := context.Background()
	col, ref := handle(t, newClient(t))
	must(t)(col.Create(ctx, map[string]int{"v": 0}, client.WithID("old")))
	zero, one := uint64(0), uint64(1)
	res, err := col.Batch(ctx, []client.Record{
		{ID: "a", Data: map[string]int{"n": 1}},
		{Data: json.RawMessage(`{"n":2}`)},
		{ID: "old", Data: map[string]int{"v": 1}, ExpectedOV: &zero},
		{ID: "old", Data: map[string]any{"v": "stale"}, ExpectedOV: &zero},
		{ID: "b", Data: json.RawMessage(`{"$x":1}`)},
	}, false, client.WithIdempotencyKey("batch-"+client.NewID()))
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != 201 || res[0].OV != 0 || res[0].ID != "a" || res[0].Err != nil ||
		len(res[1].ID) != 26 || res[1].Status != 201 || res[2].OV != 1 || res[2].Status != 200 {
		t.Fatalf("results %+v", res)
	}
	var ce *client.ConflictError
	if !errors.As(res[3].Err, &ce) || ce.CurrentOV != 1 || ce.ID != "old" {
		t.Fatalf("stale record: %+v", res[3])
	}
	if !errors.Is(res[4].Err, client.ErrInvalid) || res[4].Status != 400 {
		t.Fatalf("invalid record: %+v", res[4])
	}

	// Atomic: one stale record writes nothing, and the call fails.
	s0, _ := srv.Log.LastSeq(ctx, srv.Log.Partition(ref))
	_, err = col.Batch(ctx, []client.Record{{ID: "c", Data: map[string]int{}}, {ID: "old", Data: map[string]int{}, ExpectedOV: &zero}}, true)
	if !errors.Is(err, client.ErrConflict) {
		t.Fatalf("stale atomic batch: %v", err)
	}
	if s1, _ := srv.Log.LastSeq(ctx, srv.Log.Partition(ref)); s1 != s0 {
		t.Fatalf("a rejected atomic batch wrote: seq %d -> %d", s0, s1)
	}
	res, err = col.Batch(ctx, []client.Record{{ID: "c", Data: map[string]int{}}, {ID: "old", Data: map[string]int{"v": 2}, ExpectedOV: &one}}, true)
	if err != nil || res[0].Status != 201 || res[1].OV != 2 || res[1].Seq != res[0].Seq+1 {
		t.Fatalf("atomic batch: %+v %v", res, err)
	}
	if _, err := col.Batch(ctx, make([]client.Record, client.MaxAtomicBatch+1), true); !errors.Is(err, client.ErrInvalidOption) {
		t.Fatalf("oversized atomic batch: %v", err)
	}
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	col, ref := handle(t, newClient(t))
	must(t)(col.Create(ctx, map[string]int{"n": 0}, client.WithID("x")))
	must(t)(col.Update(ctx, "x", map[string]int{"n": 1}))
	part := srv.Log.Partition(ref)
	before, _ := srv.Log.LastSeq(ctx, part)

	// 409: a stale expected version, with the current one.
	_, err := col.Update(ctx, "x", map[string]int{"n": 9}, client.WithExpectedOV(0))
	var ce *client.ConflictError
	if !errors.As(err, &ce) || ce.CurrentOV != 1 || ce.ExpectedOV != 0 || ce.ID != "x" || !errors.Is(err, client.ErrConflict) {
		t.Fatalf("stale update: %#v", err)
	}
	if _, err := col.Delete(ctx, "x", client.WithExpectedOV(7)); !errors.As(err, &ce) || ce.CurrentOV != 1 {
		t.Fatalf("stale delete: %v", err)
	}
	if after, _ := srv.Log.LastSeq(ctx, part); after != before {
		t.Fatalf("a conflicting write reached the log: %d -> %d", before, after)
	}
	// A taken id.
	_, err = col.Create(ctx, map[string]int{}, client.WithID("x"))
	var ae *client.APIError
	if !errors.Is(err, client.ErrExists) || !errors.Is(err, client.ErrConflict) || !errors.As(err, &ae) || ae.Code != "already_exists" {
		t.Fatalf("create of a taken id: %v", err)
	}
	// 404.
	for _, err := range []error{
		func() error { _, err := col.Update(ctx, "nope", map[string]int{}); return err }(),
		func() error { _, err := col.Get(ctx, "nope"); return err }(),
		func() error { _, err := col.GetVersion(ctx, "x", 42); return err }(),
		func() error { _, err := col.Restore(ctx, "x", client.RestoreOV(42)); return err }(),
	} {
		if !errors.Is(err, client.ErrNotFound) || !errors.As(err, &ae) || ae.Status != 404 {
			t.Errorf("want ErrNotFound, got %v", err)
		}
	}
	// 400: the server's message is kept.
	_, err = col.Create(ctx, json.RawMessage(`{"a":{"$gt":1}}`))
	if !errors.Is(err, client.ErrInvalid) || !errors.As(err, &ae) || ae.Status != 400 || ae.Code != "invalid_input" ||
		!strings.Contains(ae.Message, "document.a.$gt") || !strings.Contains(err.Error(), "keys must not start with '$'") {
		t.Fatalf("invalid document: %#v", err)
	}
	// Refused before sending anything.
	bad := newClient(t).Collection("runtime", "tenant", "acme", "no.dots")
	for _, err := range []error{
		func() error { _, err := bad.Create(ctx, map[string]int{}); return err }(),
		func() error { _, err := col.Get(ctx, "a/b"); return err }(),
		func() error { _, err := col.Create(ctx, json.RawMessage(`{"a":`)); return err }(),
		func() error { _, err := col.Create(ctx, nil); return err }(),
	} {
		if !errors.Is(err, client.ErrInvalid) {
			t.Errorf("want ErrInvalid, got %v", err)
		}
	}
	for _, err := range []error{
		func() error { _, err := col.Create(ctx, map[string]int{}, client.WithExpectedOV(1)); return err }(),
		func() error { _, err := col.Update(ctx, "x", map[string]int{}, client.WithID("y")); return err }(),
		func() error { _, err := col.Update(ctx, "x", map[string]int{}, client.WithFunctionID("f")); return err }(),
		func() error {
			_, err := col.Update(ctx, "x", map[string]int{}, client.WithIdempotencyKey("has space"))
			return err
		}(),
		func() error { _, err := col.Enrich(ctx, "x", nil); return err }(),
		func() error { _, err := col.Restore(ctx, "x", client.RestoreTarget{}); return err }(),
	} {
		if !errors.Is(err, client.ErrInvalidOption) {
			t.Errorf("want ErrInvalidOption, got %v", err)
		}
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		url  string
		opts []client.Option
		ok   bool
	}{
		{"http://127.0.0.1:8080", nil, true},
		{"https://chronos.example.com/api/", nil, true},
		{"ftp://x", nil, false},
		{"127.0.0.1:8080", nil, false},
		{"http://", nil, false},
		{"http://h/?q=1", nil, false},
		{"http://user:pw@h", nil, false},
		{"http://h", []client.Option{client.WithAPIKey("")}, false},
		{"http://h", []client.Option{client.WithAPIKey("a b")}, false},
		{"http://h", []client.Option{client.WithHTTPClient(nil)}, false},
		{"http://h", []client.Option{client.WithTimeout(0)}, false},
		{"http://h", []client.Option{client.WithUserAgent("a\nb")}, false},
		{"http://h", []client.Option{client.WithRetry(client.RetryPolicy{MaxAttempts: -1})}, false},
		{"http://h", []client.Option{client.WithRetry(client.RetryPolicy{InitialInterval: time.Second, MaxInterval: time.Millisecond})}, false},
		{"http://h", []client.Option{client.WithRetry(client.NoRetry), client.WithAPIKey("k"), client.WithTimeout(time.Second)}, true},
	}
	for _, tc := range tests {
		_, err := client.New(tc.url, tc.opts...)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, client.ErrInvalidOption)) {
			t.Errorf("New(%q): %v", tc.url, err)
		}
	}
}
