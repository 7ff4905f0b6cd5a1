package wiring_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/wiring"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/tenancy"
)

// HeadBlobs resolves the records bucket, under the scope prefix, of a
// route whose versions have a bucket of their own, and no store where
// records and versions share one (a single `bucket`, or a multi-bucket
// set without versionsBucket).
func TestHeadBucketWiring(t *testing.T) {
	dir := t.TempDir()
	cfg, err := tenancy.Parse([]byte(`{
		"dbConnections": {"m": {"mongoUri": "mongodb://127.0.0.1:1"}},
		"localStorage": {"enabled": true, "basePath": "`+dir+`"},
		"databases": {"runtime": {"tenantDatabases": [
			{"tenantId": "acme", "dbConnRef": "m", "dbName": "t_acme", "recordsBucket": "acme-records", "versionsBucket": "acme-versions"},
			{"tenantId": "solo", "dbConnRef": "m", "dbName": "t_solo", "bucket": "solo-all"},
			{"tenantId": "norec", "dbConnRef": "m", "dbName": "t_norec", "recordsBucket": "norec-records", "contentBucket": "norec-content"}]}}
	}`), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	d, err := wiring.Open(cfg, wiring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	coll := func(scope string) events.Collection {
		return events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: scope, Name: "docs"}
	}

	for _, scope := range []string{"solo", "norec"} {
		if st, err := d.HeadBlobs()(coll(scope)); err != nil || st != nil {
			t.Errorf("HeadBlobs(%s) = %v, %v; want no store", scope, st, err)
		}
	}

	ctx := t.Context()
	heads, err := d.HeadBlobs()(coll("acme"))
	if err != nil || heads == nil {
		t.Fatalf("HeadBlobs(acme) = %v, %v", heads, err)
	}
	key := offload.HeadKey("docs", "d1", offload.CodecNone)
	if err := heads.Put(ctx, key, strings.NewReader("{}"), 2); err != nil {
		t.Fatal(err)
	}
	// In the records bucket, under the scope prefix; not in the versions bucket.
	if _, err := os.Stat(filepath.Join(dir, "acme-records", "objects", "runtime", "tenant", "acme", "docs", "d1", "head.json")); err != nil {
		t.Errorf("the head is not in the records bucket under the scope prefix: %v", err)
	}
	versions, err := d.Blobs()(coll("acme"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := versions.Stat(ctx, key); !errors.Is(err, offload.ErrNotFound) {
		t.Errorf("the versions bucket holds the head: %v", err)
	}
}
