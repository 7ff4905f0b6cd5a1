package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// DeepMerge merges patch into base, both JSON objects, with the seed's
// deepMergeWithArrayUnion rules:
//   - objects merge key by key, recursively; keys keep base's order, new
//     keys follow in the patch's order;
//   - arrays are unioned: base's elements, then the patch's elements not
//     already present (compared as JSON values, so {"a":1,"b":2} equals
//     {"b":2,"a":1}; numbers compare by their text);
//   - anything else (scalars, null, a type change) takes the patch's value.
//
// Numbers are kept as written: no float64 round trip.
func DeepMerge(base, patch []byte) ([]byte, error) {
	b, err := parseValue(base)
	if err != nil {
		return nil, fmt.Errorf("%w: merge base: %v", ErrInvalid, err)
	}
	p, err := parseValue(patch)
	if err != nil {
		return nil, fmt.Errorf("%w: merge patch: %v", ErrInvalid, err)
	}
	if b.kind != kindObject || p.kind != kindObject {
		return nil, fmt.Errorf("%w: merge needs two JSON objects", ErrInvalid)
	}
	var out bytes.Buffer
	merge(b, p).write(&out)
	return out.Bytes(), nil
}

type kind uint8

const (
	kindScalar kind = iota
	kindObject
	kindArray
)

// value is a JSON value that keeps object key order and number text.
type value struct {
	kind   kind
	raw    []byte // scalars: their JSON text
	keys   []string
	fields map[string]*value
	elems  []*value
}

func parseValue(b []byte) (*value, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (*value, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			v := &value{kind: kindObject, fields: map[string]*value{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				child, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				if _, dup := v.fields[k]; !dup {
					v.keys = append(v.keys, k)
				}
				v.fields[k] = child
			}
			_, err := dec.Token() // '}'
			return v, err
		case '[':
			v := &value{kind: kindArray}
			for dec.More() {
				child, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				v.elems = append(v.elems, child)
			}
			_, err := dec.Token() // ']'
			return v, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case string:
		raw, err := marshalNoEscape(t)
		if err != nil {
			return nil, err
		}
		return &value{kind: kindScalar, raw: raw}, nil
	default:
		raw, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		return &value{kind: kindScalar, raw: raw}, nil
	}
}

func merge(base, patch *value) *value {
	switch {
	case base.kind == kindObject && patch.kind == kindObject:
		out := &value{kind: kindObject, fields: make(map[string]*value, len(base.keys)+len(patch.keys))}
		out.keys = append(out.keys, base.keys...)
		for _, k := range base.keys {
			out.fields[k] = base.fields[k]
		}
		for _, k := range patch.keys {
			if bv, ok := out.fields[k]; ok {
				out.fields[k] = merge(bv, patch.fields[k])
				continue
			}
			out.keys = append(out.keys, k)
			out.fields[k] = patch.fields[k]
		}
		return out
	case base.kind == kindArray && patch.kind == kindArray:
		out := &value{kind: kindArray, elems: append([]*value(nil), base.elems...)}
		seen := make(map[string]struct{}, len(base.elems)+len(patch.elems))
		for _, e := range base.elems {
			seen[e.canonical()] = struct{}{}
		}
		for _, e := range patch.elems {
			c := e.canonical()
			if _, ok := seen[c]; ok {
				continue
			}
			seen[c] = struct{}{}
			out.elems = append(out.elems, e)
		}
		return out
	default:
		return patch
	}
}

// canonical is a key-order-independent text of v, for array union.
func (v *value) canonical() string {
	var b bytes.Buffer
	v.writeCanonical(&b)
	return b.String()
}

func (v *value) writeCanonical(b *bytes.Buffer) {
	switch v.kind {
	case kindObject:
		keys := slices.Sorted(slices.Values(v.keys))
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			v.fields[k].writeCanonical(b)
		}
		b.WriteByte('}')
	case kindArray:
		b.WriteByte('[')
		for i, e := range v.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			e.writeCanonical(b)
		}
		b.WriteByte(']')
	default:
		b.Write(v.raw)
	}
}

func (v *value) write(b *bytes.Buffer) {
	switch v.kind {
	case kindObject:
		b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := marshalNoEscape(k)
			b.Write(kb)
			b.WriteByte(':')
			v.fields[k].write(b)
		}
		b.WriteByte('}')
	case kindArray:
		b.WriteByte('[')
		for i, e := range v.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			e.write(b)
		}
		b.WriteByte(']')
	default:
		b.Write(v.raw)
	}
}
