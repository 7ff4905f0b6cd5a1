package tenancy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// EnvConfig is the environment variable naming the configuration file when
// no --config flag is given.
const EnvConfig = "CHRONOS_CONFIG"

// DiscoveredNames are the file names Discover looks for in the working
// directory, in this order.
var DiscoveredNames = []string{"chronos.config.json", ".chronos.json"}

// maxFileSize bounds a configuration file.
const maxFileSize = 16 << 20

// Discover returns the configuration file to load: flagPath (--config) if
// set, else the file named by CHRONOS_CONFIG, else chronos.config.json or
// .chronos.json in wd, else "" (the caller then uses DevDefault or refuses
// to start). Relative paths are taken relative to wd. A file named by the
// flag or the variable must exist; finding both discovered names in wd is
// an error, since silently preferring one would hide the other.
func Discover(flagPath string, getenv func(string) string, wd string) (string, error) {
	explicit := func(p, from string) (string, error) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(wd, p)
		}
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("chronos: config file from %s: %w", from, err)
		}
		return p, nil
	}
	if flagPath != "" {
		return explicit(flagPath, "--config")
	}
	if getenv != nil {
		if p := getenv(EnvConfig); p != "" {
			return explicit(p, EnvConfig)
		}
	}
	var found []string
	for _, name := range DiscoveredNames {
		p := filepath.Join(wd, name)
		_, err := os.Stat(p)
		switch {
		case err == nil:
			found = append(found, p)
		case !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("chronos: look for a config file: %w", err)
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	default:
		return "", fmt.Errorf("chronos: both %s and %s exist in %s; keep one", DiscoveredNames[0], DiscoveredNames[1], wd)
	}
}

// Load reads, decodes and validates the configuration file at path, taking
// ENV tokens from the process environment. See Parse.
func Load(path string) (*Config, error) {
	return LoadEnv(path, os.Getenv)
}

// LoadEnv is Load with the environment read through getenv.
func LoadEnv(path string, getenv func(string) string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("chronos: read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("chronos: read config %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, &ConfigError{File: path, Problems: []Problem{{Msg: fmt.Sprintf("larger than %d bytes", maxFileSize)}}}
	}
	cfg, err := Parse(data, getenv)
	var ce *ConfigError
	if errors.As(err, &ce) {
		ce.File = path
	}
	return cfg, err
}

// Parse decodes and validates a configuration (the JSON text of a file).
//
//   - Decoding is strict: an unknown key, a duplicate key or a value of the
//     wrong type is an error naming its JSON path. Keys match exactly.
//   - The file may hold the configuration itself, or wrap it in one
//     top-level "chronos" or "xronox" key (the seed's xronox.config.json).
//   - Every ENV.NAME token in a string value is replaced by the value of
//     environment variable NAME (read through getenv); an unset or empty
//     variable is an error naming the variable and the field's path. A
//     string that is one token from end to end may also fill a number or
//     boolean field.
//   - Defaults are then filled in and Validate runs.
//
// The returned error is a *ConfigError listing every problem found (decoding
// problems first; validation runs only on a file that decodes). Messages
// never contain the value of a secret field, and the value of a substituted
// environment variable (of 6 bytes or more) shows as its ENV.NAME token.
func Parse(data []byte, getenv func(string) string) (*Config, error) {
	tree, prob := parseTree(data)
	if prob != nil {
		return nil, &ConfigError{Problems: []Problem{*prob}}
	}
	root, ok := tree.(*object)
	if !ok {
		return nil, &ConfigError{Problems: []Problem{{Msg: "the file must hold a JSON object, not " + kindName(tree)}}}
	}
	prefix := ""
	if len(root.keys) == 1 && (root.keys[0] == "chronos" || root.keys[0] == "xronox") {
		if inner, ok := root.vals[root.keys[0]].(*object); ok {
			prefix, root = root.keys[0], inner
		}
	}
	var ps problems
	used := map[string]string{} // value → name of every variable substituted
	lookup := func(name string) string {
		if getenv == nil {
			return ""
		}
		v := getenv(name)
		if v != "" {
			used[v] = name
		}
		return v
	}
	substitute(prefix, root, lookup, &ps)
	cfg := &Config{}
	d := &decoder{ps: &ps}
	d.decode(prefix, root, reflect.ValueOf(cfg).Elem())
	if err := ps.err(); err != nil {
		return nil, hideEnv(err, used)
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, hideEnv(err, used)
	}
	return cfg, nil
}

// hideEnv replaces, in every problem, the value of each substituted
// environment variable (of 6 bytes or more: shorter ones are not secrets,
// and replacing them would shred messages) by its token ENV.NAME.
func hideEnv(err error, used map[string]string) error {
	ce, ok := err.(*ConfigError)
	if !ok {
		return err
	}
	values := make([]string, 0, len(used))
	for v := range used {
		if len(v) >= 6 {
			values = append(values, v)
		}
	}
	// Longest first, so that a value containing another is replaced whole.
	slices.SortFunc(values, func(a, b string) int { return len(b) - len(a) })
	for i := range ce.Problems {
		for _, v := range values {
			ce.Problems[i].Msg = strings.ReplaceAll(ce.Problems[i].Msg, v, "ENV."+used[v])
		}
	}
	return ce
}

// envToken matches ENV.NAME; a match preceded by a letter, digit or '_' is
// not a token (MYENV.X).
var envToken = regexp.MustCompile(`ENV\.([A-Za-z_][A-Za-z0-9_]*)`)

// substitute replaces ENV tokens in every string value of the tree (not in
// keys), in place.
func substitute(path string, n any, getenv func(string) string, ps *problems) any {
	switch t := n.(type) {
	case *object:
		for _, k := range t.keys {
			t.vals[k] = substitute(join(path, k), t.vals[k], getenv, ps)
		}
	case []any:
		for i := range t {
			t[i] = substitute(index(path, i), t[i], getenv, ps)
		}
	case string:
		return expandEnv(path, t, getenv, ps)
	}
	return n
}

func expandEnv(path, s string, getenv func(string) string, ps *problems) any {
	if !strings.Contains(s, "ENV.") {
		return s
	}
	var b strings.Builder
	last, replaced, whole := 0, 0, false
	for _, m := range envToken.FindAllStringSubmatchIndex(s, -1) {
		if m[0] > 0 && isWordByte(s[m[0]-1]) {
			continue
		}
		name := s[m[2]:m[3]]
		val := getenv(name)
		if val == "" {
			ps.add(path, "environment variable "+name+" is not set")
			continue
		}
		b.WriteString(s[last:m[0]])
		b.WriteString(val)
		last = m[1]
		replaced++
		whole = m[0] == 0 && m[1] == len(s)
	}
	if replaced == 0 {
		return s
	}
	b.WriteString(s[last:])
	if whole {
		return envValue(b.String())
	}
	return b.String()
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}
