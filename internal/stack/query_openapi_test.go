package stack_test

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/internal/stack"
)

// openAPIOperations returns "METHOD /path" of every operation in
// docs/openapi.yaml (read as text: the module has no YAML dependency, and
// the file keeps the usual layout, paths at two spaces, methods at four).
func openAPIOperations(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pathRe := regexp.MustCompile(`^  (/\S*):\s*$`)
	opRe := regexp.MustCompile(`^    (get|put|post|delete|patch|head|options):`)
	var out []string
	inPaths, path, version := false, "", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "openapi: ") {
			version = strings.TrimPrefix(line, "openapi: ")
		}
		if len(line) > 0 && line[0] != ' ' && line[0] != '#' {
			inPaths = line == "paths:"
			continue
		}
		if !inPaths {
			continue
		}
		if m := pathRe.FindStringSubmatch(line); m != nil {
			path = m[1]
		} else if m := opRe.FindStringSubmatch(line); m != nil && path != "" {
			out = append(out, strings.ToUpper(m[1])+" "+path)
		}
	}
	if !strings.HasPrefix(version, "3.1") {
		t.Fatalf("docs/openapi.yaml declares openapi %q, want 3.1.x", version)
	}
	return out
}

// sourceRoutes returns the patterns registered with mux.Handle/HandleFunc
// in a Go source file whose patterns are literals, optionally prefixed
// with the constant name → value in consts.
func sourceRoutes(t *testing.T, file string, consts map[string]string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`mux\.Handle(?:Func)?\("([A-Z]+ )(/[^"]*)?"(?:\s*\+\s*(\w+))?(?:\s*\+\s*"([^"]*)")?`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		p := m[2]
		if m[3] != "" {
			v, ok := consts[m[3]]
			if !ok {
				t.Fatalf("%s: route built from unknown constant %s", file, m[3])
			}
			p += v
		}
		out = append(out, m[1]+p+m[4])
	}
	if len(out) == 0 {
		t.Fatalf("no routes found in %s", file)
	}
	return out
}

// Every served route is documented in docs/openapi.yaml, and every
// documented operation is served.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	documented := openAPIOperations(t)
	served := (&stack.Stack{}).Routes()
	served = append(served, sourceRoutes(t, "../../fallbackq/http.go", map[string]string{"AdminPath": fallbackq.AdminPath})...)
	served = append(served, sourceRoutes(t, "stack.go", nil)...)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("route %q is missing from docs/openapi.yaml", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("docs/openapi.yaml documents %q, which no handler serves", d)
		}
	}
	if t.Failed() {
		t.Logf("served: %q", served)
	}
}
