package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/internal/bench"
)

func TestBenchCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	code := runBench([]string{"mixed", "--via", "http", "--events", "200", "--items", "20", "--concurrency", "4", "--quiet", "--partitions", "2", "--json", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	if !strings.Contains(stdout.String(), "read latency p50") {
		t.Errorf("no table on stdout:\n%s", &stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r bench.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Scenario != "mixed" || r.Via != "http" || r.Attempted+r.Reads != 200 || r.Errors != 0 {
		t.Errorf("report: scenario %s via %s, attempted %d, reads %d, errors %d", r.Scenario, r.Via, r.Attempted, r.Reads, r.Errors)
	}
}

func TestBenchCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--scenario", "nope"},
		{"--via", "grpc"},
		{"iot", "--scenario", "trading"},
		{"--subjects", "ten"},
		{"iot", "extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := runBench(args, &stdout, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %s)", args, code, &stderr)
		}
	}
}
