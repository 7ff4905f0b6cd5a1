package tenancy

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
)

// exampleEnv holds the variables the example configurations reference.
var exampleEnv = map[string]string{
	"MONGO_URI":         "mongodb://chronos:mongo-secret-pw@mongo-1:27017,mongo-2:27017/?replicaSet=rs0",
	"S3_ACCESS_KEY":     "AKIAEXAMPLEACCESS",
	"S3_SECRET_KEY":     "s3-secret-key-value",
	"NATS_PASSWORD":     "nats-secret-pw",
	"MONGO_A_PASSWORD":  "mongo-a-secret",
	"MONGO_B_PASSWORD":  "mongo-b-secret",
	"MINIO_ACCESS_KEY":  "minio-access-value",
	"MINIO_SECRET_KEY":  "minio-secret-value",
	"AZURE_ACCOUNT_KEY": "azure-account-key-value",
}

// examples are the configurations of testdata/ (and docs/configuration.md).
var examples = []string{"dev", "saas", "two-clusters"}

func TestExamplesLoad(t *testing.T) {
	for _, name := range examples {
		t.Run(name, func(t *testing.T) {
			cfg, err := LoadEnv(filepath.Join("testdata", name+".json"), testEnv(exampleEnv))
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("a loaded config does not re-validate: %v", err)
			}
			if _, err := NewRouter(cfg, RouterOptions{ListDatabases: func(context.Context, ConnString) ([]string, error) { return nil, nil }}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse([]byte(conf(runtimeTenants(okTenantA))), nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"nats.url", cfg.NATS.URL, ConnString(DefaultNATSURL)},
		{"nats.stream", cfg.NATS.Stream, "CHRONOS"},
		{"nats.replicas", cfg.NATS.Replicas, 1},
		{"nats.partitions", cfg.NATS.Partitions, 8},
		{"nats.duplicateWindow", cfg.NATS.DuplicateWindow.D(), 2 * time.Minute},
		{"routing.hashAlgo", cfg.Routing.HashAlgo, "rendezvous"},
		{"fallback.enabled", *cfg.Fallback.Enabled, true},
		{"fallback.maxRetries", *cfg.Fallback.MaxRetries, 5},
		{"fallback.retryDelayMs", cfg.Fallback.RetryDelayMs, 1000},
		{"fallback.maxDelayMs", cfg.Fallback.MaxDelayMs, 60000},
		{"writeOptimization.batchSize", cfg.WriteOptimization.BatchSize, 500},
		{"writeOptimization.compressionEnabled", *cfg.WriteOptimization.CompressionEnabled, true},
		{"logicalDelete.enabled", cfg.LogicalDelete.On(), true},
		{"versioning.enabled", cfg.Versioning.On(), true},
		{"analyticsDbName", cfg.Databases.Runtime.TenantDatabases[0].AnalyticsDBName, "db_a_analytics"},
		{"dynamicTenants.cacheTtl", cfg.DynamicTenants.CacheTTL.D(), time.Minute},
		{"dynamicTenants.discover", cfg.DynamicTenants.Discover, "off"},
		{"auth", cfg.Auth == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// A zero that means something stays: no retries at all.
	cfg, err = Parse([]byte(conf(`"fallback": {"maxRetries": 0, "enabled": false}`, `"versioning": {"enabled": false}`)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if *cfg.Fallback.MaxRetries != 0 || *cfg.Fallback.Enabled || cfg.Versioning.On() {
		t.Errorf("explicit zero values were replaced by defaults: %+v %+v", cfg.Fallback, cfg.Versioning)
	}
}

func TestEnvTokens(t *testing.T) {
	env := testEnv(map[string]string{"MONGO_URI": "mongodb://u:pw@h:27017", "PW": "s3cr3t", "R": "3", "ON": "true", "TTL": "45s"})
	cfg, err := Parse([]byte(`{
		"dbConnections": {"m": {"mongoUri": "ENV.MONGO_URI"}},
		"nats": {"url": "nats://svc:ENV.PW@h:4222", "replicas": "ENV.R"},
		"localStorage": {"enabled": "ENV.ON", "basePath": "/data"},
		"dynamicTenants": {"cacheTtl": "ENV.TTL", "idPattern": "^MYENV.PW$"}
	}`), env)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.DBConnections["m"].MongoURI.Reveal(); got != "mongodb://u:pw@h:27017" {
		t.Errorf("mongoUri = %q", got)
	}
	if got := cfg.NATS.URL.Reveal(); got != "nats://svc:s3cr3t@h:4222" {
		t.Errorf("nats.url = %q, want the token replaced inside the string", got)
	}
	if cfg.NATS.Replicas != 3 || !cfg.LocalStorage.Enabled || cfg.DynamicTenants.CacheTTL.D() != 45*time.Second {
		t.Errorf("whole-string tokens did not fill typed fields: %+v %+v %v", cfg.NATS, cfg.LocalStorage, cfg.DynamicTenants.CacheTTL.D())
	}
	if cfg.DynamicTenants.IDPattern != "^MYENV.PW$" {
		t.Errorf("idPattern = %q: a token must not start inside a word", cfg.DynamicTenants.IDPattern)
	}
}

func TestWrappedConfig(t *testing.T) {
	for _, wrapper := range []string{"chronos", "xronox"} {
		cfg, err := Parse([]byte(`{"`+wrapper+`": `+conf(runtimeTenants(okTenantA))+`}`), nil)
		if err != nil {
			t.Fatalf("%s: %v", wrapper, err)
		}
		if len(cfg.Databases.Runtime.TenantDatabases) != 1 {
			t.Errorf("%s: the wrapped configuration was not read", wrapper)
		}
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chronos.config.json")
	if err := os.WriteFile(path, []byte(`{"nats": {"replicas": 9}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := "chronos: config " + path + ": nats.replicas: must be between 1 and 5, got 9"
	if err == nil || err.Error() != want {
		t.Fatalf("Load error = %v, want %s", err, want)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want fs.ErrNotExist", err)
	}
}

func TestDiscover(t *testing.T) {
	touch := func(dir, name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noEnv := testEnv(nil)

	wd := t.TempDir()
	if p, err := Discover("", noEnv, wd); p != "" || err != nil {
		t.Errorf("empty directory: Discover = %q, %v; want \"\", nil", p, err)
	}
	hidden := touch(wd, ".chronos.json")
	if p, err := Discover("", noEnv, wd); p != hidden || err != nil {
		t.Errorf("Discover = %q, %v; want %q", p, err, hidden)
	}
	touch(wd, "chronos.config.json")
	if _, err := Discover("", noEnv, wd); err == nil || !strings.Contains(err.Error(), "keep one") {
		t.Errorf("two discovered files: Discover error = %v", err)
	}

	other := t.TempDir()
	fromEnv := touch(other, "env.json")
	env := testEnv(map[string]string{"CHRONOS_CONFIG": fromEnv})
	if p, err := Discover("", env, wd); p != fromEnv || err != nil {
		t.Errorf("CHRONOS_CONFIG: Discover = %q, %v; want %q", p, err, fromEnv)
	}
	fromFlag := touch(other, "flag.json")
	if p, err := Discover("flag.json", env, other); p != fromFlag || err != nil {
		t.Errorf("--config (relative): Discover = %q, %v; want %q", p, err, fromFlag)
	}
	if _, err := Discover("nope.json", env, other); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("--config of a missing file: Discover error = %v, want fs.ErrNotExist", err)
	}
	if _, err := Discover("", testEnv(map[string]string{"CHRONOS_CONFIG": "/nonexistent/c.json"}), wd); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CHRONOS_CONFIG of a missing file: Discover error = %v, want fs.ErrNotExist", err)
	}
}

func TestDevDefault(t *testing.T) {
	dir := t.TempDir()
	cfg := DevDefault(dir)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Auth != nil {
		t.Error("DevDefault has an auth section")
	}
	r, err := NewRouter(cfg, RouterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range AllDBTypes {
		for _, c := range []events.Collection{
			{DBType: db, Tier: events.TierTenant, Scope: "acme", Name: "orders"},
			{DBType: db, Tier: events.TierDomain, Scope: "health_care", Name: "orders"},
			{DBType: db, Tier: events.TierGeneric, Scope: "_", Name: "orders"},
		} {
			rt, err := r.Route(c)
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			want := "chronos_" + string(db) + "_" + string(c.Tier) + "_" + c.Scope
			if c.Tier == events.TierGeneric {
				want = "chronos_" + string(db) + "_generic"
			}
			if rt.DBName != want || rt.AnalyticsDBName != want+"_analytics" {
				t.Errorf("%s: databases %q, %q; want %q and its _analytics", c, rt.DBName, rt.AnalyticsDBName, want)
			}
			if rt.Backend != BackendLocal || rt.Spaces.BasePath != filepath.Join(dir, "blobs") || rt.Buckets.Versions != "chronos-"+string(db) {
				t.Errorf("%s: blob store %s %q %+v", c, rt.Backend, rt.Spaces.BasePath, rt.Buckets)
			}
		}
	}
}
