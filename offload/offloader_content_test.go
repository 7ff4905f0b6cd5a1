package offload_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/testenv"
	"github.com/chronos-go/chronos/internal/wiring"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/tenancy"
)

// contentConfig routes tenant acme to three distinct buckets (records,
// versions, content) of the blob connection that members configure, with
// a collection "docs" holding a binary and a text base64 property.
func contentConfig(t *testing.T, members, spaceConnRef string) *tenancy.Config {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	sfx := hex.EncodeToString(b) // buckets of a shared S3 server stay apart
	ref := ""
	if spaceConnRef != "" {
		ref = `"spaceConnRef": "` + spaceConnRef + `", `
	}
	cfg, err := tenancy.Parse([]byte(`{
		"dbConnections": {"m": {"mongoUri": "mongodb://127.0.0.1:1"}}, `+members+`,
		"databases": {"runtime": {"tenantDatabases": [{"tenantId": "acme", "dbConnRef": "m", `+ref+`"dbName": "t_acme",
			"recordsBucket": "rec-`+sfx+`", "versionsBucket": "ver-`+sfx+`", "contentBucket": "cnt-`+sfx+`"}]}},
		"collectionMaps": {"docs": {"indexedProps": [], "base64Props": {
			"file": {"contentType": "application/pdf"},
			"note": {"contentType": "text/plain", "preferredText": true, "textCharset": "latin1"}}}}
	}`), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// contentStore is a real store that records every Put, can hold Puts
// until a gate opens, and fails the first Put of one key with a 503.
type contentStore struct {
	offload.Store
	gate    <-chan struct{}
	failKey string
	mu      sync.Mutex
	puts    map[string][][]byte // successful Puts' bytes, by key
	fails   int
}

func (s *contentStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	select {
	case <-s.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if key == s.failKey && s.fails == 0 {
		s.fails++
		s.mu.Unlock()
		return fmt.Errorf("put %s: %w", key, statusError(503))
	}
	s.mu.Unlock()
	if err := s.Store.Put(ctx, key, bytes.NewReader(data), size); err != nil {
		return err
	}
	s.mu.Lock()
	s.puts[key] = append(s.puts[key], data)
	s.mu.Unlock()
	return nil
}

func (s *contentStore) putsOf(key string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.puts[key])
}

// The offloader writes each base64 property's decoded content (binary
// as is, text transcoded to UTF-8) to the content bucket, and nothing
// else there; the versions bucket gets the payloads only. Inline and
// claim-checked documents both have their content written. A failed
// content upload is retried like a payload upload, and the redelivery
// rewrites identical bytes. The metrics count it all, and the lag gauge
// returns to 0 once the offloader has caught up.
func TestOffloaderWritesContent(t *testing.T) {
	t.Run("local", func(t *testing.T) {
		dir := t.TempDir()
		testOffloaderWritesContent(t, contentConfig(t, `"localStorage": {"enabled": true, "basePath": "`+dir+`"}`, ""))
	})
	t.Run("s3", func(t *testing.T) {
		srv := testenv.StartS3(t)
		testOffloaderWritesContent(t, contentConfig(t, `"spacesConnections": {"s3": {"type": "s3", "endpoint": "`+srv.Endpoint+
			`", "region": "`+srv.Region+`", "accessKey": "`+srv.AccessKey+`", "secretKey": "`+srv.SecretKey+`", "forcePathStyle": true}}`, "s3"))
	})
}

func testOffloaderWritesContent(t *testing.T, cfg *tenancy.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	deps, err := wiring.Open(cfg, wiring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer deps.Close(context.Background())
	_, js := testenv.StartNATS(t).Connect(t)
	if err := clog.EnsureStreams(ctx, js, clog.Config{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	l, err := clog.Open(ctx, js, events.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	docs := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "docs"}
	versions, err := deps.Blobs()(docs)
	if err != nil {
		t.Fatal(err)
	}
	content, err := deps.ContentBlobs()(docs)
	if err != nil {
		t.Fatal(err)
	}

	// The writes: binary and latin1 text (d1), an update (d1 v1), a
	// document without content (d2), a claim-checked one (big, unpadded).
	pdf := append([]byte("%PDF-1.7\n"), make([]byte, 256)...)
	for i := range 256 {
		pdf[9+i] = byte(i)
	}
	pdf2 := []byte("%PDF-1.7 second version")
	big := make([]byte, 3000)
	rand.Read(big)
	latin1, utf8Note := []byte("Gr\xfc\xdfe, caf\xe9"), []byte("Grüße, café")
	b64 := base64.StdEncoding.EncodeToString
	ing := ingest.New(l, ingest.Options{Blobs: deps.Blobs(), Router: deps.Router, ClaimThreshold: 2048})
	for _, w := range []struct{ id, doc string }{
		{"d1", `{"title":"one","file":"` + b64(pdf) + `","note":"` + b64(latin1) + `"}`},
		{"d2", `{"title":"none","note":null}`},
		{"big", `{"file":"` + base64.RawStdEncoding.EncodeToString(big) + `"}`},
	} {
		if _, err := ing.Create(ctx, docs, w.id, []byte(w.doc), ingest.Write{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ing.Update(ctx, docs.Item("d1"), []byte(`{"title":"one","file":"`+b64(pdf2)+`"}`), ingest.Write{}); err != nil {
		t.Fatal(err)
	}
	if last, err := l.Last(ctx, docs.Item("big")); err != nil || last.Event.PayloadRef == nil {
		t.Fatalf("big is not claim-checked: %+v, %v", last, err)
	}
	lastSeq, err := l.LastSeq(ctx, 0)
	if err != nil || lastSeq != 4 {
		t.Fatalf("last seq %d, %v", lastSeq, err)
	}

	key := func(id string, ov uint64, prop string) string {
		return offload.ContentKey("docs", id, ov, prop, prop == "note")
	}
	want := map[string][]byte{
		key("d1", 0, "file"):  pdf,
		key("d1", 0, "note"):  utf8Note,
		key("big", 0, "file"): big,
		key("d1", 1, "file"):  pdf2,
	}
	gate := make(chan struct{})
	rec := &contentStore{Store: content, gate: gate, failKey: key("d1", 0, "note"), puts: map[string][][]byte{}}
	reg := prometheus.NewRegistry()
	o, err := offload.NewOffloader(l, deps.Blobs(), offload.OffloaderOptions{
		Retry:          fallbackq.Config{MaxRetries: 3, RetryDelayMs: 20, MaxDelayMs: 100},
		Metrics:        fallbackq.NewMetrics(reg),
		OffloadMetrics: offload.NewMetrics(reg),
		LagInterval:    10 * time.Millisecond,
		Content:        func(events.Collection) (offload.Store, error) { return rec, nil },
		Base64Props:    deps.Base64Props(),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// While d1 (seq 1) cannot be stored, nothing is acknowledged past it:
	// the lag is the whole stream.
	lag := func() (float64, bool) { return gaugeValue(t, reg, "chronos_offloader_lag_events", "partition", "0") }
	awaitCond(t, "lag 4 while the content store is held", func() bool { v, ok := lag(); return ok && v == 4 })
	close(gate)
	awaitCond(t, "every content object stored", func() bool {
		for k := range want {
			if _, err := content.Stat(ctx, k); err != nil {
				return false
			}
		}
		return true
	})
	awaitCond(t, "lag back to 0", func() bool { v, ok := lag(); return ok && v == 0 })

	for k, w := range want {
		rc, _, err := content.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, w) {
			t.Errorf("%s holds %q (%v), want %q", k, got, err, w)
		}
	}
	// The content bucket holds the content only; the versions bucket the
	// payloads (and the claim) only.
	if got := listKeys(t, content); !slices.Equal(got, sortedKeys(want)) {
		t.Errorf("content bucket holds %q, want %q", got, sortedKeys(want))
	}
	for _, k := range listKeys(t, versions) {
		if !strings.Contains(k, "/item.json") && !strings.Contains(k, "/claims.sha256/") {
			t.Errorf("versions bucket holds %q", k)
		}
	}
	if _, err := versions.Stat(ctx, offload.VersionKey("docs", "d1", 0, offload.CodecNone)); err != nil {
		t.Errorf("d1 v0 payload: %v", err)
	}

	// d1 v0 was redelivered after the note's 503: its file was written
	// twice, with the same bytes.
	if puts := rec.putsOf(key("d1", 0, "file")); len(puts) != 2 || !bytes.Equal(puts[0], puts[1]) || !bytes.Equal(puts[0], pdf) {
		t.Errorf("d1 v0 file: %d puts, want 2 of the same decoded bytes", len(puts))
	}
	if puts := rec.putsOf(key("d1", 0, "note")); len(puts) != 1 {
		t.Errorf("d1 v0 note: %d successful puts, want 1 (after one 503)", len(puts))
	}

	contentBytes := 2*len(pdf) + len(utf8Note) + len(big) + len(pdf2)
	for _, m := range []struct {
		name, kind string
		want       float64
	}{
		{"chronos_offloader_objects_total", "content", 5}, // d1 v0 file twice, note, big, d1 v1
		{"chronos_offloader_objects_total", "version", 4}, // d1 v0 twice, d2, d1 v1 (big is claim-checked)
		{"chronos_offloader_bytes_in_total", "content", float64(contentBytes)},
		{"chronos_offloader_bytes_out_total", "content", float64(contentBytes)},
	} {
		if got, _ := gaugeValue(t, reg, m.name, "kind", m.kind); got != m.want {
			t.Errorf("%s{kind=%q} = %v, want %v", m.name, m.kind, got, m.want)
		}
	}
	if in, _ := gaugeValue(t, reg, "chronos_offloader_bytes_in_total", "kind", "version"); in == 0 {
		t.Error("chronos_offloader_bytes_in_total{kind=version} did not move")
	}
	for name, want := range map[string]float64{"chronos_offloader_failures_total": 1, "chronos_retries_total": 1} {
		if got := counterValue(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// gaugeValue returns the value of the series of metric name whose label
// is value (a gauge or a counter), and whether there is one.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name, label, value string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					if g := m.GetGauge(); g != nil {
						return g.GetValue(), true
					}
					return m.GetCounter().GetValue(), true
				}
			}
		}
	}
	return 0, false
}

func listKeys(t *testing.T, s offload.Store) []string {
	t.Helper()
	var out []string
	for after := ""; ; {
		page, err := s.List(context.Background(), offload.ListOptions{StartAfter: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Objects {
			out = append(out, o.Key)
		}
		if page.Next == "" {
			return out
		}
		after = page.Next
	}
}

func sortedKeys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
