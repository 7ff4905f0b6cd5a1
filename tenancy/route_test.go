package tenancy

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/events"
)

// routingConfig places every dbType × tier: metadata on S3, knowledge on
// Azure, runtime on local storage, logs on S3 with the multi-bucket set;
// logs of tenants and domains, and unlisted runtime tenants, resolve
// dynamically.
const routingConfig = `{
  "dbConnections": {
    "main": {"mongoUri": "mongodb://u:pw@main:27017"},
    "other": {"mongoUri": "mongodb://other:27017"},
    "dup": {"mongoUri": "mongodb://u:pw@main:27017"}
  },
  "spacesConnections": {
    "s3": {"endpoint": "https://s3.example.com", "accessKey": "ak", "secretKey": "sk", "forcePathStyle": true},
    "az": {"endpoint": "https://acct.blob.core.windows.net", "accessKey": "acct", "secretKey": "key"}
  },
  "localStorage": {"enabled": true, "basePath": "/data/blobs"},
  "databases": {
    "metadata": {
      "genericDatabase": {"dbConnRef": "main", "spaceConnRef": "s3", "bucket": "meta-generic", "dbName": "meta_generic"},
      "domainsDatabases": [{"domain": "fin", "dbConnRef": "main", "spaceConnRef": "s3", "bucket": "meta-fin", "dbName": "meta_fin"}],
      "tenantDatabases": [{"tenantId": "acme", "dbConnRef": "other", "spaceConnRef": "s3", "bucket": "meta-acme", "dbName": "meta_acme"}]
    },
    "knowledge": {
      "genericDatabase": {"dbConnRef": "main", "spaceConnRef": "az", "bucket": "know-generic", "dbName": "know_generic"},
      "domainsDatabases": [{"domain": "fin", "dbConnRef": "main", "spaceConnRef": "az", "bucket": "know-fin", "dbName": "know_fin"}],
      "tenantDatabases": [{"tenantId": "acme", "dbConnRef": "other", "spaceConnRef": "az", "bucket": "know-acme", "dbName": "know_acme"}]
    },
    "runtime": {
      "genericDatabase": {"dbConnRef": "main", "bucket": "run-generic", "dbName": "run_generic"},
      "domainsDatabases": [{"domain": "fin", "dbConnRef": "main", "bucket": "run-fin", "dbName": "run_fin"}],
      "tenantDatabases": [
        {"tenantId": "acme", "dbConnRef": "other", "bucket": "run-acme", "dbName": "run_acme", "analyticsDbName": "run_acme_stats"},
        {"tenantId": "squat", "dbConnRef": "other", "bucket": "run-squat", "dbName": "chronos_runtime_tenant_taken"}
      ]
    },
    "logs": {"dbConnRef": "dup", "spaceConnRef": "s3", "recordsBucket": "logs-records", "versionsBucket": "logs-versions", "dbName": "logs"},
    "messaging": {"dbConnRef": "main", "dbName": "chronos_messaging"},
    "identities": {"dbConnRef": "other", "dbName": "chronos_identities"}
  },
  "dynamicTenants": {
    "enabled": true,
    "tiers": ["tenant", "domain"],
    "dbTypes": ["logs", "runtime"],
    "backends": [{"dbConnRef": "other", "spaceConnRef": "s3"}]
  }
}`

func newTestRouter(t *testing.T, json string) *Router {
	t.Helper()
	cfg, err := Parse([]byte(json), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRouter(cfg, RouterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRouteEveryDBTypeAndTier(t *testing.T) {
	r := newTestRouter(t, routingConfig)
	scopes := map[events.Tier]string{events.TierTenant: "acme", events.TierDomain: "fin", events.TierGeneric: "_"}
	all := func(b string) Buckets { return Buckets{b, b, b, b} }
	type want struct {
		conn, uri, db, analytics, backend, spaces string
		buckets                                   Buckets
		dynamic                                   bool
	}
	const mainURI, otherURI = "mongodb://u:pw@main:27017", "mongodb://other:27017"
	wants := map[events.DBType]map[events.Tier]want{
		events.DBMetadata: {
			events.TierGeneric: {"main", mainURI, "meta_generic", "meta_generic_analytics", BackendS3, "s3", all("meta-generic"), false},
			events.TierDomain:  {"main", mainURI, "meta_fin", "meta_fin_analytics", BackendS3, "s3", all("meta-fin"), false},
			events.TierTenant:  {"other", otherURI, "meta_acme", "meta_acme_analytics", BackendS3, "s3", all("meta-acme"), false},
		},
		events.DBKnowledge: {
			events.TierGeneric: {"main", mainURI, "know_generic", "know_generic_analytics", BackendAzure, "az", all("know-generic"), false},
			events.TierDomain:  {"main", mainURI, "know_fin", "know_fin_analytics", BackendAzure, "az", all("know-fin"), false},
			events.TierTenant:  {"other", otherURI, "know_acme", "know_acme_analytics", BackendAzure, "az", all("know-acme"), false},
		},
		events.DBRuntime: {
			events.TierGeneric: {"main", mainURI, "run_generic", "run_generic_analytics", BackendLocal, "", all("run-generic"), false},
			events.TierDomain:  {"main", mainURI, "run_fin", "run_fin_analytics", BackendLocal, "", all("run-fin"), false},
			events.TierTenant:  {"other", otherURI, "run_acme", "run_acme_stats", BackendLocal, "", all("run-acme"), false},
		},
		events.DBLogs: {
			events.TierGeneric: {"dup", mainURI, "logs", "logs_analytics", BackendS3, "s3", Buckets{"logs-records", "logs-versions", "logs-records", "logs-records"}, false},
			events.TierDomain:  {"other", otherURI, "chronos_logs_domain_fin", "chronos_logs_domain_fin_analytics", BackendS3, "s3", all("chronos-logs"), true},
			events.TierTenant:  {"other", otherURI, "chronos_logs_tenant_acme", "chronos_logs_tenant_acme_analytics", BackendS3, "s3", all("chronos-logs"), true},
		},
	}
	for _, db := range AllDBTypes {
		for _, tier := range []events.Tier{events.TierGeneric, events.TierDomain, events.TierTenant} {
			c := events.Collection{DBType: db, Tier: tier, Scope: scopes[tier], Name: "orders"}
			t.Run(string(db)+"/"+string(tier), func(t *testing.T) {
				w := wants[db][tier]
				rt, err := r.Route(c)
				if err != nil {
					t.Fatal(err)
				}
				got := want{rt.DBConnRef, rt.MongoURI.Reveal(), rt.DBName, rt.AnalyticsDBName, rt.Backend, rt.SpaceConnRef, rt.Buckets, rt.Dynamic}
				if got != w {
					t.Errorf("route\n got %+v\nwant %+v", got, w)
				}
				if rt.Collection != c {
					t.Errorf("route collection %v, want %v", rt.Collection, c)
				}
				if want := string(db) + "/" + string(tier) + "/" + scopes[tier] + "/"; rt.KeyPrefix != want {
					t.Errorf("key prefix %q, want %q", rt.KeyPrefix, want)
				}
				switch w.backend {
				case BackendLocal:
					if rt.Spaces.Type != BackendLocal || rt.Spaces.BasePath != "/data/blobs" {
						t.Errorf("local spaces %+v", rt.Spaces)
					}
				case BackendS3:
					if rt.Spaces.Endpoint != "https://s3.example.com" || !rt.Spaces.ForcePathStyle || rt.Spaces.Region != DefaultRegion || rt.Spaces.SecretKey.Reveal() != "sk" {
						t.Errorf("s3 spaces %+v", rt.Spaces)
					}
				case BackendAzure:
					if rt.Spaces.Type != BackendAzure || rt.Spaces.AccessKey.Reveal() != "acct" {
						t.Errorf("azure spaces %+v", rt.Spaces)
					}
				}
				again, _ := r.Route(c)
				if again != rt {
					t.Errorf("a second Route differs: %v vs %v", again, rt)
				}
			})
		}
	}
}

func TestRouteErrors(t *testing.T) {
	r := newTestRouter(t, routingConfig)
	col := func(db events.DBType, tier events.Tier, scope string) events.Collection {
		return events.Collection{DBType: db, Tier: tier, Scope: scope, Name: "orders"}
	}
	tests := []struct {
		name    string
		c       events.Collection
		is      error
		wantErr string
	}{
		{"unknown tenant", col(events.DBMetadata, events.TierTenant, "nobody"), ErrUnknownTenant,
			`chronos: unknown tenant "nobody" for metadata data`},
		{"unknown domain", col(events.DBKnowledge, events.TierDomain, "health"), ErrUnknownTenant,
			`chronos: unknown domain "health" for knowledge data`},
		{"invalid token", col(events.DBRuntime, events.TierTenant, "a.b"), events.ErrInvalid,
			`chronos: invalid scope: "a.b" has '.' at byte 1; only letters, digits, '_' and '-' are allowed`},
		{"id failing the pattern", col(events.DBRuntime, events.TierTenant, "Upper"), events.ErrInvalid,
			`chronos: invalid scope: tenant id "Upper" is not allowed: it must match dynamicTenants.idPattern ` + DefaultIDPattern},
		{"dynamic name taken by a static entry", col(events.DBRuntime, events.TierTenant, "taken"), nil,
			`chronos: tenant "taken" would use database "chronos_runtime_tenant_taken" on dbConnRef "other", which databases.runtime.tenantDatabases[1] already uses; rename one`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Route(tt.c)
			if err == nil {
				t.Fatal("Route succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not match %v", err, tt.is)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("error\n got %s\nwant %s", err, tt.wantErr)
			}
		})
	}

	// The generic tier has no dynamic fallback.
	r2 := newTestRouter(t, conf(runtimeTenants(okTenantA)))
	_, err := r2.Route(events.Collection{DBType: events.DBRuntime, Tier: events.TierGeneric, Scope: "_", Name: "c"})
	var ute *UnknownTenantError
	if !errors.As(err, &ute) || err.Error() != "chronos: no generic database for runtime data" {
		t.Fatalf("Route of a missing generic database = %v", err)
	}
	if status, code := ute.HTTPStatus(); status != http.StatusNotFound || code != "unknown_tenant" {
		t.Errorf("HTTPStatus = %d %s, want 404 unknown_tenant", status, code)
	}
	if _, err := r2.Messaging(); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("Messaging of a config without it = %v, want ErrNotConfigured", err)
	}
}

func TestRouteStaticWinsAndSideDatabases(t *testing.T) {
	r := newTestRouter(t, routingConfig)
	rt, err := r.Route(events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "x"})
	if err != nil || rt.Dynamic || rt.DBName != "run_acme" {
		t.Errorf("a listed tenant covered by dynamicTenants: %v, %v; want its entry", rt, err)
	}
	rt, err = r.Route(events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "newco", Name: "x"})
	if err != nil || !rt.Dynamic || rt.DBName != "chronos_runtime_tenant_newco" {
		t.Errorf("an unlisted tenant: %v, %v; want a dynamic route", rt, err)
	}
	m, err := r.Messaging()
	if err != nil || m.DBName != "chronos_messaging" || m.DBConnRef != "main" || m.Backend != "" {
		t.Errorf("Messaging = %+v, %v", m, err)
	}
	id, err := r.Identities()
	if err != nil || id.DBName != "chronos_identities" || id.MongoURI.Reveal() != "mongodb://other:27017" {
		t.Errorf("Identities = %+v, %v", id, err)
	}
	uris := r.MongoURIs()
	if len(uris) != 2 || uris[0].Reveal() != "mongodb://u:pw@main:27017" || uris[1].Reveal() != "mongodb://other:27017" {
		t.Errorf("MongoURIs = %v, want main's and other's, once each", uris)
	}
}

func TestDynamicLongIDsStayDistinct(t *testing.T) {
	r := newTestRouter(t, conf(`"dynamicTenants": {"enabled": true, "idPattern": "^[a-z0-9-]{1,128}$", "backends": [{"dbConnRef": "m"}]}`))
	long := strings.Repeat("a", 100)
	c1 := events.Collection{DBType: events.DBKnowledge, Tier: events.TierTenant, Scope: long + "1", Name: "x"}
	c2 := events.Collection{DBType: events.DBKnowledge, Tier: events.TierTenant, Scope: long + "2", Name: "x"}
	r1, err1 := r.Route(c1)
	r2, err2 := r.Route(c2)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	for _, n := range []string{r1.DBName, r1.AnalyticsDBName, r2.DBName} {
		if len(n) > MaxDBName {
			t.Errorf("%q is longer than %d bytes", n, MaxDBName)
		}
	}
	if r1.DBName == r2.DBName || r1.AnalyticsDBName == r2.AnalyticsDBName {
		t.Errorf("two long ids share a database: %q", r1.DBName)
	}
}
