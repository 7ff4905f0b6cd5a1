package tenancy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// The loader reads the file into a tree that keeps key order and reports
// duplicate keys, replaces ENV tokens in it, then decodes the tree into
// Config by reflection. Doing the decoding itself, rather than through
// encoding/json, is what gives every error its full JSON path (with array
// indices) and makes key matching exact: encoding/json ignores unknown keys
// by default and matches keys without regard to case.

// maxDepth bounds nesting: no configuration needs more, and it keeps a
// hostile file from exhausting the stack.
const maxDepth = 64

// object is a JSON object with its keys in file order.
type object struct {
	keys []string
	vals map[string]any
}

// envValue is a string that was one ENV token from end to end. Unlike a
// literal string, it may also fill a number or boolean field.
type envValue string

// parseTree parses data into *object, []any, string, json.Number, bool or
// nil nodes.
func parseTree(data []byte) (any, *Problem) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := &treeParser{dec: dec, data: data}
	v, prob := p.value("", 0)
	if prob != nil {
		return nil, prob
	}
	off := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		for off < int64(len(data)) && strings.IndexByte(" \t\r\n", data[off]) >= 0 {
			off++
		}
		return nil, &Problem{Path: p.position(off), Msg: "unexpected data after the top-level JSON value"}
	}
	return v, nil
}

type treeParser struct {
	dec  *json.Decoder
	data []byte
}

func (p *treeParser) value(path string, depth int) (any, *Problem) {
	if depth > maxDepth {
		return nil, &Problem{Path: path, Msg: "nested deeper than " + strconv.Itoa(maxDepth) + " levels"}
	}
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.syntax(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := &object{vals: map[string]any{}}
			for p.dec.More() {
				ktok, err := p.dec.Token()
				if err != nil {
					return nil, p.syntax(err)
				}
				key, _ := ktok.(string)
				kp := join(path, key)
				if _, dup := obj.vals[key]; dup {
					return nil, &Problem{Path: kp, Msg: "duplicate key"}
				}
				v, prob := p.value(kp, depth+1)
				if prob != nil {
					return nil, prob
				}
				obj.keys = append(obj.keys, key)
				obj.vals[key] = v
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.syntax(err)
			}
			return obj, nil
		case '[':
			arr := []any{}
			for p.dec.More() {
				v, prob := p.value(index(path, len(arr)), depth+1)
				if prob != nil {
					return nil, prob
				}
				arr = append(arr, v)
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.syntax(err)
			}
			return arr, nil
		}
		return nil, &Problem{Path: path, Msg: "unexpected " + string(t)}
	default:
		return t, nil
	}
}

func (p *treeParser) syntax(err error) *Problem {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &Problem{Path: p.position(se.Offset), Msg: se.Error()}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Problem{Path: p.position(int64(len(p.data))), Msg: "unexpected end of file"}
	}
	return &Problem{Path: p.position(p.dec.InputOffset()), Msg: err.Error()}
}

// position returns "line L, column C" (1-based) of the byte at offset off.
func (p *treeParser) position(off int64) string {
	if off > int64(len(p.data)) {
		off = int64(len(p.data))
	}
	before := p.data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return "line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col)
}

// join appends key to a JSON path: "a.b", or a["x.y"] for a key that is
// not a plain word.
func join(path, key string) string {
	plain := key != ""
	for i := 0; i < len(key) && plain; i++ {
		c := key[i]
		plain = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	}
	switch {
	case !plain:
		return path + "[" + strconv.Quote(key) + "]"
	case path == "":
		return key
	default:
		return path + "." + key
	}
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// decoder decodes a tree into a Go value, collecting problems.
type decoder struct {
	ps *problems
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func (d *decoder) decode(path string, n any, v reflect.Value) {
	if v.Kind() != reflect.Pointer && v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		if err := v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(toJSON(n)); err != nil {
			d.ps.add(path, err.Error())
		}
		return
	}
	if n == nil {
		return // null keeps the default, as in encoding/json
	}
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		d.decode(path, n, nv.Elem())
		v.Set(nv)
	case reflect.Struct:
		obj, ok := n.(*object)
		if !ok {
			d.typeErr(path, "an object", n)
			return
		}
		fields := fieldsOf(v.Type())
		for _, k := range obj.keys {
			idx, ok := fields[k]
			if !ok {
				d.ps.add(join(path, k), unknownKey(v.Type(), k))
				continue
			}
			d.decode(join(path, k), obj.vals[k], v.FieldByIndex(idx))
		}
	case reflect.Map:
		obj, ok := n.(*object)
		if !ok {
			d.typeErr(path, "an object", n)
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(v.Type(), len(obj.keys)))
		}
		for _, k := range obj.keys {
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(join(path, k), obj.vals[k], ev)
			v.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), ev)
		}
	case reflect.Slice:
		arr, ok := n.([]any)
		if !ok {
			d.typeErr(path, "a list", n)
			return
		}
		s := reflect.MakeSlice(v.Type(), len(arr), len(arr))
		for i, e := range arr {
			d.decode(index(path, i), e, s.Index(i))
		}
		v.Set(s)
	case reflect.String:
		switch s := n.(type) {
		case string:
			v.SetString(s)
		case envValue:
			v.SetString(string(s))
		default:
			d.typeErr(path, "a string", n)
		}
	case reflect.Bool:
		switch b := n.(type) {
		case bool:
			v.SetBool(b)
		case envValue:
			bv, err := strconv.ParseBool(string(b))
			if err != nil {
				d.ps.add(path, "must be true or false; the environment variable holds something else")
				return
			}
			v.SetBool(bv)
		default:
			d.typeErr(path, "true or false", n)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var s string
		switch t := n.(type) {
		case json.Number:
			s = string(t)
		case envValue:
			s = string(t)
		default:
			d.typeErr(path, "an integer", n)
			return
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v.OverflowInt(i) {
			d.ps.add(path, "must be an integer in range")
			return
		}
		v.SetInt(i)
	default:
		// Config has no other kinds; a new field of another kind must be
		// added here.
		d.ps.add(path, "cannot be decoded (unsupported field kind "+v.Kind().String()+")")
	}
}

func (d *decoder) typeErr(path, want string, n any) {
	d.ps.add(path, "must be "+want+", not "+kindName(n))
}

func kindName(n any) string {
	switch n.(type) {
	case *object:
		return "an object"
	case []any:
		return "a list"
	case string, envValue:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	default:
		return "null"
	}
}

// toJSON writes a tree node back as JSON (for json.Unmarshaler fields).
func toJSON(n any) []byte {
	var b bytes.Buffer
	writeJSON(&b, n)
	return b.Bytes()
}

func writeJSON(b *bytes.Buffer, n any) {
	switch t := n.(type) {
	case *object:
		b.WriteByte('{')
		for i, k := range t.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			writeJSON(b, t.vals[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, e)
		}
		b.WriteByte(']')
	case string:
		sb, _ := json.Marshal(t)
		b.Write(sb)
	case envValue:
		sb, _ := json.Marshal(string(t))
		b.Write(sb)
	case json.Number:
		b.WriteString(string(t))
	case bool:
		b.WriteString(strconv.FormatBool(t))
	default:
		b.WriteString("null")
	}
}

var fieldCache sync.Map // reflect.Type → map[string][]int

// fieldsOf maps the JSON keys of struct type t to field indices, with the
// fields of embedded structs promoted (as encoding/json does).
func fieldsOf(t reflect.Type) map[string][]int {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string][]int)
	}
	m := map[string][]int{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, _, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), prefix...), i)
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			m[name] = idx
		}
	}
	walk(t, nil)
	fieldCache.Store(t, m)
	return m
}

// droppedKeys are seed keys that Chronos deliberately does not take, with
// the reason: a plain "unknown key" would leave a seed user guessing.
var droppedKeys = map[reflect.Type]map[string]string{
	reflect.TypeFor[Config](): {
		"transactions": "chronos has no MongoDB transactions to configure (a write is one append to the log); remove it",
		"devShadow":    "chronos keeps no shadow copies (reads come from the read model); remove it",
		"analytics":    "chronos takes counter rules from counterRules; remove it",
	},
	reflect.TypeFor[Routing](): {
		"chooseKey": "chronos places a tenant by its id; remove it",
	},
	reflect.TypeFor[Fallback](): {
		"deadLetterCollection": "chronos dead-letters failed events to the <nats.stream>_DLQ stream; remove it",
	},
}

func unknownKey(t reflect.Type, key string) string {
	if why, ok := droppedKeys[t][key]; ok {
		return "unknown key: " + why
	}
	return "unknown key"
}
