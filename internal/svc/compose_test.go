package svc

import (
	"testing"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/wiring"
	"github.com/chronos-go/chronos/tenancy"
)

// The configuration docker-compose.yml mounts loads, validates and routes
// a tenant, so the production-shaped stack starts from a file that works.
func TestComposeConfigurationLoads(t *testing.T) {
	env := map[string]string{
		"CHRONOS_NATS_URL": "nats://nats-1:4222", "CHRONOS_MONGO_URI": "mongodb://mongo:27017/?replicaSet=rs0",
		"CHRONOS_S3_ACCESS_KEY": "chronos", "CHRONOS_S3_SECRET_KEY": "chronos-secret",
	}
	cfg, err := tenancy.LoadEnv("../../deploy/chronos/compose.json", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	deps, err := wiring.Open(cfg, wiring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if deps.NATSURL() != "nats://nats-1:4222" || deps.LogConfig().Replicas != 3 {
		t.Fatalf("nats %s, log %+v", deps.NATSURL(), deps.LogConfig())
	}
	rt, err := deps.Router.Route(events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "orders"})
	if err != nil || rt.DBName != "chronos_runtime_tenant_acme" || rt.Backend != "s3" || rt.Buckets.Versions != "chronos-runtime" {
		t.Fatalf("route %v, %v", rt, err)
	}
}
