package stack_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/internal/stack"
	"github.com/chronos-go/chronos/internal/svc"
	"github.com/chronos-go/chronos/query"
	"github.com/chronos-go/chronos/tenancy"
)

// Keys of testdata/tiered.json.
const (
	opsKey        = "ops-secret-key-0001"
	acmeReaderKey = "acme-reader-key-0002"
)

// A tiered fetch with a tenant-scoped, read-only key, through the real
// HTTP stack: the tiers the key reaches are found and merged; a tier it
// does not reach is a 403 that leaks nothing; no key is a 401.
func TestTieredNonAdminKey(t *testing.T) {
	env := map[string]string{
		"BLOBS":           t.TempDir(),
		"OPS_SHA":         tenancy.HashKey(opsKey),
		"ACME_READER_SHA": tenancy.HashKey(acmeReaderKey),
	}
	cfg, err := tenancy.LoadEnv("testdata/tiered.json", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	s := startStack(t, stack.Config{Tenancy: cfg, MongoURI: sqliteStore})
	put := func(path, doc string) {
		t.Helper()
		mustStatus(t, call(t, "POST", s.URL()+path+"/items?id=flags", doc, bearer(opsKey)...), 201)
	}
	put("/v1/knowledge/generic/_/appconfig", `{"key":"flags","theme":"light","features":["basic","standard"],"settings":{"timeout":30,"region":"eu"}}`)
	put("/v1/knowledge/domain/prod/appconfig", `{"key":"flags","features":["advanced"],"settings":{"maxRetries":3}}`)
	put("/v1/knowledge/tenant/acme/appconfig", `{"key":"flags","theme":"dark","features":["premium","basic"],"settings":{"timeout":60}}`)
	put("/v1/knowledge/tenant/globex/appconfig", `{"key":"flags","theme":"globex-classified","features":["globex-only"]}`)
	// The key may not write, even where it reads.
	mustStatus(t, call(t, "POST", s.URL()+"/v1/knowledge/tenant/acme/appconfig/items", `{"key":"x"}`, bearer(acmeReaderKey)...), 403)

	url := s.URL() + "/v1/knowledge/tiered/appconfig"
	var res struct {
		Data        json.RawMessage            `json:"data"`
		TiersFound  []string                   `json:"tiersFound"`
		TierRecords map[string]json.RawMessage `json:"tierRecords"`
	}
	eventually(t, "three tiers merged", func() bool {
		r := call(t, "GET", url+"?tenant=acme&domain=prod&id=flags&merge=true", "", bearer(acmeReaderKey)...)
		if r.Status != 200 && r.Status != 404 {
			t.Fatalf("tiered fetch with the tenant's key: %d %s", r.Status, r.Body)
		}
		res.TiersFound, res.TierRecords = nil, nil
		if r.Status == 200 {
			if err := json.Unmarshal(r.Body, &res); err != nil {
				t.Fatal(err)
			}
		}
		return len(res.TiersFound) == 3
	})
	if !slices.Equal(res.TiersFound, []string{"generic", "domain", "tenant"}) {
		t.Fatalf("tiersFound %v, want generic, domain, tenant", res.TiersFound)
	}
	want := `{"key":"flags","theme":"dark","features":["basic","standard","advanced","premium"],"settings":{"timeout":60,"region":"eu","maxRetries":3}}`
	if !jsonEqual(t, res.Data, []byte(want)) {
		t.Fatalf("merged %s, want %s", res.Data, want)
	}
	wantRecords := map[string]string{
		"generic": `{"key":"flags","theme":"light","features":["basic","standard"],"settings":{"timeout":30,"region":"eu"}}`,
		"domain":  `{"key":"flags","features":["advanced"],"settings":{"maxRetries":3}}`,
		"tenant":  `{"key":"flags","theme":"dark","features":["premium","basic"],"settings":{"timeout":60}}`,
	}
	if len(res.TierRecords) != len(wantRecords) {
		t.Fatalf("tierRecords %v", res.TierRecords)
	}
	for tier, doc := range wantRecords {
		if got := userData(t, res.TierRecords[tier]); !jsonEqual(t, got, []byte(doc)) {
			t.Errorf("tierRecords[%s] = %s, want %s", tier, got, doc)
		}
	}
	// Without merge, the first tier found: the tenant's.
	r := mustStatus(t, call(t, "GET", url+"?tenant=acme&domain=prod&id=flags", "", bearer(acmeReaderKey)...), 200)
	if m := r.json(t); m["tier"] != "tenant" {
		t.Fatalf("first found: %s", r.Body)
	}
	// Another tenant's tier, a domain the key does not reach: 403, and
	// nothing of the other tenant in the answer.
	for _, q := range []string{
		"tenant=globex&domain=prod&id=flags&merge=true",
		"tenant=globex&id=flags",
		"tenant=acme&domain=staging&id=flags&merge=true",
	} {
		r := mustStatus(t, call(t, "GET", url+"?"+q, "", bearer(acmeReaderKey)...), 403)
		if strings.Contains(string(r.Body), "classified") || strings.Contains(string(r.Body), "globex-only") {
			t.Errorf("?%s leaked another tenant's data: %s", q, r.Body)
		}
	}
	// The admin key reads the other tenant.
	r = mustStatus(t, call(t, "GET", url+"?tenant=globex&id=flags", "", bearer(opsKey)...), 200)
	if !strings.Contains(string(r.Body), "globex-classified") {
		t.Fatalf("the admin key's read of globex: %s", r.Body)
	}
	// No key, or an unknown one.
	mustStatus(t, call(t, "GET", url+"?tenant=acme&id=flags", ""), 401)
	mustStatus(t, call(t, "GET", url+"?tenant=acme&id=flags", "", bearer("not-a-key")...), 401)

	// A query service built without Options.Auth, behind the same
	// middleware (which leaves tiered reads to the service): the request's
	// principal still bounds the tiers.
	mux := http.NewServeMux()
	query.NewHandler(query.New(s.Store, s.Log, s.Blobs.ReadOnly(), query.Options{}), slog.New(slog.NewTextHandler(io.Discard, nil))).Register(mux)
	h, err := svc.Protect(mux, cfg, false, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	bare := httptest.NewServer(h)
	defer bare.Close()
	burl := bare.URL + "/v1/knowledge/tiered/appconfig"
	mustStatus(t, call(t, "GET", burl+"?tenant=acme&domain=prod&id=flags&merge=true", "", bearer(acmeReaderKey)...), 200)
	r = mustStatus(t, call(t, "GET", burl+"?tenant=globex&id=flags", "", bearer(acmeReaderKey)...), 403)
	if strings.Contains(string(r.Body), "classified") {
		t.Errorf("leaked another tenant's data: %s", r.Body)
	}
}
