package stack_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/internal/stack"
	"github.com/chronos-go/chronos/internal/svc"
	"github.com/chronos-go/chronos/internal/wiring"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/query"
	"github.com/chronos-go/chronos/tenancy"
)

// presignedRead GETs url (a presigned item read) until it answers with a
// payload URL: the body comes back instead until the offloader stored the
// version.
func presignedRead(t *testing.T, url string, hdr ...string) query.PayloadURL {
	t.Helper()
	var pu query.PayloadURL
	eventually(t, "a presigned read of "+url, func() bool {
		r := call(t, "GET", url, "", hdr...)
		if r.Status == 404 {
			return false // not projected yet
		}
		if r.Status != 200 {
			t.Fatalf("presigned read: %d %s", r.Status, r.Body)
		}
		var body struct {
			Blob    *string           `json:"blob"`
			Payload *query.PayloadURL `json:"_payload"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		if body.Payload == nil {
			return false
		}
		if body.Blob != nil {
			t.Fatalf("a presigned read also returned the body: %.200s", r.Body)
		}
		pu = *body.Payload
		return true
	})
	return pu
}

// chronos dev presigns its local blobs: the URL points at the stack's own
// GET /v1/blobs/{bucket}/{key...}, which needs no API key (here with auth
// on), serves the stored object, and refuses a tampered or expired URL.
func TestPresignLocalDev(t *testing.T) {
	env := map[string]string{"BLOBS": t.TempDir(), "ACME_KEY_SHA": tenancy.HashKey(acmeKey), "GLOBEX_KEY_SHA": tenancy.HashKey(globexKey), "ACME_RO_SHA": tenancy.HashKey(acmeRO)}
	cfg, err := tenancy.LoadEnv("testdata/tenants.json", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	s := startStack(t, stack.Config{Tenancy: cfg, MongoURI: sqliteStore})
	acme := s.URL() + "/v1/runtime/tenant/acme/orders/items"
	// Larger than the read model's inline limit (64 KiB), so that even the
	// latest version is read from the blob store.
	var b strings.Builder
	for i := 0; b.Len() < 80<<10; i++ {
		fmt.Fprintf(&b, "reading %d of sensor %d; ", i, i%17)
	}
	doc := `{"sku":"big","status":"new","blob":"` + b.String() + `"}`
	mustStatus(t, call(t, "POST", acme+"?id=big-1", doc, bearer(acmeKey)...), 201)

	pu := presignedRead(t, acme+"/big-1?presign=true&ttl=60s", bearer(acmeKey)...)
	if !strings.HasPrefix(pu.URL, s.URL()+"/v1/blobs/acme-runtime/") || pu.Size != int64(len(doc)) {
		t.Fatalf("payload URL %+v, want one of %s/v1/blobs/acme-runtime/ for %d bytes", pu, s.URL(), len(doc))
	}
	// No API key: the signature is the authorization.
	mustStatus(t, call(t, "GET", acme+"/big-1", ""), 401)
	r := mustStatus(t, call(t, "GET", pu.URL, ""), 200)
	codec, err := offload.ParseCodec(pu.Codec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := offload.Decompress(codec, r.Body, 1<<20)
	if err != nil || !jsonEqual(t, got, []byte(doc)) {
		t.Fatalf("fetched %d bytes of codec %s (%v), want the %d bytes written", len(got), pu.Codec, err, len(doc))
	}
	// One flipped byte of the signature.
	i := strings.Index(pu.URL, "signature=") + len("signature=") + 7
	flipped := "0"
	if pu.URL[i] == '0' {
		flipped = "1"
	}
	mustStatus(t, call(t, "GET", pu.URL[:i]+flipped+pu.URL[i+1:], ""), 403)
	// The same signature on another bucket's path.
	mustStatus(t, call(t, "GET", strings.Replace(pu.URL, "/acme-runtime/", "/globex-runtime/", 1), ""), 403)
	// A version read's URL works the same way.
	pv := presignedRead(t, acme+"/big-1?ov=0&presign=true", bearer(acmeKey)...)
	mustStatus(t, call(t, "GET", pv.URL, ""), 200)
	// A signed URL of a key that holds nothing.
	blobs, err := s.Blobs(orders)
	if err != nil {
		t.Fatal(err)
	}
	missing, err := blobs.Presign(t.Context(), "orders/none/v0/item.json.zst", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, call(t, "GET", missing, ""), 404)
	// Expired: valid for a second, fetched after it.
	short := presignedRead(t, acme+"/big-1?presign=true&ttl=1s", bearer(acmeKey)...)
	time.Sleep(time.Until(short.ExpiresAt.Add(2 * time.Second)))
	mustStatus(t, call(t, "GET", short.URL, ""), 403)
	// A presigned URL serves the whole payload: no fields.
	mustStatus(t, call(t, "GET", acme+"/big-1?presign=true&fields=sku", "", bearer(acmeKey)...), 400)
}

// The standalone query service without --public-url cannot presign local
// blobs: 501, telling the operator what to set.
func TestPresignLocalWithoutPublicURL(t *testing.T) {
	s := startStack(t, stack.Config{MongoURI: sqliteStore})
	base := s.URL() + ordersPath
	createItem(t, base, "p-1", `{"n":1}`)
	o, err := svc.PresignOptions("", "--public-url")
	if err != nil {
		t.Fatal(err)
	}
	deps, err := wiring.Open(tenancy.DevDefault(t.TempDir()), o)
	if err != nil {
		t.Fatal(err)
	}
	qsvc := query.New(s.Store, s.Log, deps.Blobs().ReadOnly(), query.Options{})
	mux := http.NewServeMux()
	query.NewHandler(qsvc, nil).Register(mux)
	srv := httptest.NewServer(svc.WithPresignedBlobs(mux, deps))
	defer srv.Close()
	// The version blob lives in the stack's own data dir; this service's
	// store is empty, so put the object there first.
	var r apiResp
	eventually(t, "the offloaded version", func() bool {
		r = call(t, "GET", base+"/items/p-1?ov=0&presign=true", "")
		return r.Status == 200 && strings.Contains(string(r.Body), `"_payload"`)
	})
	stackBlobs, err := s.Blobs(orders)
	if err != nil {
		t.Fatal(err)
	}
	own, err := deps.Blobs()(orders)
	if err != nil {
		t.Fatal(err)
	}
	var pu struct {
		Payload query.PayloadURL `json:"_payload"`
	}
	if err := json.Unmarshal(r.Body, &pu); err != nil {
		t.Fatal(err)
	}
	key := pu.Payload.URL[strings.Index(pu.Payload.URL, "/orders/")+1 : strings.Index(pu.Payload.URL, "?")]
	rc, info, err := stackBlobs.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := own.Put(t.Context(), key, rc, info.Size); err != nil {
		t.Fatal(err)
	}
	r = mustStatus(t, call(t, "GET", srv.URL+ordersPath+"/items/p-1?ov=0&presign=true", ""), 501)
	if !strings.Contains(string(r.Body), "--public-url") || !strings.Contains(string(r.Body), svc.PublicURLEnv) {
		t.Fatalf("501 without naming the flag: %s", r.Body)
	}
	// Without a base URL it serves no blob URL either, not even the
	// stack's (signed with another secret).
	mustStatus(t, call(t, "GET", strings.Replace(pu.Payload.URL, s.URL(), srv.URL, 1), ""), 403)
}
