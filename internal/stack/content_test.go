package stack_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/stack"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/projection"
	"github.com/chronos-go/chronos/query"
	"github.com/chronos-go/chronos/tenancy"
)

var docsColl = events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "docs"}

const docsPath = "/v1/runtime/tenant/acme/docs"

// Content of the test documents: binary bytes, and latin1 text whose
// UTF-8 form the text property serves.
var (
	pdfV0    = []byte("%PDF-1.7\n\x00\x01\x02\xfe\xff binary")
	pdfV1    = []byte("%PDF-1.7\n second version \xff")
	latin1   = []byte("Gr\xfc\xdfe, caf\xe9")
	utf8Note = "Grüße, café"
)

// startContentStack runs chronos dev with testdata/content.json: tenant
// acme's versions and content in distinct buckets, collection docs with a
// binary prop (file) and a latin1 text prop (note).
func startContentStack(t *testing.T, noWorkers bool) *stack.Stack {
	t.Helper()
	env := map[string]string{"BLOBS": t.TempDir()}
	cfg, err := tenancy.LoadEnv("testdata/content.json", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return startStack(t, stack.Config{Tenancy: cfg, MongoURI: sqliteStore, NoWorkers: noWorkers})
}

// runWorker runs f until the test ends.
func runWorker(t *testing.T, name string, f func(context.Context) error) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", name, err)
		}
	})
}

// GET {base}/items/{id}/content/{prop} serves a base64 prop's decoded
// content: decoded from the version itself before the offloader has run,
// from the content bucket after; by version; with clear 400s and 404s.
func TestContentRoute(t *testing.T) {
	s := startContentStack(t, true)
	base := s.URL() + docsPath
	b64 := base64.StdEncoding.EncodeToString
	mustStatus(t, call(t, "POST", base+"/items?id=d1", `{"title":"one","file":"`+b64(pdfV0)+`","note":"`+b64(latin1)+`"}`), 201)
	runWorker(t, "projector", projection.NewProjector(s.Log, s.Store, projection.ProjectorOptions{}).Run)
	eventually(t, "the projection of d1", func() bool { return call(t, "GET", base+"/items/d1", "").Status == 200 })

	// No offloader yet: the content comes from the version's payload.
	content, err := s.Deps.ContentBlobs()(docsColl)
	if err != nil {
		t.Fatal(err)
	}
	fileKey := offload.ContentKey("docs", "d1", 0, "file", false)
	if _, err := content.Stat(context.Background(), fileKey); !errors.Is(err, offload.ErrNotFound) {
		t.Fatalf("content stored before any offloader ran: %v", err)
	}
	r := mustStatus(t, call(t, "GET", base+"/items/d1/content/file", ""), 200)
	if string(r.Body) != string(pdfV0) || r.Header.Get("Content-Type") != "application/pdf" || r.Header.Get("ETag") != `"0"` ||
		r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Content-Length") != fmt.Sprint(len(pdfV0)) {
		t.Fatalf("file before offload: %q %v", r.Body, r.Header)
	}
	r = mustStatus(t, call(t, "GET", base+"/items/d1/content/note", ""), 200)
	if string(r.Body) != utf8Note || r.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("note before offload: %q %v", r.Body, r.Header)
	}
	// presign=true of content not stored yet answers the bytes.
	r = mustStatus(t, call(t, "GET", base+"/items/d1/content/file?presign=true", ""), 200)
	if string(r.Body) != string(pdfV0) || r.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("presigned read before offload: %q %v", r.Body, r.Header)
	}

	// v1 drops the note.
	mustStatus(t, call(t, "PUT", base+"/items/d1", `{"title":"one","file":"`+b64(pdfV1)+`"}`, "If-Match", `"0"`), 200)
	eventually(t, "the projection of d1 v1", func() bool {
		r := call(t, "GET", base+"/items/d1/content/file", "")
		return r.Status == 200 && string(r.Body) == string(pdfV1)
	})
	r = mustStatus(t, call(t, "GET", base+"/items/d1/content/file?ov=0", ""), 200)
	if string(r.Body) != string(pdfV0) {
		t.Fatalf("file of v0: %q", r.Body)
	}

	// The 400s and 404s.
	for _, tt := range []struct {
		path      string
		status    int
		code, msg string
	}{
		{"/items/d1/content/note", 404, "not_found", `d1 version 1 holds no content under "note"`},
		{"/items/d1/content/title", 400, "invalid_input", `"title" is not a base64 property of collection "docs"`},
		{"/items/d1/content/nope", 400, "invalid_input", `"nope" is not a base64 property`},
		{"/items/missing/content/file", 404, "not_found", "missing"},
		{"/items/d1/content/file?ov=9", 404, "not_found", "d1 version 9"},
		{"/items/d1/content/file?ov=x", 400, "invalid_input", "ov"},
		{"/items/d1/content/file?ttl=60s", 400, "invalid_input", "ttl"},
	} {
		r := call(t, "GET", base+tt.path, "")
		if r.Status != tt.status {
			t.Errorf("GET %s: status %d, want %d: %s", tt.path, r.Status, tt.status, r.Body)
			continue
		}
		e, _ := r.json(t)["error"].(map[string]any)
		if e["code"] != tt.code || !strings.Contains(fmt.Sprint(e["message"]), tt.msg) {
			t.Errorf("GET %s: body %s, want code %s and a message containing %q", tt.path, r.Body, tt.code, tt.msg)
		}
	}

	// The offloader stores the content; reads now come from the content
	// bucket, which a presigned URL shows.
	o, err := offload.NewOffloader(s.Log, s.Blobs, offload.OffloaderOptions{
		Content: s.Deps.ContentBlobs(), Base64Props: s.Deps.Base64Props(),
	})
	if err != nil {
		t.Fatal(err)
	}
	runWorker(t, "offloader", o.Run)
	eventually(t, "the content offloaded", func() bool {
		for _, k := range []string{fileKey, offload.ContentKey("docs", "d1", 0, "note", true), offload.ContentKey("docs", "d1", 1, "file", false)} {
			if _, err := content.Stat(context.Background(), k); err != nil {
				return false
			}
		}
		return true
	})
	r = mustStatus(t, call(t, "GET", base+"/items/d1/content/file?ov=0&presign=true&ttl=60s", ""), 200)
	var cu query.ContentURL
	if err := json.Unmarshal(r.Body, &cu); err != nil || cu.URL == "" {
		t.Fatalf("presigned read after offload: %s (%v)", r.Body, err)
	}
	if cu.ContentType != "application/pdf" || cu.Size != int64(len(pdfV0)) || cu.ExpiresAt.Before(time.Now().Add(50*time.Second)) {
		t.Fatalf("content url %+v", cu)
	}
	if r := mustStatus(t, call(t, "GET", cu.URL, ""), 200); string(r.Body) != string(pdfV0) {
		t.Fatalf("fetched %q from the presigned URL", r.Body)
	}
	r = mustStatus(t, call(t, "GET", base+"/items/d1/content/note?ov=0", ""), 200)
	if string(r.Body) != utf8Note || r.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("note after offload: %q %v", r.Body, r.Header)
	}

	// A deleted item has no latest content; its versions keep theirs.
	mustStatus(t, call(t, "DELETE", base+"/items/d1", ""), 200)
	eventually(t, "the projection of the delete", func() bool {
		return call(t, "GET", base+"/items/d1/content/file", "").Status == 404
	})
	if r := mustStatus(t, call(t, "GET", base+"/items/d1/content/file", ""), 404); !strings.Contains(string(r.Body), "deleted") {
		t.Fatalf("deleted item: %s", r.Body)
	}
	if r := mustStatus(t, call(t, "GET", base+"/items/d1/content/file?ov=1", ""), 200); string(r.Body) != string(pdfV1) {
		t.Fatalf("file of v1 after the delete: %q", r.Body)
	}
}

// chronos dev offloads content into the content bucket and reports the
// offloader's metrics on /metrics, its lag back at 0 once caught up.
func TestDevOffloadsContentWithMetrics(t *testing.T) {
	s := startContentStack(t, false)
	base := s.URL() + docsPath
	b64 := base64.StdEncoding.EncodeToString
	mustStatus(t, call(t, "POST", base+"/items?id=d1", `{"file":"`+b64(pdfV0)+`","note":"`+b64(latin1)+`"}`), 201)
	content, err := s.Deps.ContentBlobs()(docsColl)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the content offloaded", func() bool {
		_, err := content.Stat(context.Background(), offload.ContentKey("docs", "d1", 0, "note", true))
		return err == nil
	})
	lag := fmt.Sprintf(`chronos_offloader_lag_events{partition="%d"} 0`, s.Log.Partition(docsColl))
	eventually(t, "the offloader's metrics", func() bool {
		m := string(mustStatus(t, call(t, "GET", s.URL()+"/metrics", ""), 200).Body)
		return strings.Contains(m, `chronos_offloader_objects_total{kind="content"} 2`) &&
			strings.Contains(m, `chronos_offloader_objects_total{kind="version"} 1`) &&
			strings.Contains(m, "chronos_offloader_bytes_out_total") && strings.Contains(m, lag)
	})
	r := mustStatus(t, call(t, "GET", base+"/items/d1/content/note", ""), 200)
	if string(r.Body) != utf8Note {
		t.Fatalf("note: %q", r.Body)
	}
}
