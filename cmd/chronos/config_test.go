package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/tenancy"
)

func TestConfigCommands(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "chronos.config.json")
	cfg := `{
  "dbConnections": {"main": {"mongoUri": "mongodb://app:hunter2-secret@db.example:27017/?replicaSet=rs0"}},
  "spacesConnections": {"s3": {"endpoint": "https://s3.example", "region": "eu-west-1", "accessKey": "AKIAEXAMPLEKEY", "secretKey": "very-secret-value"}},
  "databases": {"runtime": {"tenantDatabases": [{"tenantId": "acme", "dbConnRef": "main", "spaceConnRef": "s3", "bucket": "acme-runtime", "dbName": "acme", "analyticsDbName": "acme_analytics"}]}}
}`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := runConfig([]string{"show", "--config", path}, nil, &out, &errOut); code != 0 {
		t.Fatalf("show: exit %d: %s", code, errOut.String())
	}
	for _, secret := range []string{"hunter2-secret", "very-secret-value", "AKIAEXAMPLEKEY"} {
		if strings.Contains(out.String(), secret) {
			t.Fatalf("config show printed the secret %q:\n%s", secret, out.String())
		}
	}
	if !strings.Contains(out.String(), "acme-runtime") {
		t.Fatalf("config show lacks the bucket:\n%s", out.String())
	}
	out.Reset()
	if code := runConfig([]string{"check", "--config", path}, nil, &out, &errOut); code != 0 || !strings.Contains(out.String(), "valid") {
		t.Fatalf("check: %d %s %s", code, out.String(), errOut.String())
	}
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"dbConnections": {"main": {"mongoUri": "mongodb://x"}}, "databses": {}}`), 0o600)
	errOut.Reset()
	if code := runConfig([]string{"check", "--config", bad}, nil, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "databses") {
		t.Fatalf("check of a bad file: %d %s", code, errOut.String())
	}
	out.Reset()
	if code := runConfig([]string{"hash-key"}, strings.NewReader("my-key\n"), &out, &errOut); code != 0 || strings.TrimSpace(out.String()) != tenancy.HashKey("my-key") {
		t.Fatalf("hash-key: %d %q", code, out.String())
	}
	out.Reset()
	if code := runConfig([]string{"new-key"}, nil, &out, &errOut); code != 0 || !strings.Contains(out.String(), "sha256: ") {
		t.Fatalf("new-key: %d %q", code, out.String())
	}
	if code := runConfig([]string{"nope"}, nil, &out, &errOut); code != 2 {
		t.Fatalf("unknown subcommand: %d", code)
	}
}
