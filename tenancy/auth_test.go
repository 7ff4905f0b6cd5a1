package tenancy

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/events"
)

// testKeys are API keys (the key is the name + "-secret") and their grants.
var testKeys = []APIKey{
	{Name: "acme-rw", Tenants: []string{"acme"}, Rights: []Right{RightRead, RightWrite}},
	{Name: "acme-ro", Tenants: []string{"acme"}, Rights: []Right{RightRead}},
	{Name: "acme-wo", Tenants: []string{"acme"}, Rights: []Right{RightWrite}},
	{Name: "fin", Domains: []string{"fin"}, Rights: []Right{RightRead, RightWrite}},
	{Name: "gen", Generic: true, Rights: []Right{RightRead}},
	{Name: "runtime-all", Tenants: []string{"*"}, DBTypes: []events.DBType{events.DBRuntime}, Rights: []Right{RightRead}},
	{Name: "root", Tenants: []string{"*"}, Domains: []string{"*"}, Generic: true, Rights: []Right{RightAdmin}},
}

func testAuthorizer(t *testing.T) *Authorizer {
	t.Helper()
	keys := make([]APIKey, len(testKeys))
	for i, k := range testKeys {
		k.SHA256 = Secret(HashKey(k.Name + "-secret"))
		keys[i] = k
	}
	z, err := NewAuthorizer(&Auth{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func request(auth string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	return r
}

func bearer(name string) string { return "Bearer " + name + "-secret" }

// TestAuthorizeMatrix walks keys × scopes × rights: 401 without a valid
// key, 403 without the scope or the right, allowed otherwise.
func TestAuthorizeMatrix(t *testing.T) {
	z := testAuthorizer(t)
	coll := func(db events.DBType, tier events.Tier, scope string) events.Collection {
		return events.Collection{DBType: db, Tier: tier, Scope: scope, Name: "orders"}
	}
	acme := coll(events.DBRuntime, events.TierTenant, "acme")
	globex := coll(events.DBRuntime, events.TierTenant, "globex")
	fin := coll(events.DBKnowledge, events.TierDomain, "fin")
	health := coll(events.DBKnowledge, events.TierDomain, "health")
	generic := coll(events.DBMetadata, events.TierGeneric, "_")
	metaAcme := coll(events.DBMetadata, events.TierTenant, "acme")
	tests := []struct {
		auth  string
		c     events.Collection
		right Right
		want  int // 0: allowed
	}{
		{"", acme, RightRead, 401},
		{"Basic YWNtZTpwdw==", acme, RightRead, 401},
		{"Bearer", acme, RightRead, 401},
		{"Bearer   ", acme, RightRead, 401},
		{"Bearer not-a-key", acme, RightRead, 401},
		{"Bearer acme-rw-secretx", acme, RightRead, 401},
		{bearer("acme-rw"), acme, RightRead, 0},
		{"bearer acme-rw-secret", acme, RightRead, 0},
		{bearer("acme-rw"), acme, RightWrite, 0},
		{bearer("acme-rw"), acme, RightAdmin, 403},
		{bearer("acme-rw"), globex, RightRead, 403},
		{bearer("acme-rw"), globex, RightWrite, 403},
		{bearer("acme-rw"), metaAcme, RightRead, 0},
		{bearer("acme-rw"), fin, RightRead, 403},
		{bearer("acme-rw"), generic, RightRead, 403},
		{bearer("acme-ro"), acme, RightRead, 0},
		{bearer("acme-ro"), acme, RightWrite, 403},
		{bearer("acme-wo"), acme, RightWrite, 0},
		{bearer("acme-wo"), acme, RightRead, 403},
		{bearer("fin"), fin, RightWrite, 0},
		{bearer("fin"), health, RightRead, 403},
		{bearer("fin"), acme, RightRead, 403},
		{bearer("gen"), generic, RightRead, 0},
		{bearer("gen"), generic, RightWrite, 403},
		{bearer("gen"), acme, RightRead, 403},
		{bearer("runtime-all"), globex, RightRead, 0},
		{bearer("runtime-all"), metaAcme, RightRead, 403},
		{bearer("root"), globex, RightWrite, 0},
		{bearer("root"), health, RightAdmin, 0},
		{bearer("root"), generic, RightRead, 0},
	}
	for _, tt := range tests {
		err := z.Authorize(request(tt.auth), tt.c, tt.right)
		got := 0
		var ae *AuthError
		if errors.As(err, &ae) {
			got, _ = ae.HTTPStatus()
		} else if err != nil {
			t.Errorf("%q %s %s: untyped error %v", tt.auth, tt.c, tt.right, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%q %s %s: status %d (%v), want %d", tt.auth, tt.c, tt.right, got, err, tt.want)
		}
		switch tt.want {
		case 401:
			if !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("%q: %v does not match ErrUnauthenticated", tt.auth, err)
			}
		case 403:
			if !errors.Is(err, ErrForbidden) {
				t.Errorf("%q: %v does not match ErrForbidden", tt.auth, err)
			}
		}
		if err != nil && strings.Contains(err.Error(), "-secret") {
			t.Errorf("error repeats the key: %v", err)
		}
	}
}

func TestAuthorizeMessages(t *testing.T) {
	z := testAuthorizer(t)
	globex := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "globex", Name: "o"}
	tests := []struct {
		auth  string
		right Right
		want  string
	}{
		{"", RightRead, "chronos: unauthenticated: missing Authorization header; send Authorization: Bearer <key>"},
		{"Token x", RightRead, "chronos: unauthenticated: malformed Authorization header; send Authorization: Bearer <key>"},
		{"Bearer nope", RightRead, "chronos: unauthenticated: unknown API key"},
		{bearer("acme-rw"), RightRead, `chronos: forbidden: key "acme-rw" may not reach tenant "globex"`},
		{bearer("runtime-all"), RightWrite, `chronos: forbidden: key "runtime-all" lacks the write right`},
	}
	for _, tt := range tests {
		if err := z.Authorize(request(tt.auth), globex, tt.right); err == nil || err.Error() != tt.want {
			t.Errorf("%q: %v, want %s", tt.auth, err, tt.want)
		}
	}
}

func TestAuthorizerModes(t *testing.T) {
	c := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "o"}
	for _, tt := range []struct {
		z      *Authorizer
		remote string
		ok     bool
	}{
		{DevAuthorizer(), "127.0.0.1:5000", true},
		{DevAuthorizer(), "[::1]:5000", true},
		{DevAuthorizer(), "10.1.2.3:5000", false},
		{DevAuthorizer(), "[2001:db8::1]:5000", false},
		{InsecureAuthorizer(), "10.1.2.3:5000", true},
	} {
		r := request("")
		r.RemoteAddr = tt.remote
		err := tt.z.Authorize(r, c, RightAdmin)
		if (err == nil) != tt.ok {
			t.Errorf("mode %d from %s: %v, want allowed=%v", tt.z.mode, tt.remote, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("dev mode refusal %v is not a 401", err)
		}
	}
	if _, err := NewAuthorizer(nil); !errors.Is(err, ErrNoAuth) {
		t.Errorf("NewAuthorizer(nil) = %v, want ErrNoAuth", err)
	}
	if _, err := NewAuthorizer(&Auth{Keys: []APIKey{{Name: "k", SHA256: "short", Generic: true, Rights: []Right{RightRead}}}}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewAuthorizer with a bad hash = %v, want ErrInvalidConfig", err)
	}
}

func TestHashKey(t *testing.T) {
	if got := HashKey("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("HashKey(abc) = %s", got)
	}
	key, sha, err := NewKey()
	if err != nil || !strings.HasPrefix(key, "chr_") || len(key) != 47 || HashKey(key) != sha {
		t.Errorf("NewKey = %q, %q, %v", key, sha, err)
	}
	other, _, _ := NewKey()
	if other == key {
		t.Error("NewKey returned the same key twice")
	}
}

// TestMiddlewareCrossTenant serves the API's route shapes behind the
// middleware and walks every route with tenant A's key against tenant B:
// each is refused before the handler runs.
func TestMiddlewareCrossTenant(t *testing.T) {
	z := testAuthorizer(t)
	var reached []string
	mux := http.NewServeMux()
	routes := []string{
		"POST /v1/{dbType}/{tier}/{scope}/{collection}/items",
		"PUT /v1/{dbType}/{tier}/{scope}/{collection}/items/{id}",
		"DELETE /v1/{dbType}/{tier}/{scope}/{collection}/items/{id}",
		"GET /v1/{dbType}/{tier}/{scope}/{collection}/items/{id}",
		"GET /v1/{dbType}/{tier}/{scope}/{collection}/items/{id}/versions",
		"POST /v1/admin/dlq/replay",
	}
	for _, pattern := range routes {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			p, ok := PrincipalFrom(r.Context())
			if !ok {
				t.Errorf("%s: no principal in the context", pattern)
			}
			reached = append(reached, pattern+" as "+p.Name)
			w.WriteHeader(http.StatusNoContent)
		})
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	h := z.Middleware(mux, MiddlewareOptions{Public: []string{"/healthz"}})

	do := func(method, path, auth string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader("{}"))
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	paths := []struct{ method, path string }{
		{"POST", "/v1/runtime/tenant/%s/orders/items"},
		{"PUT", "/v1/runtime/tenant/%s/orders/items/i1"},
		{"DELETE", "/v1/runtime/tenant/%s/orders/items/i1"},
		{"GET", "/v1/runtime/tenant/%s/orders/items/i1"},
		{"GET", "/v1/runtime/tenant/%s/orders/items/i1/versions"},
	}
	for _, p := range paths {
		path := strings.Replace(p.path, "%s", "globex", 1)
		w := do(p.method, path, bearer("acme-rw"))
		if w.Code != http.StatusForbidden {
			t.Errorf("%s %s with acme's key: %d, want 403", p.method, path, w.Code)
		}
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != "forbidden" {
			t.Errorf("%s %s: body %s", p.method, path, w.Body)
		}
		if w := do(p.method, path, ""); w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s without a key: %d %v, want 401 with WWW-Authenticate", p.method, path, w.Code, w.Header())
		}
		own := strings.Replace(p.path, "%s", "acme", 1)
		if w := do(p.method, own, bearer("acme-rw")); w.Code != http.StatusNoContent {
			t.Errorf("%s %s with acme's key: %d, want it served", p.method, own, w.Code)
		}
	}
	if len(reached) != len(paths) {
		t.Errorf("handlers reached: %v; want only acme's own %d requests", reached, len(paths))
	}
	if w := do("GET", "/v1/runtime/tenant/acme/orders/items/i1", bearer("acme-wo")); w.Code != http.StatusForbidden {
		t.Errorf("read with a write-only key: %d, want 403", w.Code)
	}
	if w := do("GET", "/v1/runtime/tenant/a.b/orders/items/i1", bearer("root")); w.Code != http.StatusBadRequest {
		t.Errorf("invalid scope: %d, want 400", w.Code)
	}
	if w := do("GET", "/v1/runtime/tenant/a%2Fb/orders/items/i1", bearer("acme-rw")); w.Code != http.StatusBadRequest {
		t.Errorf("escaped slash in a scope: %d, want 400", w.Code)
	}
	if w := do("POST", "/v1/admin/dlq/replay", bearer("acme-rw")); w.Code != http.StatusForbidden {
		t.Errorf("admin route with a tenant key: %d, want 403", w.Code)
	}
	if w := do("POST", "/v1/admin/dlq/replay", bearer("root")); w.Code != http.StatusNoContent {
		t.Errorf("admin route with the root key: %d, want it served", w.Code)
	}
	if w := do("GET", "/healthz", ""); w.Code != http.StatusOK {
		t.Errorf("public /healthz: %d", w.Code)
	}
}
