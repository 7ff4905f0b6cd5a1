package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/stack"
	"github.com/chronos-go/chronos/internal/testenv"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/projection"
)

var orders = events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "orders"}

const ordersPath = "/v1/runtime/tenant/acme/orders"

// sqliteStore in Config.MongoURI asks startStack for the embedded SQLite
// read model (stack.Config's empty MongoURI); an empty MongoURI there
// still means the MongoDB-compatible server of testenv.
const sqliteStore = "sqlite (test marker)"

// mongos maps the URIs forEachStore started to their servers, for tests
// that look at MongoDB's documents themselves.
var mongos sync.Map // string → *testenv.Mongo

// forEachStore runs f as two subtests, one per read model: "sqlite" (the
// default of chronos dev) and "mongodb" (a fresh server of testenv; see
// mongoOf).
func forEachStore(t *testing.T, f func(t *testing.T, cfg stack.Config)) {
	t.Run("sqlite", func(t *testing.T) { f(t, stack.Config{MongoURI: sqliteStore}) })
	t.Run("mongodb", func(t *testing.T) {
		m := testenv.StartMongo(t)
		mongos.Store(m.URI, m)
		t.Cleanup(func() { mongos.Delete(m.URI) })
		f(t, stack.Config{MongoURI: m.URI})
	})
}

// mongoOf returns the MongoDB server of a forEachStore config, nil for
// SQLite.
func mongoOf(cfg stack.Config) *testenv.Mongo {
	m, _ := mongos.Load(cfg.MongoURI)
	mg, _ := m.(*testenv.Mongo)
	return mg
}

// startStack runs the whole pipeline in-process on real servers: an
// embedded nats-server and the read model cfg names (see forEachStore);
// the MongoDB-compatible server of testenv when cfg.MongoURI is empty.
func startStack(t *testing.T, cfg stack.Config) *stack.Stack {
	t.Helper()
	switch cfg.MongoURI {
	case sqliteStore:
		cfg.MongoURI = ""
	case "":
		cfg.MongoURI = testenv.StartMongo(t).URI
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Addr = "127.0.0.1:0"
	cfg.Partitions = 4
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

type apiResp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r apiResp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response %d is not JSON: %v\n%s", r.Status, err, r.Body)
	}
	return m
}

func call(t *testing.T, method, url, body string, hdr ...string) apiResp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return apiResp{Status: res.StatusCode, Header: res.Header, Body: b}
}

func mustStatus(t *testing.T, r apiResp, want int) apiResp {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d: %s", r.Status, want, r.Body)
	}
	return r
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jsonEqual compares two JSON documents semantically.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%v: %s", err, a)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return reflect.DeepEqual(x, y)
}

// userData strips _id and _system from a returned document.
func userData(t *testing.T, body []byte) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "_id")
	delete(m, "_system")
	b, _ := json.Marshal(m)
	return b
}

// (a) create → update → update → delete: head and ver documents, blobs,
// and latest / version / as-of answers.
func TestSpineCreateUpdateDelete(t *testing.T) { forEachStore(t, testSpineCreateUpdateDelete) }

func testSpineCreateUpdateDelete(t *testing.T, cfg stack.Config) {
	mongo := mongoOf(cfg)
	s := startStack(t, cfg)
	base := s.URL() + ordersPath
	payloads := []string{
		`{"sku":"A-1","qty":1,"tags":["new"],"big":"` + strings.Repeat("x", 4000) + `"}`,
		`{"sku":"A-1","qty":2,"tags":["new","paid"],"nested":{"a":{"b":[1,2,3]}}}`,
		`{"sku":"A-1","qty":3,"price":12.5}`,
	}
	created := mustStatus(t, call(t, "POST", base+"/items?id=ord-1", payloads[0], "Chronos-Actor", "user:u-1 (Ann)", "Chronos-Reason", "checkout"), 201).json(t)
	if created["id"] != "ord-1" || created["ov"] != 0.0 || created["seq"] == nil || created["cv"] != created["seq"] {
		t.Fatalf("create response %v", created)
	}
	times := []time.Time{parseTime(t, created["at"])}
	for i, p := range payloads[1:] {
		r := mustStatus(t, call(t, "PUT", base+"/items/ord-1", p, "If-Match", fmt.Sprintf(`"%d"`, i), "Chronos-Actor", "user:u-2"), 200).json(t)
		if r["ov"] != float64(i+1) {
			t.Fatalf("update %d response %v", i, r)
		}
		times = append(times, parseTime(t, r["at"]))
	}
	del := mustStatus(t, call(t, "DELETE", base+"/items/ord-1?expectedOv=2", ""), 200).json(t)
	if del["ov"] != 3.0 {
		t.Fatalf("delete response %v", del)
	}
	times = append(times, parseTime(t, del["at"]))

	ctx := context.Background()
	ref := orders.Item("ord-1")
	eventually(t, "projection of ov 3", func() bool {
		h, err := s.Store.Head(ctx, ref)
		return err == nil && h.System.OV == 3
	})
	head, _ := s.Store.Head(ctx, ref)
	if !head.System.Deleted || head.System.DeletedAt == nil || !head.System.InsertedAt.Equal(times[0]) ||
		head.System.Creator == nil || head.System.Creator.Name != "Ann" || head.System.Updater != nil {
		t.Fatalf("head system %+v", head.System)
	}
	hist, err := s.Store.History(ctx, ref, projection.HistoryQuery{})
	if err != nil || len(hist) != 4 {
		t.Fatalf("history: %d versions, %v", len(hist), err)
	}
	for ov, v := range hist {
		if v.System.OV != uint64(ov) || !v.System.UpdatedAt.Equal(times[ov]) {
			t.Fatalf("version %d: %+v", ov, v.System)
		}
	}
	// Counters are written after heads within a batch: wait for the last
	// sequence to be counted, then check the totals.
	var cnt *projection.Counters
	eventually(t, "counters to reach seq 4", func() bool {
		var err error
		cnt, err = s.Store.Counters(ctx, orders)
		return err == nil && cnt.LastSeq >= 4
	})
	if cnt.Created != 1 || cnt.Updated != 2 || cnt.Deleted != 1 {
		t.Fatalf("counters %+v", cnt)
	}

	// The documents themselves, as MongoDB holds them (the seed's layout).
	if mongo == nil {
		return
	}
	db := mongo.Client.Database("chronos_runtime_tenant_acme")
	var rawHead bson.M
	if err := db.Collection("orders_head").FindOne(ctx, bson.M{"_id": "ord-1"}).Decode(&rawHead); err != nil {
		t.Fatal(err)
	}
	sys, _ := rawHead["_system"].(bson.M)
	if rawHead["sku"] != "A-1" || rawHead["price"] != 12.5 || sys == nil || sys["ov"] != int64(3) || sys["deleted"] != true {
		t.Fatalf("raw head %v", rawHead)
	}
	cur, err := db.Collection("orders_ver").Find(ctx, bson.M{"itemId": "ord-1"})
	if err != nil {
		t.Fatal(err)
	}
	var rawVers []bson.M
	if err := cur.All(ctx, &rawVers); err != nil {
		t.Fatal(err)
	}
	if len(rawVers) != 4 {
		t.Fatalf("%d ver documents, want 4", len(rawVers))
	}
	for _, v := range rawVers {
		id, _ := v["_id"].(string)
		if !strings.HasPrefix(id, "ord-1:") || v["sku"] != nil {
			t.Fatalf("ver document %v: want _id <item>:<ov> and no payload", v)
		}
	}

	// Every version's blob, decompressed, is that version's payload.
	store, err := s.Blobs(orders)
	if err != nil {
		t.Fatal(err)
	}
	want := append(payloads, payloads[2]) // the delete carries the last document
	for ov, p := range want {
		var got []byte
		eventually(t, fmt.Sprintf("blob of v%d", ov), func() bool {
			got, err = offload.ReadVersion(ctx, store, ref, uint64(ov), 1<<20)
			return err == nil
		})
		if !jsonEqual(t, got, []byte(p)) {
			t.Fatalf("blob v%d = %s, want %s", ov, got, p)
		}
	}
	// The first payload is over 1 KiB: it is stored compressed.
	if _, err := store.Stat(ctx, offload.VersionKey("orders", "ord-1", 0, offload.CodecZstd)); err != nil {
		t.Fatalf("v0 not stored as zstd: %v", err)
	}

	// Reads over HTTP.
	mustStatus(t, call(t, "GET", base+"/items/ord-1", ""), 404)
	latest := mustStatus(t, call(t, "GET", base+"/items/ord-1?includeDeleted=true", ""), 200)
	if !jsonEqual(t, userData(t, latest.Body), []byte(payloads[2])) || latest.json(t)["_id"] != "ord-1" {
		t.Fatalf("latest with deleted: %s", latest.Body)
	}
	for ov, p := range want {
		r := mustStatus(t, call(t, "GET", fmt.Sprintf("%s/items/ord-1?ov=%d", base, ov), ""), 200)
		if !jsonEqual(t, userData(t, r.Body), []byte(p)) {
			t.Fatalf("version %d: %s", ov, r.Body)
		}
		sys := r.json(t)["_system"].(map[string]any)
		if sys["ov"] != float64(ov) || sys["deleted"] != (ov == 3) {
			t.Fatalf("version %d _system %v", ov, sys)
		}
		if r.Header.Get("ETag") != fmt.Sprintf(`"%d"`, ov) {
			t.Fatalf("ETag %q", r.Header.Get("ETag"))
		}
	}
	for ov := 0; ov < 3; ov++ {
		at := times[ov].Format(time.RFC3339Nano)
		r := mustStatus(t, call(t, "GET", base+"/items/ord-1?at="+at, ""), 200)
		if !jsonEqual(t, userData(t, r.Body), []byte(payloads[ov])) {
			t.Fatalf("as of %s (ov %d): %s", at, ov, r.Body)
		}
	}
	before := times[0].Add(-time.Second).Format(time.RFC3339Nano)
	mustStatus(t, call(t, "GET", base+"/items/ord-1?at="+before, ""), 404)
	mustStatus(t, call(t, "GET", base+"/items/ord-1?at="+times[3].Format(time.RFC3339Nano), ""), 404)
	mustStatus(t, call(t, "GET", base+"/items/ord-1?at=yesterday", ""), 400)
	mustStatus(t, call(t, "GET", base+"/items/ord-1?ov=99", ""), 404)
}

func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %v: %v", v, err)
	}
	return tm
}

// (b) a stale expectedOv gets 409 with the current ov and writes nothing.
func TestSpineStaleExpectedOV(t *testing.T) { forEachStore(t, testSpineStaleExpectedOV) }

func testSpineStaleExpectedOV(t *testing.T, cfg stack.Config) {
	cfg.NoWorkers = true
	s := startStack(t, cfg)
	base := s.URL() + ordersPath
	mustStatus(t, call(t, "POST", base+"/items?id=x", `{"n":0}`), 201)
	mustStatus(t, call(t, "PUT", base+"/items/x", `{"n":1}`, "If-Match", `"0"`), 200)
	ctx := context.Background()
	before, err := s.Log.LastSeq(ctx, s.Log.Partition(orders))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []apiResp{
		call(t, "PUT", base+"/items/x", `{"n":"stale"}`, "If-Match", `"0"`),
		call(t, "PUT", base+"/items/x?expectedOv=5", `{"n":"future"}`),
		call(t, "DELETE", base+"/items/x?expectedOv=0", ""),
	} {
		mustStatus(t, r, 409)
		e := r.json(t)["error"].(map[string]any)
		if e["code"] != "version_conflict" || e["currentOv"] != 1.0 || !strings.Contains(e["message"].(string), "current ov is 1") {
			t.Fatalf("409 body %s", r.Body)
		}
	}
	after, _ := s.Log.LastSeq(ctx, s.Log.Partition(orders))
	if after != before {
		t.Fatalf("a rejected write reached the log: last seq %d -> %d", before, after)
	}
	last, err := s.Log.Last(ctx, orders.Item("x"))
	if err != nil || string(last.Event.Payload) != `{"n":1}` {
		t.Fatalf("last event %+v %v", last, err)
	}
}

// Bad input gets a clear error and reaches nothing.
func TestSpineRejectsBadInput(t *testing.T) { forEachStore(t, testSpineRejectsBadInput) }

func testSpineRejectsBadInput(t *testing.T, cfg stack.Config) {
	cfg.NoWorkers = true
	s := startStack(t, cfg)
	base := s.URL() + ordersPath
	mustStatus(t, call(t, "POST", base+"/items?id=ok", `{"a":1}`), 201)
	tests := []struct {
		method, path, body string
		hdr                []string
		status             int
		code, msg          string
	}{
		{"POST", ordersPath + "/items", `[1,2]`, nil, 400, "invalid_input", "must be a JSON object"},
		{"POST", ordersPath + "/items", `{"_id":"x"}`, nil, 400, "invalid_input", "reserved root key"},
		{"POST", ordersPath + "/items", `{"a":{"$gt":1}}`, nil, 400, "invalid_input", "document.a.$gt"},
		{"POST", ordersPath + "/items", `{"a":`, nil, 400, "invalid_input", "not valid JSON"},
		{"POST", ordersPath + "/items?id=a.b", `{}`, nil, 400, "invalid_input", "itemId"},
		{"POST", ordersPath + "/items?id=ok", `{}`, nil, 409, "already_exists", "ok"},
		{"POST", "/v1/nope/tenant/acme/orders/items", `{}`, nil, 400, "invalid_input", "dbType"},
		{"POST", "/v1/runtime/generic/acme/orders/items", `{}`, nil, 400, "invalid_input", "generic tier has no scope"},
		{"POST", "/v1/runtime/tenant/Not-Lower/orders/items", `{}`, nil, 400, "invalid_input", `must match dynamicTenants.idPattern`},
		{"POST", ordersPath + "/items", `{}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", "application/json"},
		{"POST", ordersPath + "/items", `{}`, []string{"Chronos-Actor", "not an actor!"}, 400, "invalid_input", "Chronos-Actor"},
		{"PUT", ordersPath + "/items/ok", `{}`, []string{"If-Match", `W/"1"`}, 400, "invalid_input", "weak"},
		{"PUT", ordersPath + "/items/ok?expectedOv=x", `{}`, nil, 400, "invalid_input", "expectedOv"},
		{"PUT", ordersPath + "/items/missing", `{}`, nil, 404, "not_found", "missing"},
		{"DELETE", ordersPath + "/items/missing", ``, nil, 404, "not_found", "missing"},
		{"POST", ordersPath + "/items", `{"big":"` + strings.Repeat("x", events.DefaultMaxPayload) + `"}`, nil, 413, "payload_too_large", "limit"},
	}
	for _, tt := range tests {
		r := call(t, tt.method, s.URL()+tt.path, tt.body, tt.hdr...)
		if r.Status != tt.status {
			t.Errorf("%s %s: status %d, want %d: %.200s", tt.method, tt.path, r.Status, tt.status, r.Body)
			continue
		}
		e, _ := r.json(t)["error"].(map[string]any)
		if e["code"] != tt.code || !strings.Contains(fmt.Sprint(e["message"]), tt.msg) {
			t.Errorf("%s %s: body %.300s, want code %s and message containing %q", tt.method, tt.path, r.Body, tt.code, tt.msg)
		}
	}
	ctx := context.Background()
	seq, _ := s.Log.LastSeq(ctx, s.Log.Partition(orders))
	if seq != 1 {
		t.Fatalf("rejected writes reached the log: last seq %d, want 1", seq)
	}
}

// The admin surface of chronos dev: Prometheus metrics and the DLQ.
func TestDevServesMetricsAndDLQ(t *testing.T) { forEachStore(t, testDevServesMetricsAndDLQ) }

func testDevServesMetricsAndDLQ(t *testing.T, cfg stack.Config) {
	s := startStack(t, cfg)
	mustStatus(t, call(t, "POST", s.URL()+ordersPath+"/items?id=m", `{"a":1}`), 201)
	eventually(t, "the offloader's first upload", func() bool {
		r := call(t, "GET", s.URL()+"/metrics", "")
		return r.Status == 200 && strings.Contains(string(r.Body), `chronos_blob_ops_total{backend="local",op="put"}`)
	})
	m := string(call(t, "GET", s.URL()+"/metrics", "").Body)
	for _, want := range []string{"chronos_dlq_depth", "go_goroutines"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	r := mustStatus(t, call(t, "GET", s.URL()+"/v1/admin/dlq", ""), 200)
	if !strings.Contains(string(r.Body), "[]") && !strings.Contains(string(r.Body), "null") {
		t.Fatalf("empty DLQ listing: %s", r.Body)
	}
	mustStatus(t, call(t, "GET", s.URL()+"/v1/admin/dlq/notanumber", ""), 400)
}
