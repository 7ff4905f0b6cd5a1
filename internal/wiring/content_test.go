package wiring_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/wiring"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/tenancy"
)

// ContentBlobs resolves the route's content bucket, apart from Blobs'
// versions bucket; Base64Props and QueryMaps carry the collection map's
// base64Props; DeleteVersionBlobs empties a version's directory in both
// buckets and leaves the other versions alone.
func TestContentBucketWiring(t *testing.T) {
	dir := t.TempDir()
	cfg, err := tenancy.Parse([]byte(`{
		"dbConnections": {"m": {"mongoUri": "mongodb://127.0.0.1:1"}},
		"localStorage": {"enabled": true, "basePath": "`+dir+`"},
		"databases": {"runtime": {"tenantDatabases": [{"tenantId": "acme", "dbConnRef": "m", "dbName": "t_acme",
			"recordsBucket": "acme-records", "versionsBucket": "acme-versions", "contentBucket": "acme-content"}]}},
		"collectionMaps": {"docs": {"indexedProps": [], "base64Props": {
			"file": {"contentType": "application/pdf"},
			"note": {"contentType": "text/plain", "preferredText": true, "textCharset": "latin1"}}}}
	}`), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	d, err := wiring.Open(cfg, wiring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	docs := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "docs"}

	want := map[string]offload.ContentProp{
		"file": {ContentType: "application/pdf"},
		"note": {ContentType: "text/plain", Text: true, Charset: "latin1"},
	}
	for name, got := range map[string]map[string]offload.ContentProp{
		"Base64Props": d.Base64Props()(docs),
		"QueryMaps":   d.QueryMaps()(docs).Base64Props,
	} {
		if len(got) != len(want) || got["file"] != want["file"] || got["note"] != want["note"] {
			t.Errorf("%s(docs) = %+v, want %+v", name, got, want)
		}
	}
	if got := d.Base64Props()(events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "other"}); got != nil {
		t.Errorf("Base64Props of a collection without a map = %+v", got)
	}

	ctx := t.Context()
	versions, err := d.Blobs()(docs)
	if err != nil {
		t.Fatal(err)
	}
	content, err := d.ContentBlobs()(docs)
	if err != nil {
		t.Fatal(err)
	}
	put := func(s offload.Store, key string) {
		if err := s.Put(ctx, key, strings.NewReader(key), int64(len(key))); err != nil {
			t.Fatal(err)
		}
	}
	for _, ov := range []uint64{0, 1} {
		put(versions, offload.VersionKey("docs", "d1", ov, offload.CodecNone))
		put(content, offload.ContentKey("docs", "d1", ov, "file", false))
		put(content, offload.ContentKey("docs", "d1", ov, "note", true))
	}
	// The buckets are apart: neither sees the other's objects.
	if _, err := versions.Stat(ctx, offload.ContentKey("docs", "d1", 0, "file", false)); !errors.Is(err, offload.ErrNotFound) {
		t.Fatalf("the versions bucket holds content: %v", err)
	}
	if _, err := content.Stat(ctx, offload.VersionKey("docs", "d1", 0, offload.CodecNone)); !errors.Is(err, offload.ErrNotFound) {
		t.Fatalf("the content bucket holds a payload: %v", err)
	}

	if err := d.DeleteVersionBlobs()(ctx, docs.Item("d1"), 0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s       offload.Store
		key     string
		present bool
	}{
		{versions, offload.VersionKey("docs", "d1", 0, offload.CodecNone), false},
		{content, offload.ContentKey("docs", "d1", 0, "file", false), false},
		{content, offload.ContentKey("docs", "d1", 0, "note", true), false},
		{versions, offload.VersionKey("docs", "d1", 1, offload.CodecNone), true},
		{content, offload.ContentKey("docs", "d1", 1, "file", false), true},
		{content, offload.ContentKey("docs", "d1", 1, "note", true), true},
	} {
		_, err := c.s.Stat(ctx, c.key)
		if c.present && err != nil || !c.present && !errors.Is(err, offload.ErrNotFound) {
			t.Errorf("after deleting v0, %s: %v (want present %v)", c.key, err, c.present)
		}
	}
}
