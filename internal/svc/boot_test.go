package svc

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/tenancy"
)

func TestProtectRefusesToStartWithoutAuth(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	cfg := tenancy.DevDefault(t.TempDir())
	if _, err := Protect(ok, cfg, false, slog.Default()); err == nil || !strings.Contains(err.Error(), "--insecure-no-auth") {
		t.Fatalf("no auth, not insecure: %v", err)
	}
	h, err := Protect(ok, cfg, true, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/runtime/tenant/acme/orders/items/x", nil))
	if rec.Code != 204 {
		t.Fatalf("insecure mode refused a request: %d", rec.Code)
	}
	// With keys: a request without one is a 401; /healthz stays public.
	cfg.Auth = &tenancy.Auth{Keys: []tenancy.APIKey{{Name: "k", SHA256: tenancy.Secret(tenancy.HashKey("secret-key-123")), Tenants: []string{"acme"}, Rights: []tenancy.Right{tenancy.RightRead}}}}
	h, err = Protect(ok, cfg, false, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/v1/runtime/tenant/acme/orders/items/x": 401, "/healthz": 204} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", path, rec.Code, want)
		}
	}
}

func TestLoadConfigNeedsAFile(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHRONOS_CONFIG", "")
	if _, _, err := LoadConfig(""); err == nil || !strings.Contains(err.Error(), "no configuration") {
		t.Fatalf("LoadConfig without a file: %v", err)
	}
	if _, _, err := LoadConfig(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("LoadConfig of a missing file succeeded")
	}
}
