package fallbackq_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/fallbackq"
)

func TestHTTPHandler(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := &fallbackq.Handler{DLQ: e.dlq, Policy: mustPolicy(t, fallbackq.Config{MaxRetries: -1}), Consumer: "tester"}
	e.consume(t, h, func(context.Context, jetstream.Msg) error { return errors.New("nope") })
	e.appendItem(t, "a")
	eventually(t, "the DLQ entry", func() bool { return e.streamMsgs(t, fallbackq.DLQStream) == 1 })

	mux := http.NewServeMux()
	fallbackq.NewHTTPHandler(e.dlq, nil).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	call := func(method, path string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return resp.StatusCode, body
	}
	code := func(body map[string]any) any { return body["error"].(map[string]any)["code"] }

	if status, body := call("GET", "/v1/admin/dlq?consumer=tester&tenant=acme"); status != 200 || body["count"] != 1.0 {
		t.Fatalf("list: %d %v", status, body)
	}
	if status, body := call("GET", "/v1/admin/dlq?consumer=other"); status != 200 || body["count"] != 0.0 {
		t.Fatalf("list other: %d %v", status, body)
	}
	status, body := call("GET", "/v1/admin/dlq/1")
	if status != 200 || body["consumer"] != "tester" || body["error"] != "nope" || body["event"].(map[string]any)["op"] != "create" {
		t.Fatalf("get: %d %v", status, body)
	}
	if status, body := call("GET", "/v1/admin/dlq/abc"); status != 400 || code(body) != "invalid_input" {
		t.Fatalf("get abc: %d %v", status, body)
	}
	if status, body := call("GET", "/v1/admin/dlq/99"); status != 404 || code(body) != "not_found" {
		t.Fatalf("get 99: %d %v", status, body)
	}
	if status, body := call("POST", "/v1/admin/dlq/1/replay"); status != 409 || code(body) != "no_replay_consumer" {
		t.Fatalf("replay without consumer: %d %v", status, body)
	}
	if status, body := call("POST", "/v1/admin/dlq/replay?consumer=tester"); status != 409 {
		t.Fatalf("replay all without consumer: %d %v", status, body)
	}
	if status, body := call("DELETE", "/v1/admin/dlq?olderThan=soon"); status != 400 {
		t.Fatalf("purge soon: %d %v", status, body)
	}
	if status, body := call("DELETE", "/v1/admin/dlq?olderThan=1h"); status != 200 || body["purged"] != 0.0 {
		t.Fatalf("purge 1h: %d %v", status, body)
	}
	if status, body := call("DELETE", "/v1/admin/dlq"); status != 200 || body["purged"] != 1.0 {
		t.Fatalf("purge: %d %v", status, body)
	}
	if err := e.js.DeleteStream(testCtx(t), fallbackq.DLQStream); err != nil {
		t.Fatal(err)
	}
	if status, body := call("GET", "/v1/admin/dlq"); status != 503 || code(body) != "dlq_not_ready" {
		t.Fatalf("list without stream: %d %v", status, body)
	}
}
