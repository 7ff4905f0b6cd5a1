package tenancy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
)

// fakeServers is a DatabaseLister over in-memory "servers", counting calls.
type fakeServers struct {
	mu    sync.Mutex
	dbs   map[ConnString][]string
	calls atomic.Int64
	fail  atomic.Bool
	delay time.Duration
}

func (f *fakeServers) list(ctx context.Context, uri ConnString) ([]string, error) {
	f.calls.Add(1)
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	if f.fail.Load() {
		return nil, errors.New("connection refused to " + uri.Reveal())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.dbs[uri]...), nil
}

func (f *fakeServers) create(uri ConnString, db string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dbs[uri] = append(f.dbs[uri], db)
}

const discoverConfig = `{
  "dbConnections": {"a": {"mongoUri": "mongodb://u:pw-a@a:27017"}, "b": {"mongoUri": "mongodb://b:27017"}},
  "localStorage": {"enabled": true, "basePath": "/b"},
  "dynamicTenants": {"enabled": true, "dbTypes": ["runtime"], "dbNamePattern": "tenant_{tenantId}",
    "backends": [{"dbConnRef": "a"}, {"dbConnRef": "b"}], "discover": "%s", "cacheTtl": "1m"}
}`

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func discoverRouter(t *testing.T, mode string, f *fakeServers, clk *clock) *Router {
	t.Helper()
	cfg, err := Parse([]byte(strings.Replace(discoverConfig, "%s", mode, 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRouter(cfg, RouterOptions{ListDatabases: f.list, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tenantColl(id string) events.Collection {
	return events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: id, Name: "orders"}
}

const uriA, uriB = ConnString("mongodb://u:pw-a@a:27017"), ConnString("mongodb://b:27017")

func TestDiscoverRequire(t *testing.T) {
	f := &fakeServers{dbs: map[ConnString][]string{uriA: {"admin"}, uriB: {"tenant_acme"}}}
	clk := &clock{now: time.Unix(1000, 0)}
	r := discoverRouter(t, DiscoverRequire, f, clk)

	rt, err := r.Route(tenantColl("acme"))
	if err != nil || rt.DBConnRef != "b" || rt.DBName != "tenant_acme" {
		t.Fatalf("Route(acme) = %v, %v; want the backend holding tenant_acme", rt, err)
	}
	_, err = r.Route(tenantColl("ghost"))
	if !errors.Is(err, ErrUnknownTenant) || err.Error() != `chronos: unknown tenant "ghost" for runtime data: no backend has its database "tenant_ghost"` {
		t.Fatalf("Route(ghost) = %v", err)
	}
	if got := f.calls.Load(); got != 2 {
		t.Errorf("%d listings, want 2 (one per backend, then cached)", got)
	}

	// A database created now is seen after the TTL, or at once after Refresh.
	f.create(uriA, "tenant_newco")
	if _, err := r.Route(tenantColl("newco")); !errors.Is(err, ErrUnknownTenant) {
		t.Errorf("within the TTL: %v, want the cached listing", err)
	}
	clk.add(time.Minute)
	if rt, err := r.Route(tenantColl("newco")); err != nil || rt.DBConnRef != "a" {
		t.Errorf("after the TTL: %v, %v; want backend a", rt, err)
	}
	calls := f.calls.Load()
	f.create(uriB, "tenant_later")
	r.Refresh()
	if rt, err := r.Route(tenantColl("later")); err != nil || rt.DBConnRef != "b" {
		t.Errorf("after Refresh: %v, %v; want backend b", rt, err)
	}
	if f.calls.Load() != calls+2 {
		t.Errorf("Refresh did not list again")
	}

	// The same database on both backends is refused, not guessed.
	f.create(uriA, "tenant_acme")
	r.Refresh()
	if _, err := r.Route(tenantColl("acme")); !errors.Is(err, ErrAmbiguousTenant) {
		t.Errorf("Route of a tenant on two backends = %v, want ErrAmbiguousTenant", err)
	}
}

func TestDiscoverPreferKeepsTenantsWhereTheirDataIs(t *testing.T) {
	f := &fakeServers{dbs: map[ConnString][]string{}}
	clk := &clock{now: time.Unix(1000, 0)}
	r := discoverRouter(t, DiscoverPrefer, f, clk)
	// A new tenant is placed by hash ...
	rt, err := r.Route(tenantColl("acme"))
	if err != nil {
		t.Fatal(err)
	}
	hashed := rt.DBConnRef
	other := map[string]ConnString{"a": uriB, "b": uriA}[hashed]
	// ... but one whose database is already on the other backend stays there.
	f.create(other, "tenant_acme")
	r.Refresh()
	rt, err = r.Route(tenantColl("acme"))
	if err != nil || rt.DBConnRef == hashed {
		t.Errorf("Route = %v, %v; want the backend that holds the database, not the hashed %s", rt, err, hashed)
	}
}

func TestDiscoverFailuresAreNotCached(t *testing.T) {
	f := &fakeServers{dbs: map[ConnString][]string{uriB: {"tenant_acme"}}}
	f.fail.Store(true)
	r := discoverRouter(t, DiscoverRequire, f, &clock{now: time.Unix(1000, 0)})
	_, err := r.Route(tenantColl("acme"))
	if err == nil || errors.Is(err, ErrUnknownTenant) {
		t.Fatalf("Route with a failing listing = %v, want the listing error", err)
	}
	if strings.Contains(err.Error(), "pw-a") || !strings.Contains(err.Error(), `dbConnRef "a"`) {
		t.Errorf("error %q: want the connection named, its password hidden", err)
	}
	f.fail.Store(false)
	if rt, err := r.Route(tenantColl("acme")); err != nil || rt.DBConnRef != "b" {
		t.Errorf("after recovery: %v, %v", rt, err)
	}
}

func TestDiscoverConcurrentCallersShareOneListing(t *testing.T) {
	f := &fakeServers{dbs: map[ConnString][]string{uriA: {"tenant_acme"}}, delay: 50 * time.Millisecond}
	r := discoverRouter(t, DiscoverRequire, f, &clock{now: time.Unix(1000, 0)})
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Route(tenantColl("acme")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := f.calls.Load(); got != 2 {
		t.Errorf("%d listings for 50 concurrent routes, want 2 (one per backend)", got)
	}
}

func TestDiscoverNeedsALister(t *testing.T) {
	cfg, err := Parse([]byte(strings.Replace(discoverConfig, "%s", DiscoverPrefer, 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewRouter(cfg, RouterOptions{}); err == nil {
		t.Fatal("NewRouter without ListDatabases succeeded for discover prefer")
	}
}
