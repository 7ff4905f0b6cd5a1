package tenancy

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/chronos-go/chronos/events"
)

// FuzzLoad feeds arbitrary files to the loader: it never panics, every
// failure is a *ConfigError, and whatever loads re-validates, builds a
// Router that routes without panicking, and shows as JSON.
func FuzzLoad(f *testing.F) {
	for _, name := range examples {
		b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		routingConfig,
		conf(runtimeTenants(okTenantA)),
		`{"xronox": {"dbConnections": {"m": {"mongoUri": "ENV.MONGO_URI"}}}}`,
		`{"nats": {"replicas": "ENV.R", "duplicateWindow": "90s"}, "auth": {"keys": [{"name": "k", "sha256": "` + HashKey("k") + `", "generic": true, "rights": ["read"]}]}}`,
		`{"dynamicTenants": {"enabled": true, "backends": [{"dbConnRef": "m"}]}, ` + head + `}`,
		`{"a": [[[[[[]]]]]]}`, `[]`, `null`, `{"nats": {"url": 1e999}}`,
	} {
		f.Add([]byte(s))
	}
	env := func(name string) string {
		switch name {
		case "MONGO_URI":
			return "mongodb://u:pw@h:27017"
		case "R":
			return "3"
		}
		return ""
	}
	list := func(context.Context, ConnString) ([]string, error) { return []string{"chronos_runtime_tenant_a"}, nil }
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, env)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error is not a *ConfigError with problems: %T %v", err, err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("a loaded config does not re-validate: %v", err)
		}
		r, err := NewRouter(cfg, RouterOptions{ListDatabases: list})
		if err != nil {
			t.Fatalf("NewRouter of a valid config: %v", err)
		}
		for _, db := range AllDBTypes {
			for _, c := range []events.Collection{
				{DBType: db, Tier: events.TierTenant, Scope: "a", Name: "c"},
				{DBType: db, Tier: events.TierDomain, Scope: "d", Name: "c"},
				{DBType: db, Tier: events.TierGeneric, Scope: "_", Name: "c"},
			} {
				_, _ = r.Route(c)
			}
		}
		shown, err := cfg.Masked()
		if err != nil || !json.Valid(shown) {
			t.Fatalf("Masked: %v\n%s", err, shown)
		}
		if cfg.Auth != nil {
			if _, err := NewAuthorizer(cfg.Auth); err != nil && !errors.Is(err, ErrNoAuth) {
				t.Fatalf("NewAuthorizer of a valid config: %v", err)
			}
		}
	})
}
