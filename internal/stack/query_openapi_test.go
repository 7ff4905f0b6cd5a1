package stack_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/internal/stack"
)

// openAPIOperations returns "METHOD /path" of every operation in
// docs/openapi.yaml, which must parse as YAML and declare OpenAPI 3.1, and
// checks that every $ref it holds points at a component it defines.
func openAPIOperations(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI    string                          `yaml:"openapi"`
		Paths      map[string]map[string]yaml.Node `yaml:"paths"`
		Components map[string]map[string]yaml.Node `yaml:"components"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml is not valid YAML: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("docs/openapi.yaml declares openapi %q, want 3.1.x", doc.OpenAPI)
	}
	var out []string
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options":
				out = append(out, strings.ToUpper(method)+" "+path)
			}
		}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	var refs func(n *yaml.Node)
	refs = func(n *yaml.Node) {
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 && c.Value == "$ref" && i+1 < len(n.Content) {
				ref := n.Content[i+1].Value
				parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
				if len(parts) != 2 || !strings.HasPrefix(ref, "#/components/") {
					t.Errorf("docs/openapi.yaml: $ref %q is not #/components/<kind>/<name>", ref)
				} else if _, ok := doc.Components[parts[0]][parts[1]]; !ok {
					t.Errorf("docs/openapi.yaml: $ref %q names no component", ref)
				}
			}
			refs(c)
		}
	}
	refs(&root)
	slices.Sort(out)
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
	served = append(served, sourceRoutes(t, "../svc/presign.go", nil)...)
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
