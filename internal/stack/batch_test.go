package stack_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/internal/stack"
)

func TestBatchPartialFailureInOrder(t *testing.T) {
	s := startStack(t, stack.Config{NoWorkers: true})
	base := s.URL() + ordersPath + "/items"
	mustStatus(t, call(t, "POST", base+"?id=old", `{"v":0}`), 201)
	body := `[
		{"id":"a","data":{"n":1}},
		{"data":{"n":2}},
		{"id":"old","data":{"v":1}},
		{"id":"old","data":{"v":2},"expectedOv":1},
		{"id":"old","data":{"v":"stale"},"expectedOv":0},
		{"id":"bad.id","data":{}},
		{"id":"b","data":[1]},
		{"id":"a","data":{"n":10}}
	]`
	r := mustStatus(t, call(t, "POST", base+":batch", body), 200).json(t)
	res := r["results"].([]any)
	want := []struct {
		status float64
		ov     any
		code   string
	}{{201, 0.0, ""}, {201, 0.0, ""}, {200, 1.0, ""}, {200, 2.0, ""}, {409, nil, "version_conflict"}, {400, nil, "invalid_input"}, {400, nil, "invalid_input"}, {200, 1.0, ""}}
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d: %v", len(res), len(want), res)
	}
	for i, w := range want {
		got := res[i].(map[string]any)
		code := ""
		if e, ok := got["error"].(map[string]any); ok {
			code, _ = e["code"].(string)
		}
		if got["status"] != w.status || got["ov"] != w.ov || code != w.code {
			t.Errorf("record %d: %v, want status %v ov %v code %q", i, got, w.status, w.ov, code)
		}
	}
	if e := res[4].(map[string]any)["error"].(map[string]any); e["currentOv"] != 2.0 {
		t.Errorf("conflict record: %v", e)
	}
	if id, _ := res[1].(map[string]any)["id"].(string); len(id) != 26 {
		t.Errorf("generated id %q is not a ULID", id)
	}
	ctx := context.Background()
	last, err := s.Log.Last(ctx, orders.Item("old"))
	if err != nil || string(last.Event.Payload) != `{"v":2}` {
		t.Fatalf("old: %+v %v", last, err)
	}
	// NDJSON, and an idempotent retry of the whole batch.
	nd := "{\"id\":\"n1\",\"data\":{\"x\":1}}\n\n{\"id\":\"n2\",\"data\":{\"x\":2}}\n"
	first := mustStatus(t, call(t, "POST", base+":batch", nd, "Content-Type", "application/x-ndjson", "Idempotency-Key", "batch-7"), 200)
	again := mustStatus(t, call(t, "POST", base+":batch", nd, "Content-Type", "application/x-ndjson", "Idempotency-Key", "batch-7"), 200)
	r1, r2 := first.json(t)["results"].([]any), again.json(t)["results"].([]any)
	for i := range r1 {
		a, b := r1[i].(map[string]any), r2[i].(map[string]any)
		if a["seq"] != b["seq"] || a["ov"] != b["ov"] || b["duplicate"] != true {
			t.Fatalf("retry record %d: first %v, again %v", i, a, b)
		}
	}
	mustStatus(t, call(t, "POST", base+":batch", `[]`), 400)
	mustStatus(t, call(t, "POST", base+":batch", `{"id":"x","data":{},"extra":1}`), 400)
	mustStatus(t, call(t, "POST", base+":batch?expectedOv=1", `[{"data":{}}]`), 400)
}

func TestBatchAtomicAllOrNothing(t *testing.T) {
	s := startStack(t, stack.Config{NoWorkers: true})
	base := s.URL() + ordersPath + "/items"
	mustStatus(t, call(t, "POST", base+"?id=x", `{"v":0}`), 201)
	ctx := context.Background()
	part := s.Log.Partition(orders)
	before, _ := s.Log.LastSeq(ctx, part)
	// One invalid record: nothing is written.
	r := mustStatus(t, call(t, "POST", base+":batch?atomic=true", `[{"id":"a1","data":{}},{"id":"a2","data":{"$bad":1}}]`), 400)
	if !strings.Contains(string(r.Body), "record 1") {
		t.Fatalf("400 body does not name the record: %s", r.Body)
	}
	// One stale expectation: nothing is written.
	mustStatus(t, call(t, "POST", base+":batch?atomic=true", `[{"id":"a1","data":{}},{"id":"x","data":{"v":9},"expectedOv":5}]`), 409)
	if after, _ := s.Log.LastSeq(ctx, part); after != before {
		t.Fatalf("rejected atomic batches wrote: %d -> %d", before, after)
	}
	ok := mustStatus(t, call(t, "POST", base+":batch?atomic=true", `[{"id":"a1","data":{"k":1}},{"id":"x","data":{"v":1},"expectedOv":0},{"data":{"k":3}}]`), 200).json(t)
	res := ok["results"].([]any)
	seq0 := res[0].(map[string]any)["seq"].(float64)
	for i, r := range res {
		m := r.(map[string]any)
		if m["seq"] != seq0+float64(i) {
			t.Fatalf("atomic batch not contiguous: %v", res)
		}
	}
	if after, _ := s.Log.LastSeq(ctx, part); after != before+3 {
		t.Fatalf("atomic batch stored %d events, want 3", after-before)
	}
	// Over the server's limit of 1,000 messages: a 400 before anything is sent.
	var b strings.Builder
	b.WriteString("[")
	for i := range 1001 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"data":{"i":%d}}`, i)
	}
	b.WriteString("]")
	mustStatus(t, call(t, "POST", base+":batch?atomic=true", b.String()), 400)
	mustStatus(t, call(t, "POST", base+":batch?atomic=true", `[{"id":"d","data":{}},{"id":"d","data":{}}]`), 400)
}
