package tenancy

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// A self-authorized path needs a valid key, not a global admin one, and
// hands the principal to the handler, which checks the scopes it reads.
func TestMiddlewareSelfAuthorized(t *testing.T) {
	z, err := NewAuthorizer(&Auth{Keys: []APIKey{{Name: "t", SHA256: Secret(HashKey("tenant-key-0001")), Tenants: []string{"acme"}, Rights: []Right{RightRead}}}})
	if err != nil {
		t.Fatal(err)
	}
	var sawPrincipal bool
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, sawPrincipal = PrincipalFrom(r.Context())
		w.WriteHeader(204)
	})
	h := z.Middleware(next, MiddlewareOptions{SelfAuthorized: []string{"/v1/knowledge/tiered/"}})
	call := func(path, key string) int {
		r := httptest.NewRequest("GET", path, nil)
		if key != "" {
			r.Header.Set("Authorization", "Bearer "+key)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if c := call("/v1/knowledge/tiered/topics?tenant=acme", "tenant-key-0001"); c != 204 || !sawPrincipal {
		t.Fatalf("self-authorized path with a tenant key: %d, principal %v", c, sawPrincipal)
	}
	if c := call("/v1/knowledge/tiered/topics", ""); c != 401 {
		t.Fatalf("self-authorized path without a key: %d", c)
	}
	if c := call("/v1/admin/dlq", "tenant-key-0001"); c != 403 {
		t.Fatalf("other non-collection path with a tenant key: %d", c)
	}
}
