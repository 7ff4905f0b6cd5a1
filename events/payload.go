package events

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
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
// field names the payload in errors ("payload" or "patch[2]"). It allocates
// nothing on valid input of ordinary shape: paths are built only for errors.
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
	if !validJSON(p) {
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
	return w.object(1, true)
}

func sizeReason(n, max int) string {
	return "is " + strconv.Itoa(n) + " bytes; the limit is " + strconv.Itoa(max) + " bytes"
}

// segment is one step of a path: an object key or an array index.
type segment struct {
	key   string
	index int // -1 for keys
}

// walker scans JSON already known to be valid, checking keys. Knowing the
// input is valid keeps it small: no error paths for syntax.
type walker struct {
	p     []byte
	i     int
	field string
	path  []segment
	keys  []string // keys of the objects being walked, a window per object
}

// at returns the path of the current position, with extra appended.
func (w *walker) at(extra ...segment) string {
	var b strings.Builder
	b.WriteString(w.field)
	for _, s := range append(w.path[:len(w.path):len(w.path)], extra...) {
		if s.index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
			continue
		}
		b.WriteByte('.')
		b.WriteString(s.key)
	}
	return b.String()
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

func (w *walker) value(depth int) error {
	w.skipSpace()
	switch w.p[w.i] {
	case '{':
		return w.object(depth+1, false)
	case '[':
		if depth+1 > MaxDepth {
			return invalid(w.at(), "nests deeper than %d levels", MaxDepth)
		}
		w.i++
		w.skipSpace()
		if w.p[w.i] == ']' {
			w.i++
			return nil
		}
		for n := 0; ; n++ {
			w.path = append(w.path, segment{index: n})
			err := w.value(depth + 1)
			w.path = w.path[:len(w.path)-1]
			if err != nil {
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

// smallObject is the key count up to which duplicates are found by a
// linear scan; larger objects use a map.
const smallObject = 32

func (w *walker) object(depth int, root bool) error {
	if depth > MaxDepth {
		return invalid(w.at(), "nests deeper than %d levels", MaxDepth)
	}
	w.i++ // '{'
	w.skipSpace()
	if w.p[w.i] == '}' {
		w.i++
		return nil
	}
	base := len(w.keys)
	defer func() { w.keys = w.keys[:base] }()
	var seen map[string]struct{}
	for {
		w.skipSpace()
		key := w.key()
		switch {
		case root && (key == KeyID || key == KeySystem):
			return invalid(w.at(segment{key: key, index: -1}), "%q is a reserved root key: Chronos sets it", key)
		case len(key) > 0 && key[0] == '$':
			return invalid(w.at(segment{key: key, index: -1}), "keys must not start with '$'")
		case strings.IndexByte(key, 0) >= 0:
			return invalid(w.at(), "a key contains a NUL character")
		}
		if seen == nil && len(w.keys)-base < smallObject {
			for _, k := range w.keys[base:] {
				if k == key {
					return invalid(w.at(segment{key: key, index: -1}), "the key appears twice in one object")
				}
			}
			w.keys = append(w.keys, key)
		} else {
			if seen == nil {
				seen = make(map[string]struct{}, 2*smallObject)
				for _, k := range w.keys[base:] {
					seen[k] = struct{}{}
				}
			}
			if _, dup := seen[key]; dup {
				return invalid(w.at(segment{key: key, index: -1}), "the key appears twice in one object")
			}
			seen[key] = struct{}{}
		}
		w.skipSpace()
		w.i++ // ':'
		w.path = append(w.path, segment{key: key, index: -1})
		err := w.value(depth)
		w.path = w.path[:len(w.path)-1]
		if err != nil {
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

// key reads an object key, unescaping it only when it has escapes. The
// unescaped form does not copy: it aliases the input.
func (w *walker) key() string {
	start := w.i
	escaped := w.str()
	raw := w.p[start:w.i]
	if !escaped {
		return unsafeString(raw[1 : len(raw)-1])
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

func containsNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

// unsafeString views b as a string without copying. Keys viewed this way
// never outlive ValidatePayload except in error messages, which copy them.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
