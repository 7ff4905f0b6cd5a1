package events

import (
	"encoding/json"
	"unicode/utf8"
)

// DefaultMaxPayload is the payload size limit unless configured otherwise.
const DefaultMaxPayload = 16 << 20

// MaxDepth is the deepest nesting of objects and arrays a payload may have
// (MongoDB's own limit is 100 levels of documents).
const MaxDepth = 100

// Reserved root keys of a payload: Chronos owns them in every document it returns.
const (
	KeyID     = "_id"
	KeySystem = "_system"
)

// ValidatePayload checks that p is a JSON object a projection can store as a
// document: at most max bytes (max <= 0 means DefaultMaxPayload), valid UTF-8
// JSON, no root key "_id" or "_system", no key anywhere that starts with "$"
// or contains NUL, no duplicate key in one object, at most MaxDepth levels.
// field names the payload in errors ("payload" or "patch[2]").
func ValidatePayload(field string, p []byte, max int) error {
	if max <= 0 {
		max = DefaultMaxPayload
	}
	if len(p) > max {
		return &ValidationError{Field: field, Reason: sizeReason(len(p), max), Err: ErrTooLarge}
	}
	if !utf8.Valid(p) {
		return invalid(field, "is not valid UTF-8")
	}
	if !json.Valid(p) {
		// Let the standard decoder say where and why.
		var v any
		err := json.Unmarshal(p, &v)
		if err == nil {
			return invalid(field, "is not valid JSON")
		}
		return invalid(field, "is not valid JSON: %v", err)
	}
	w := walker{p: p, field: field}
	w.skipSpace()
	if w.i >= len(w.p) || w.p[w.i] != '{' {
		return invalid(field, "must be a JSON object")
	}
	return w.object(field, 1, true)
}

func sizeReason(n, max int) string {
	return "is " + itoa(n) + " bytes; the limit is " + itoa(max) + " bytes"
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// walker scans JSON already known to be valid, checking keys. Knowing the
// input is valid keeps it small: no error paths for syntax.
type walker struct {
	p     []byte
	i     int
	field string
}

func (w *walker) skipSpace() {
	for w.i < len(w.p) {
		switch w.p[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

func (w *walker) value(path string, depth int) error {
	w.skipSpace()
	switch w.p[w.i] {
	case '{':
		return w.object(path, depth+1, false)
	case '[':
		if depth+1 > MaxDepth {
			return invalid(path, "nests deeper than %d levels", MaxDepth)
		}
		w.i++
		w.skipSpace()
		if w.p[w.i] == ']' {
			w.i++
			return nil
		}
		for n := 0; ; n++ {
			if err := w.value(path+"["+itoa(n)+"]", depth+1); err != nil {
				return err
			}
			w.skipSpace()
			c := w.p[w.i]
			w.i++
			if c == ']' {
				return nil
			}
		}
	case '"':
		w.str()
		return nil
	default:
		for w.i < len(w.p) {
			switch w.p[w.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return nil
			}
			w.i++
		}
		return nil
	}
}

func (w *walker) object(path string, depth int, root bool) error {
	if depth > MaxDepth {
		return invalid(path, "nests deeper than %d levels", MaxDepth)
	}
	w.i++ // '{'
	w.skipSpace()
	if w.p[w.i] == '}' {
		w.i++
		return nil
	}
	var seen map[string]struct{}
	for {
		w.skipSpace()
		key := w.key()
		kpath := path + "." + key
		switch {
		case root && (key == KeyID || key == KeySystem):
			return invalid(kpath, "%q is a reserved root key: Chronos sets it", key)
		case len(key) > 0 && key[0] == '$':
			return invalid(kpath, "keys must not start with '$'")
		case containsNUL(key):
			return invalid(path, "a key contains a NUL character")
		}
		if seen == nil {
			seen = make(map[string]struct{}, 8)
		}
		if _, dup := seen[key]; dup {
			return invalid(kpath, "the key appears twice in one object")
		}
		seen[key] = struct{}{}
		w.skipSpace()
		w.i++ // ':'
		if err := w.value(kpath, depth); err != nil {
			return err
		}
		w.skipSpace()
		c := w.p[w.i]
		w.i++
		if c == '}' {
			return nil
		}
	}
}

// key reads an object key, unescaping it only when it has escapes.
func (w *walker) key() string {
	start := w.i
	escaped := w.str()
	raw := w.p[start:w.i]
	if !escaped {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	_ = json.Unmarshal(raw, &s) // valid by construction
	return s
}

// str skips a string starting at '"' and reports whether it had escapes.
func (w *walker) str() (escaped bool) {
	w.i++
	for {
		switch w.p[w.i] {
		case '\\':
			escaped = true
			w.i += 2
		case '"':
			w.i++
			return escaped
		default:
			w.i++
		}
	}
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}
