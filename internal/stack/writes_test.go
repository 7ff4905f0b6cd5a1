package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/internal/stack"
)

func TestEnrichDeepMergesWithArrayUnion(t *testing.T) {
	s := startStack(t, stack.Config{})
	base := s.URL() + ordersPath + "/items"
	mustStatus(t, call(t, "POST", base+"?id=e", `{"tags":["a"],"meta":{"x":1},"n":1}`), 201)
	r := mustStatus(t, call(t, "PATCH", base+"/e", `[{"tags":["b"]},{"meta":{"y":2}},{"tags":["a","c"],"n":2}]`,
		"Chronos-Function-Id", "enricher@v1", "Chronos-Actor", "agent:bot-7"), 200).json(t)
	if r["ov"] != 1.0 {
		t.Fatalf("enrich response %v", r)
	}
	mustStatus(t, call(t, "PATCH", base+"/e", `{"more":true}`, "Chronos-Function-Id", "enricher@v2", "If-Match", `"1"`), 200)
	want := `{"tags":["a","b","c"],"meta":{"x":1,"y":2},"n":2,"more":true}`
	eventually(t, "the projection of the enrich", func() bool {
		r := call(t, "GET", base+"/e", "")
		return r.Status == 200 && jsonEqual(t, userData(t, r.Body), []byte(want))
	})
	sys := call(t, "GET", base+"/e", "").json(t)["_system"].(map[string]any)
	fids, _ := sys["functionIds"].([]any)
	if len(fids) != 2 || fids[0] != "enricher@v1" || fids[1] != "enricher@v2" || sys["op"] != "enrich" {
		t.Fatalf("_system %v", sys)
	}
	// A stale expected ov is a conflict; a patch that breaks a rule is a 400.
	mustStatus(t, call(t, "PATCH", base+"/e", `{"x":1}`, "If-Match", `"0"`), 409)
	mustStatus(t, call(t, "PATCH", base+"/e", `{"$set":{"x":1}}`), 400)
	mustStatus(t, call(t, "PATCH", base+"/e", `[]`), 400)
	mustStatus(t, call(t, "PATCH", base+"/e", `[{"a":1},[2]]`), 400)
	mustStatus(t, call(t, "PATCH", base+"/nope", `{"x":1}`), 404)
}

func TestRestoreItemByVersionAndTime(t *testing.T) {
	s := startStack(t, stack.Config{})
	base := s.URL() + ordersPath + "/items"
	c0 := mustStatus(t, call(t, "POST", base+"?id=r", `{"n":0}`), 201).json(t)
	c1 := mustStatus(t, call(t, "PUT", base+"/r", `{"n":1}`), 200).json(t)
	mustStatus(t, call(t, "DELETE", base+"/r", ""), 200)

	// Restore v0 onto the deleted item: it comes back as ov 3.
	r := mustStatus(t, call(t, "POST", base+"/r/restore", `{"ov":0}`, "Chronos-Reason", "undo"), 200).json(t)
	if r["ov"] != 3.0 {
		t.Fatalf("restore response %v", r)
	}
	// Restore the state as of v1's time: ov 4 carries {"n":1}.
	at := c1["at"].(string)
	mustStatus(t, call(t, "POST", base+"/r/restore", `{"at":"`+at+`"}`), 200)
	eventually(t, "the projection of the restores", func() bool {
		r := call(t, "GET", base+"/r", "")
		return r.Status == 200 && r.json(t)["_system"].(map[string]any)["ov"] == 4.0
	})
	v3 := mustStatus(t, call(t, "GET", base+"/r?ov=3", ""), 200)
	sys3 := v3.json(t)["_system"].(map[string]any)
	if !jsonEqual(t, userData(t, v3.Body), []byte(`{"n":0}`)) || sys3["restoredFrom"] != 0.0 || sys3["deleted"] != false || sys3["op"] != "restore" || sys3["reason"] != "undo" {
		t.Fatalf("v3 %s", v3.Body)
	}
	latest := mustStatus(t, call(t, "GET", base+"/r", ""), 200)
	if !jsonEqual(t, userData(t, latest.Body), []byte(`{"n":1}`)) || latest.json(t)["_system"].(map[string]any)["restoredFrom"] != 1.0 {
		t.Fatalf("latest %s", latest.Body)
	}
	// Errors: before creation, a version that never existed, bad bodies.
	before := parseTime(t, c0["at"]).Add(-time.Second).Format(time.RFC3339Nano)
	mustStatus(t, call(t, "POST", base+"/r/restore", `{"at":"`+before+`"}`), 404)
	mustStatus(t, call(t, "POST", base+"/r/restore", `{"ov":42}`), 404)
	mustStatus(t, call(t, "POST", base+"/r/restore", `{}`), 400)
	mustStatus(t, call(t, "POST", base+"/r/restore", `{"ov":1,"at":"`+at+`"}`), 400)
	mustStatus(t, call(t, "POST", base+"/r/restore", `{"version":1}`), 400)
	mustStatus(t, call(t, "POST", base+"/r/restore", `{"ov":0}`, "If-Match", `"2"`), 409)
}

// Documents over the claim-check threshold are uploaded first; the event
// carries a reference and readers never notice.
func TestClaimCheckIsTransparent(t *testing.T) {
	s := startStack(t, stack.Config{})
	base := s.URL() + ordersPath + "/items"
	big := `{"blob":"` + strings.Repeat("0123456789abcdef", 20<<10) + `","n":1}` // ~320 KiB
	mustStatus(t, call(t, "POST", base+"?id=big", big), 201)
	last, err := s.Log.Last(context.Background(), orders.Item("big"))
	if err != nil {
		t.Fatal(err)
	}
	if last.Event.PayloadRef == nil || len(last.Event.Payload) != 0 || last.Event.PayloadRef.Size != int64(len(big)) {
		t.Fatalf("event not claim-checked: ref %+v, inline %d bytes", last.Event.PayloadRef, len(last.Event.Payload))
	}
	mustStatus(t, call(t, "PATCH", base+"/big", `{"extra":[1]}`), 200)
	eventually(t, "the projection of the enrich", func() bool {
		r := call(t, "GET", base+"/big", "")
		return r.Status == 200 && r.json(t)["_system"].(map[string]any)["ov"] == 1.0
	})
	r := mustStatus(t, call(t, "GET", base+"/big", ""), 200)
	var doc map[string]any
	if err := json.Unmarshal(userData(t, r.Body), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc["blob"].(string)) != 20<<14 || doc["n"] != 1.0 || fmt.Sprint(doc["extra"]) != "[1]" {
		t.Fatalf("latest of a claim-checked item: %d keys", len(doc))
	}
	v0 := mustStatus(t, call(t, "GET", base+"/big?ov=0", ""), 200)
	if !jsonEqual(t, userData(t, v0.Body), []byte(big)) {
		t.Fatal("version 0 of a claim-checked item differs from what was written")
	}
}

// Lineage headers fill _system.parent*/origin* as the seed READMEs show:
// an explicit origin with its external system, or the parent's origin
// inherited down a chain.
func TestLineageHeaders(t *testing.T) {
	s := startStack(t, stack.Config{})
	base := s.URL() + "/v1/runtime/tenant/acme"
	mustStatus(t, call(t, "POST", base+"/customers/items?id=c1", `{"n":1}`, "Chronos-Origin", "stripe:customers/cus_123"), 201)
	mustStatus(t, call(t, "POST", base+"/orders/items?id=o1", `{"n":2}`, "Chronos-Parent", "customers/c1"), 201)
	mustStatus(t, call(t, "POST", base+"/lines/items?id=l1", `{"n":3}`, "Chronos-Parent", `{"collection":"orders","id":"o1"}`), 201)
	mustStatus(t, call(t, "POST", base+"/orders/items?id=o2", `{"n":4}`, "Chronos-Parent", "nope"), 400)
	mustStatus(t, call(t, "POST", base+"/orders/items?id=o2", `{"n":4}`, "Chronos-Parent", "a:b/c"), 201) // no system on a parent: "a:b" is the collection name
	var sys map[string]any
	eventually(t, "the projection of l1", func() bool {
		r := call(t, "GET", base+"/lines/items/l1", "")
		if r.Status != 200 {
			return false
		}
		sys = r.json(t)["_system"].(map[string]any)
		return true
	})
	if sys["parentId"] != "o1" || sys["parentCollection"] != "orders" || sys["originId"] != "cus_123" || sys["originCollection"] != "stripe:customers" {
		t.Fatalf("l1 lineage %v", sys)
	}
}
