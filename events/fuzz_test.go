package events

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeValidate feeds arbitrary bodies to Decode. It must never panic,
// and whatever it accepts must re-encode to a body that decodes to the same
// event (the log is read by other versions of this code).
func FuzzDecodeValidate(f *testing.F) {
	// The seed corpus lives in testdata/fuzz/FuzzDecodeValidate; add a few
	// inline so a fresh checkout still has variety.
	b, _ := Encode(validEvent())
	f.Add(b)
	f.Add([]byte(`{"v":1,"op":"erase","ov":3,"at":"2026-01-01T00:00:00Z","insertedAt":"2026-01-01T00:00:00Z"}`))
	// Payloads past spliceMin take Decode's splicing path.
	big := validEvent()
	big.Payload = bigPayload(false)
	b, _ = Encode(big)
	f.Add(b)
	f.Add(bytes.Replace(b, []byte(`]}`), []byte(`}}`), 1))
	f.Add(bytes.Replace(b, []byte(`"payload"`), []byte(`"Payload"`), 1))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := Decode(body, Limits{MaxPayload: 1 << 16})
		std, serr := decodeStd(body, Limits{MaxPayload: 1 << 16})
		if (err == nil) != (serr == nil) {
			t.Fatalf("Decode err %v, encoding/json alone err %v", err, serr)
		}
		if err != nil {
			if e != nil {
				t.Fatal("Decode returned an event with an error")
			}
			return
		}
		if !reflect.DeepEqual(e, std) {
			t.Fatalf("Decode and encoding/json alone differ:\n%+v\n%+v", e, std)
		}
		if a, b := mustEncode(t, e), mustEncodeStd(t, e); !bytes.Equal(a, b) {
			t.Fatalf("Encode and encoding/json alone differ:\n%s\n%s", a, b)
		}
		again, err := Encode(e)
		if err != nil {
			t.Fatalf("accepted event does not encode: %v", err)
		}
		e2, err := Decode(again, Limits{MaxPayload: 1 << 16})
		if err != nil {
			t.Fatalf("re-encoded event rejected: %v\n%s", err, again)
		}
		again2, _ := Encode(e2)
		if !bytes.Equal(again, again2) {
			t.Fatalf("encoding not stable:\n%s\n%s", again, again2)
		}
	})
}

// FuzzValidatePayload checks that ValidatePayload never panics and never
// accepts what the standard decoder rejects or what is not an object.
func FuzzValidatePayload(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,{"b":null}]}`, `{"\u0024x":1}`, `[]`, `{"a":"\\\""}`, `{"_id":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if err := ValidatePayload("payload", p, 1<<16); err != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(p, &m); err != nil || m == nil {
			t.Fatalf("accepted %q, which is not a JSON object: %v", p, err)
		}
		if _, ok := m[KeyID]; ok {
			t.Fatalf("accepted a root _id: %q", p)
		}
	})
}

func mustEncode(t *testing.T, e *Event) []byte {
	b, err := Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustEncodeStd(t *testing.T, e *Event) []byte {
	b, err := encodeStd(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzValidJSON holds validJSON to encoding/json.Valid's answer.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{}`, ` [1, -0.5e+3, "a\u00e9\n", true, false, null] `, `{"a":{"b":[]}}`,
		`01`, `1.`, `-`, `"\x"`, `"\u12"`, "\"a\x01\"", `[1,]`, `{"a" 1}`, `{} {}`, `tru`, `nul`, `1e`, `"\/"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if got, want := validJSON(p), json.Valid(p); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid %v", p, got, want)
		}
	})
}
