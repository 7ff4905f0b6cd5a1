package tenancy_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/testenv"
	"github.com/chronos-go/chronos/tenancy"
)

// TestDynamicTenantsAgainstMongo resolves dynamic tenants by discovering
// their databases on two real MongoDB-compatible servers, through the
// Pool's shared clients.
func TestDynamicTenantsAgainstMongo(t *testing.T) {
	m1, m2 := testenv.StartMongo(t), testenv.StartMongo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	quoted := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	// With CHRONOS_TEST_MONGO_URI set both helpers return the same server:
	// then there is one backend, and acme is provisioned on it.
	backends, holder, want := `[{"dbConnRef": "one"}, {"dbConnRef": "two"}]`, m2, "two"
	if m1.URI == m2.URI {
		backends, holder, want = `[{"dbConnRef": "one"}]`, m1, "one"
	}
	cfg, err := tenancy.Parse([]byte(`{
	  "dbConnections": {"one": {"mongoUri": `+quoted(m1.URI)+`}, "two": {"mongoUri": `+quoted(m2.URI+"?appName=two")+`}},
	  "localStorage": {"enabled": true, "basePath": `+quoted(t.TempDir())+`},
	  "dynamicTenants": {
	    "enabled": true,
	    "dbTypes": ["runtime"],
	    "idPattern": "^[a-z][a-z0-9-]{0,20}$",
	    "dbNamePattern": `+quoted(m1.Prefix+"tenant_{tenantId}")+`,
	    "analyticsDbNamePattern": `+quoted(m1.Prefix+"stats_{tenantId}")+`,
	    "bucketPattern": "tenants",
	    "backends": `+backends+`,
	    "discover": "require",
	    "cacheTtl": "1h"
	  }
	}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	pool := tenancy.NewPool[any](nil, tenancy.PoolOptions{})
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pool.Close(cctx); err != nil {
			t.Error(err)
		}
	})
	router, err := tenancy.NewRouter(cfg, tenancy.RouterOptions{ListDatabases: pool.ListDatabaseNames})
	if err != nil {
		t.Fatal(err)
	}
	acme := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "orders"}

	if _, err := router.RouteContext(ctx, acme); !errors.Is(err, tenancy.ErrUnknownTenant) {
		t.Fatalf("before its database exists: %v, want ErrUnknownTenant", err)
	}

	// Provision acme on the second server only (databases exist once they
	// hold a collection), then make the router look again.
	if _, err := holder.Client.Database(m1.Prefix+"tenant_acme").Collection("orders_head").InsertOne(ctx, bson.M{"_id": "o1", "sku": "A-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := router.RouteContext(ctx, acme); !errors.Is(err, tenancy.ErrUnknownTenant) {
		t.Errorf("within cacheTtl: %v, want the cached listing (ErrUnknownTenant)", err)
	}
	router.Refresh()
	rt, err := router.RouteContext(ctx, acme)
	if err != nil {
		t.Fatal(err)
	}
	if rt.DBConnRef != want || rt.DBName != m1.Prefix+"tenant_acme" || rt.AnalyticsDBName != m1.Prefix+"stats_acme" || !rt.Dynamic || rt.Buckets.Versions != "tenants" {
		t.Fatalf("route %v: want backend %s and the discovered database", rt, want)
	}

	// The route's connection is the pool's shared client, and it reaches
	// the tenant's data.
	client, err := pool.Mongo(ctx, rt.MongoURI)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := pool.Mongo(ctx, rt.MongoURI)
	if client != again {
		t.Error("the pool opened a second client for the same URI")
	}
	var doc bson.M
	if err := client.Database(rt.DBName).Collection("orders_head").FindOne(ctx, bson.M{"_id": "o1"}).Decode(&doc); err != nil || doc["sku"] != "A-1" {
		t.Errorf("read through the route: %v, %v", doc, err)
	}

	// Ids that fail the pattern never reach the servers.
	for _, bad := range []string{"Acme", "9lives", "a_b"} {
		c := acme
		c.Scope = bad
		if _, err := router.RouteContext(ctx, c); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("id %q: %v, want events.ErrInvalid", bad, err)
		}
	}
}
