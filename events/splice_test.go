package events

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestSpliceFieldsMatchEvent fails when Event gains, loses, renames or
// reorders a field that eventHead and eventTail do not mirror.
func TestSpliceFieldsMatchEvent(t *testing.T) {
	var want []reflect.StructField
	et := reflect.TypeFor[Event]()
	for i := range et.NumField() {
		want = append(want, et.Field(i))
	}
	var got []reflect.StructField
	for _, st := range []reflect.Type{reflect.TypeFor[eventHead](), nil, reflect.TypeFor[eventTail]()} {
		if st == nil {
			f, _ := et.FieldByName("Payload")
			got = append(got, f)
			continue
		}
		for i := range st.NumField() {
			got = append(got, st.Field(i))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("eventHead+Payload+eventTail have %d fields, Event has %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Type != want[i].Type || got[i].Tag != want[i].Tag {
			t.Errorf("field %d: mirror %s %s %q, Event %s %s %q", i, got[i].Name, got[i].Type, got[i].Tag, want[i].Name, want[i].Type, want[i].Tag)
		}
	}
}

// bigPayload is a payload past spliceMin, with whitespace when spaced.
func bigPayload(spaced bool) json.RawMessage {
	var b strings.Builder
	sep := ","
	if spaced {
		sep = " ,\n\t"
	}
	b.WriteString(`{"text":"a string with spaces, \"quotes\" and \\ backslashes",`)
	b.WriteString(`"arr":[`)
	for i := range 60 {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(`{"k":` + strings.Repeat("1", i%5+1) + `}`)
	}
	b.WriteString(`]}`)
	return json.RawMessage(b.String())
}

// TestSpliceMatchesStd: the splicing codec writes the bytes encoding/json
// writes, and decodes them to the same event, for every field set.
func TestSpliceMatchesStd(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.UTC)
	from := uint64(2)
	full := &Event{
		V: Version, Op: OpRestore, OV: 3, At: at, InsertedAt: at.Add(-time.Hour),
		Actor:        &Actor{Type: "user", Identifier: "u-1", Name: "<Ann & co>", Metadata: json.RawMessage(`{"insertedAt":1,"payload":{"x":"y"}}`)},
		Reason:       `a "reason", with ,"insertedAt": inside`,
		FunctionID:   "fn-1",
		Lineage:      &Lineage{ParentID: "p", ParentCollection: "pc", OriginID: "o", OriginCollection: "stripe:customers"},
		Meta:         map[string]json.RawMessage{"name": json.RawMessage(`"x"`), "nested": json.RawMessage(`{"payload":1,"insertedAt":2}`)},
		Creator:      &Actor{Type: "api", Metadata: json.RawMessage(`{"payload":"no"}`)},
		FunctionIDs:  []string{"fn-0", "fn-1"},
		RestoredFrom: &from,
	}
	for _, spaced := range []bool{false, true} {
		for _, e := range []*Event{full, {V: Version, Op: OpCreate, At: at, InsertedAt: at}} {
			e := *e
			e.Payload = bigPayload(spaced)
			got, err := Encode(&e)
			if err != nil {
				t.Fatal(err)
			}
			want, err := encodeStd(&e)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("spaced=%v: Encode differs from encoding/json:\n%s\n%s", spaced, got, want)
			}
			dec, err := Decode(got, Limits{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			std, err := decodeStd(got, Limits{})
			if err != nil {
				t.Fatalf("decodeStd: %v", err)
			}
			if !reflect.DeepEqual(dec, std) {
				t.Fatalf("Decode and decodeStd differ:\n%+v\n%+v", dec, std)
			}
			if spaced && bytes.ContainsAny(dec.Payload, "\n\t") {
				t.Fatalf("payload not compacted: %s", dec.Payload)
			}
		}
	}
}

// TestDecodeSpliceRejects: inputs the fast path must hand to encoding/json
// or reject exactly as it would.
func TestDecodeSpliceRejects(t *testing.T) {
	p := string(bigPayload(false))
	base := `"v":1,"op":"create","ov":0,"at":"2026-01-01T00:00:00Z","insertedAt":"2026-01-01T00:00:00Z"`
	cases := map[string]string{
		"two payloads":          `{` + base + `,"payload":` + p + `,"payload":` + p + `}`,
		"case variant":          `{` + base + `,"payload":` + p + `,"PAYLOAD":` + p + `}`,
		"escaped key":           `{` + base + `,"p\u0061yload":` + p + `}`,
		"unknown field":         `{` + base + `,"payload":` + p + `,"extra":1}`,
		"trailing data":         `{` + base + `,"payload":` + p + `} {}`,
		"broken payload":        `{` + base + `,"payload":` + p[:len(p)-2] + `}}` + `}`,
		"payload not an object": `{` + base + `,"payload":[` + p + `]}`,
		"missing comma":         `{` + base + ` "payload":` + p + `}`,
		"bad utf-8 in payload":  `{` + base + `,"payload":{"a":"` + "\xff" + strings.Repeat("x", 300) + `"}}`,
	}
	for name, body := range cases {
		fast, ferr := Decode([]byte(body), Limits{})
		std, serr := decodeStd([]byte(body), Limits{})
		if (ferr == nil) != (serr == nil) {
			t.Errorf("%s: Decode err %v, encoding/json err %v", name, ferr, serr)
			continue
		}
		if ferr == nil && !reflect.DeepEqual(fast, std) {
			t.Errorf("%s: decoded events differ", name)
		}
		if name != "two payloads" && name != "case variant" && name != "escaped key" && ferr == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestAppendCompact(t *testing.T) {
	for doc, want := range map[string]string{
		`{"a":"x y"}`:                           `{"a":"x y"}`,
		`{"a":"x\" y"}`:                         `{"a":"x\" y"}`,
		`{"a":"x\\"}`:                           `{"a":"x\\"}`,
		`{"a":"x\\", "b":1}`:                    `{"a":"x\\","b":1}`,
		"{ \"a\" :\t1 ,\r\n\"b\":[ 1 , 2 ] }\n": `{"a":1,"b":[1,2]}`,
		`[1,2,3]`:                               `[1,2,3]`,
	} {
		if got := string(appendCompact(nil, []byte(doc))); got != want {
			t.Errorf("appendCompact(%q) = %q, want %q", doc, got, want)
		}
		var std bytes.Buffer
		if err := json.Compact(&std, []byte(doc)); err != nil {
			t.Fatal(err)
		}
		if std.String() != want {
			t.Errorf("json.Compact(%q) = %q: the case is wrong", doc, std.String())
		}
		if isCompact([]byte(doc)) != (doc == want) {
			t.Errorf("isCompact(%q) = %v", doc, !(doc == want))
		}
	}
}

func TestSkipString(t *testing.T) {
	for s, want := range map[string]int{
		`"abc"x`:        5,
		`"a\"b"x`:       6,
		`"a\\"x`:        5,
		`"a\\\"b"x`:     8,
		`"\\\\"`:        6,
		`"unterminated`: -1,
		`"a\"`:          -1,
	} {
		if got := skipString([]byte(s), 0); got != want {
			t.Errorf("skipString(%s) = %d, want %d", s, got, want)
		}
	}
}

func TestValidJSONDepth(t *testing.T) {
	for _, n := range []int{1, 100, 9999, 10000, 10001, 20000} {
		for _, open := range []string{"[", `{"a":`} {
			close := "]"
			if open != "[" {
				close = "}"
			}
			p := []byte(strings.Repeat(open, n) + "1" + strings.Repeat(close, n))
			if got, want := validJSON(p), json.Valid(p); got != want {
				t.Errorf("%d levels of %s: validJSON %v, json.Valid %v", n, open, got, want)
			}
		}
	}
}
