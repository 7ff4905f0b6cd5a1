package tenancy

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"testing"
)

const docsPath = "../docs/configuration.md"

// docAliases restart a key path where one type appears at several places:
// docs/configuration.md describes it once under that name.
var docAliases = map[reflect.Type]string{
	reflect.TypeFor[TieredDatabases](): "databases.<dbType>",
	reflect.TypeFor[Placement]():       "<entry>",
}

// mapKeyNames name the keys of maps in documented paths.
var mapKeyNames = map[string]string{
	"dbConnections":     "<ref>",
	"spacesConnections": "<ref>",
	"collectionMaps":    "<collection>",
	"base64Props":       "<prop>",
	"projection":        "<name>",
}

// docKeys lists every key path of Config as docs/configuration.md writes it.
func docKeys() []string {
	var out []string
	var walk func(path, key string, t reflect.Type)
	walk = func(path, key string, t reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if alias, ok := docAliases[t]; ok {
			path = alias
		}
		switch t.Kind() {
		case reflect.Struct:
			if t == reflect.TypeFor[FieldSet]() {
				return
			}
			fields := fieldsOf(t)
			for name, idx := range fields {
				f := t.FieldByIndex(idx)
				p := name
				if path != "" {
					p = path + "." + name
				}
				// Fields promoted from an embedded Placement are documented
				// under <entry>.
				if len(idx) > 1 && t.Field(idx[0]).Type == reflect.TypeFor[Placement]() {
					p = "<entry>." + name
				}
				out = append(out, p)
				walk(p, name, f.Type)
			}
		case reflect.Map:
			if name, ok := mapKeyNames[key]; ok {
				walk(path+"."+name, "", t.Elem())
			}
		case reflect.Slice:
			if t.Elem().Kind() == reflect.Struct {
				walk(path+"[]", "", t.Elem())
			}
		}
	}
	walk("", "", reflect.TypeFor[Config]())
	slices.Sort(out)
	return slices.Compact(out)
}

func TestDocsListEveryKey(t *testing.T) {
	doc, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range docKeys() {
		if !bytes.Contains(doc, []byte("`"+k+"`")) {
			t.Errorf("docs/configuration.md does not document `%s`", k)
		}
	}
}

var exampleBlock = regexp.MustCompile("(?s)<!-- example: ([a-z-]+) -->\\s*```json\\n(.*?)```")

// TestDocsExamples loads and validates every example of
// docs/configuration.md and checks that it is the file of testdata/, so
// that neither drifts.
func TestDocsExamples(t *testing.T) {
	doc, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, m := range exampleBlock.FindAllSubmatch(doc, -1) {
		name, body := string(m[1]), m[2]
		found[name] = true
		if _, err := Parse(body, testEnv(exampleEnv)); err != nil {
			t.Errorf("docs example %s: %v", name, err)
		}
		file, err := os.ReadFile("testdata/" + name + ".json")
		if err != nil {
			t.Errorf("docs example %s has no testdata file: %v", name, err)
			continue
		}
		var a, b any
		if json.Unmarshal(body, &a) != nil || json.Unmarshal(file, &b) != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("docs example %s differs from testdata/%s.json", name, name)
		}
	}
	for _, name := range examples {
		if !found[name] {
			t.Errorf("docs/configuration.md lacks the example %s", name)
		}
	}
}
