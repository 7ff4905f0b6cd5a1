package mongostore

import (
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/bson"
)

// roundTrip converts JSON to the BSON the store writes and back.
func roundTrip(t *testing.T, in string) (string, error) {
	t.Helper()
	v, err := jsonToBSON([]byte(in))
	if err != nil {
		return "", err
	}
	raw, err := bson.Marshal(bson.D{{Key: "v", Value: v}})
	if err != nil {
		t.Fatalf("marshal %s: %v", in, err)
	}
	out, err := appendJSON(nil, bson.Raw(raw).Lookup("v"))
	if err != nil {
		t.Fatalf("back to JSON %s: %v", in, err)
	}
	return string(out), nil
}

func TestJSONRoundTrip(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"b":1,"a":2}`, `{"b":1,"a":2}`}, // key order kept
		{` { "x" : [ 1 , 2 ] } `, `{"x":[1,2]}`},
		{`{}`, `{}`},
		{`[]`, `[]`},
		{`{"n":null,"t":true,"f":false}`, `{"n":null,"t":true,"f":false}`},
		{`2147483647`, `2147483647`},
		{`-2147483649`, `-2147483649`},
		{`9223372036854775807`, `9223372036854775807`},
		{`9223372036854775808`, `9223372036854776000`}, // past int64: a double, shortest form
		{`12345678901234567890123`, `1.2345678901234568e+22`},
		{`1.0`, `1`},
		{`0.1`, `0.1`},
		{`1e2`, `100`},
		{`1E-7`, `1e-7`},
		{`-0.0`, `-0`},
		{`"\u00e9\u2028\"\\\n\u0001/<>&"`, `"é\u2028\"\\\n\u0001/<>&"`},
		{`"\ud83d\ude00"`, `"😀"`},
		{`{"":1,"a b":{"c":[{"d":[]}]}}`, `{"":1,"a b":{"c":[{"d":[]}]}}`},
	}
	for _, tt := range tests {
		got, err := roundTrip(t, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("round trip of %s = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestJSONNumberTypes(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"7", int32(7)},
		{"-2147483648", int32(-2147483648)},
		{"2147483648", int64(2147483648)},
		{"7.0", float64(7)},
		{"7e0", float64(7)},
		{"18446744073709551615", float64(18446744073709551615)},
	}
	for _, tt := range tests {
		v, err := jsonToBSON([]byte(tt.in))
		if err != nil || v != tt.want {
			t.Errorf("jsonToBSON(%s) = %T %v, %v; want %T %v", tt.in, v, v, err, tt.want, tt.want)
		}
	}
	if _, err := jsonToBSON([]byte("1e400")); !errors.Is(err, errNotDocument) {
		t.Errorf("jsonToBSON(1e400) = %v, want errNotDocument", err)
	}
}

func TestStorable(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{`{"a":{"b":[{"c":1}]}}`, true},
		{`{"a.b":1}`, false},
		{`{"a":[{"x.y":1}]}`, false},
		{`{"a":{"$gt":1}}`, false},
		{`{"":1}`, false},
		{`"a.b"`, true},
	}
	for _, tt := range tests {
		v, err := jsonToBSON([]byte(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		if got := storable(v); got != tt.want {
			t.Errorf("storable(%s) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
