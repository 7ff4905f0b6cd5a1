package stack_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/stack"
	"github.com/chronos-go/chronos/tenancy"
)

// Keys of the test configuration (their hashes go in through ENV tokens).
const (
	acmeKey   = "acme-secret-key-0001"
	globexKey = "globex-secret-key-0002"
	acmeRO    = "acme-readonly-key-0003"
)

func startTenantStack(t *testing.T) *stack.Stack {
	t.Helper()
	env := map[string]string{
		"BLOBS":          t.TempDir(),
		"ACME_KEY_SHA":   tenancy.HashKey(acmeKey),
		"GLOBEX_KEY_SHA": tenancy.HashKey(globexKey),
		"ACME_RO_SHA":    tenancy.HashKey(acmeRO),
	}
	cfg, err := tenancy.LoadEnv("testdata/tenants.json", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return startStack(t, stack.Config{Tenancy: cfg})
}

func bearer(key string) []string { return []string{"Authorization", "Bearer " + key} }

func TestTenantsRoutingValidationAndMeta(t *testing.T) {
	s := startTenantStack(t)
	acme := s.URL() + "/v1/runtime/tenant/acme/orders/items"
	// No key, a bad key, an unknown tenant.
	mustStatus(t, call(t, "GET", acme+"/x", ""), 401)
	mustStatus(t, call(t, "GET", acme+"/x", "", bearer("nope")...), 401)
	r := mustStatus(t, call(t, "POST", s.URL()+"/v1/runtime/tenant/initech/orders/items", `{"sku":"a","status":"new"}`, bearer(acmeKey)...), 403)
	if !strings.Contains(string(r.Body), "forbidden") {
		t.Fatalf("403 body %s", r.Body)
	}
	// The collection map: every missing required property is named.
	r = mustStatus(t, call(t, "POST", acme, `{"qty":1}`, bearer(acmeKey)...), 400)
	if !strings.Contains(string(r.Body), "missing: sku, status") {
		t.Fatalf("required props: %s", r.Body)
	}
	mustStatus(t, call(t, "POST", acme, `{"sku":"a","status":"new","photo":"not base64!"}`, bearer(acmeKey)...), 400)
	mustStatus(t, call(t, "POST", acme, `{"sku":"a","status":"new","photo":5}`, bearer(acmeKey)...), 400)
	mustStatus(t, call(t, "POST", acme+"?id=o1", `{"sku":"a","status":"new","photo":"iVBORw0KGgo=","qty":2}`, bearer(acmeKey)...), 201)
	last, err := s.Log.Last(context.Background(), events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "orders"}.Item("o1"))
	if err != nil || string(last.Event.Meta["sku"]) != `"a"` || string(last.Event.Meta["status"]) != `"new"` || last.Event.Meta["qty"] != nil {
		t.Fatalf("event meta %v, %v", last.Event.Meta, err)
	}
	// A read-only key reads, never writes.
	mustStatus(t, call(t, "POST", acme, `{"sku":"b","status":"new"}`, bearer(acmeRO)...), 403)
	eventually(t, "the projection of o1", func() bool { return call(t, "GET", acme+"/o1", "", bearer(acmeRO)...).Status == 200 })
	// The configured database names are used.
	if !strings.Contains(string(call(t, "GET", acme+"/o1", "", bearer(acmeKey)...).Body), `"sku":"a"`) {
		t.Fatal("read through the routed database failed")
	}
}

// Every route of the API, called with tenant A's key against tenant B,
// is refused with 403, and B's data is neither read nor written.
func TestCrossTenantWalkIsForbidden(t *testing.T) {
	s := startTenantStack(t)
	globex := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "globex", Name: "orders"}
	gbase := s.URL() + "/v1/runtime/tenant/globex/orders"
	mustStatus(t, call(t, "POST", gbase+"/items?id=secret", `{"sku":"classified","status":"x"}`, bearer(globexKey)...), 201)
	ctx := context.Background()
	before, err := s.Log.LastSeq(ctx, s.Log.Partition(globex))
	if err != nil {
		t.Fatal(err)
	}
	routes := s.Routes()
	if len(routes) < 10 {
		t.Fatalf("only %d routes: %v", len(routes), routes)
	}
	walked := 0
	for _, pat := range routes {
		method, path, _ := strings.Cut(pat, " ")
		if !strings.HasPrefix(path, "/v1/{dbType}") {
			continue
		}
		p := strings.NewReplacer("{dbType}", "runtime", "{tier}", "tenant", "{scope}", "globex", "{collection}", "orders", "{id}", "secret").Replace(path)
		body := ""
		if method != http.MethodGet && method != http.MethodDelete {
			body = `{"sku":"stolen","status":"x"}`
		}
		r := call(t, method, s.URL()+p, body, bearer(acmeKey)...)
		if r.Status != 403 {
			t.Errorf("%s with tenant A's key: status %d, want 403: %s", pat, r.Status, r.Body)
		}
		if strings.Contains(string(r.Body), "classified") {
			t.Errorf("%s leaked tenant B's data: %s", pat, r.Body)
		}
		walked++
	}
	if walked < 8 {
		t.Fatalf("walked only %d collection routes", walked)
	}
	// Admin routes need a global admin key.
	mustStatus(t, call(t, "GET", s.URL()+"/v1/admin/dlq", "", bearer(acmeKey)...), 403)
	after, _ := s.Log.LastSeq(ctx, s.Log.Partition(globex))
	if after != before {
		t.Fatalf("tenant A's key wrote to tenant B: last seq %d -> %d", before, after)
	}
	// B's own key still works.
	eventually(t, "B reading its own item", func() bool {
		return call(t, "GET", gbase+"/items/secret?ov=0", "", bearer(globexKey)...).Status == 200
	})
}
