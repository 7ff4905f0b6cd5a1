package tenancy

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/events"
)

// With discovery off a dynamic route is cached per scope: every
// collection of the scope gets the same route with its own name, an
// invalid scope stays an error, and a full cache starts over.
func TestDynamicRouteCache(t *testing.T) {
	cfg, err := Parse([]byte(strings.Replace(discoverConfig, "%s", DiscoverOff, 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRouter(cfg, RouterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "orders"}
	b := a
	b.Name = "invoices"
	first, err := r.Route(a)
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.Route(b)
	if err != nil {
		t.Fatal(err)
	}
	if second.Collection != b || second.DBName != first.DBName || second.DBConnRef != first.DBConnRef || second.Buckets != first.Buckets {
		t.Fatalf("cached route %v, want %v with collection %s", second, first, b)
	}
	if len(r.dyn.cache.routes) != 1 {
		t.Fatalf("%d cached routes, want one per scope", len(r.dyn.cache.routes))
	}
	bad := a
	bad.Scope = "Not_Allowed"
	for range 2 {
		if _, err := r.Route(bad); err == nil {
			t.Fatal("a scope failing idPattern was routed")
		}
	}
	for i := range maxCachedRoutes {
		c := a
		c.Scope = "t" + strconv.Itoa(i)
		if _, err := r.Route(c); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(r.dyn.cache.routes); n == 0 || n > maxCachedRoutes {
		t.Fatalf("%d cached routes after %d scopes, want at most %d", n, maxCachedRoutes+1, maxCachedRoutes)
	}
}
