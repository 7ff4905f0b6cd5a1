package mongostore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
)

// errNotDocument is returned by jsonToBSON for JSON that a document field
// cannot hold; the caller keeps such data out of the document.
var errNotDocument = errors.New("chronos: JSON value cannot be stored as BSON")

// jsonToBSON converts one JSON value into the value written to MongoDB,
// keeping the key order of objects (bson.D). Numbers follow the rule of
// the package doc: an integer literal (no fraction, no exponent) that fits
// in 32 bits becomes int32, in 64 bits int64; any other number becomes a
// double. A number beyond the range of a double is an error.
func jsonToBSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readJSON(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the value", errNotDocument)
	}
	return v, nil
}

func readJSON(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotDocument, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			d := bson.D{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("%w: %v", errNotDocument, err)
				}
				v, err := readJSON(dec)
				if err != nil {
					return nil, err
				}
				d = append(d, bson.E{Key: k.(string), Value: v})
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, fmt.Errorf("%w: %v", errNotDocument, err)
			}
			return d, nil
		}
		a := bson.A{}
		for dec.More() {
			v, err := readJSON(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		if _, err := dec.Token(); err != nil { // ']'
			return nil, fmt.Errorf("%w: %v", errNotDocument, err)
		}
		return a, nil
	case json.Number:
		return jsonNumber(t)
	default: // string, bool, nil
		return t, nil
	}
}

func jsonNumber(n json.Number) (any, error) {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			if i >= math.MinInt32 && i <= math.MaxInt32 {
				return int32(i), nil
			}
			return i, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: number %s is out of the range of a double", errNotDocument, truncate(s))
	}
	return f, nil
}

// storable reports whether v (from jsonToBSON) can be a field value on
// every server: no key anywhere contains '.' or starts with '$' (FerretDB
// refuses both; MongoDB cannot query them).
func storable(v any) bool {
	switch t := v.(type) {
	case bson.D:
		for _, e := range t {
			if !fieldName(e.Key) || !storable(e.Value) {
				return false
			}
		}
	case bson.A:
		for _, e := range t {
			if !storable(e) {
				return false
			}
		}
	}
	return true
}

// fieldName reports whether k can name a document field that queries can
// address.
func fieldName(k string) bool {
	return k != "" && k[0] != '$' && !strings.Contains(k, ".")
}

// appendJSON appends v as compact JSON. BSON types JSON has no syntax for
// (never written by this package) come out as relaxed Extended JSON.
func appendJSON(b []byte, v bson.RawValue) ([]byte, error) {
	switch v.Type {
	case bsontype.EmbeddedDocument:
		return appendObject(b, v.Document(), nil)
	case bsontype.Array:
		vals, err := v.Array().Values()
		if err != nil {
			return nil, err
		}
		b = append(b, '[')
		for i, e := range vals {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case bsontype.String:
		return appendString(b, v.StringValue()), nil
	case bsontype.Int32:
		return strconv.AppendInt(b, int64(v.Int32()), 10), nil
	case bsontype.Int64:
		return strconv.AppendInt(b, v.Int64(), 10), nil
	case bsontype.Double:
		return appendFloat(b, v.Double())
	case bsontype.Boolean:
		return strconv.AppendBool(b, v.Boolean()), nil
	case bsontype.Null:
		return append(b, "null"...), nil
	default:
		ext, err := bson.MarshalExtJSON(bson.D{{Key: "v", Value: v}}, false, false)
		if err != nil {
			return nil, err
		}
		// ext is {"v":<value>}
		return append(b, ext[len(`{"v":`):len(ext)-1]...), nil
	}
}

// appendObject appends the elements of doc as a JSON object, leaving out
// the keys for which skip returns true.
func appendObject(b []byte, doc bson.Raw, skip func(string) bool) ([]byte, error) {
	elems, err := doc.Elements()
	if err != nil {
		return nil, err
	}
	b = append(b, '{')
	first := true
	for _, e := range elems {
		k := e.Key()
		if skip != nil && skip(k) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ':')
		if b, err = appendJSON(b, e.Value()); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendFloat formats f as encoding/json does.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("chronos: %v has no JSON form", f)
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendString appends s as a JSON string, escaping only what JSON
// requires (and U+2028, U+2029); invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
