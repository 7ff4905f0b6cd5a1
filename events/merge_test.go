package events

import (
	"errors"
	"testing"
)

func TestDeepMerge(t *testing.T) {
	tests := []struct {
		name, base, patch, want string
		wantErr                 error
	}{
		{"seed example", `{"tags":["a"],"metadata":{"x":1}}`, `{"tags":["premium"],"metadata":{"newField":"value"}}`,
			`{"tags":["a","premium"],"metadata":{"x":1,"newField":"value"}}`, nil},
		{"array union dedupes", `{"t":["a","b"]}`, `{"t":["b","c","c"]}`, `{"t":["a","b","c"]}`, nil},
		{"objects in arrays by value", `{"t":[{"a":1,"b":2}]}`, `{"t":[{"b":2,"a":1},{"a":3}]}`, `{"t":[{"a":1,"b":2},{"a":3}]}`, nil},
		{"scalar replaced", `{"a":1,"b":"x"}`, `{"a":2}`, `{"a":2,"b":"x"}`, nil},
		{"null replaces", `{"a":{"b":1}}`, `{"a":null}`, `{"a":null}`, nil},
		{"type change", `{"a":[1]}`, `{"a":{"b":1}}`, `{"a":{"b":1}}`, nil},
		{"deep", `{"a":{"b":{"c":[1],"d":1}}}`, `{"a":{"b":{"c":[2],"e":2}}}`, `{"a":{"b":{"c":[1,2],"d":1,"e":2}}}`, nil},
		{"number text kept", `{"n":12345678901234567890}`, `{"m":1.50}`, `{"n":12345678901234567890,"m":1.50}`, nil},
		{"html not escaped", `{"s":"<a>&"}`, `{}`, `{"s":"<a>&"}`, nil},
		{"empty patch", `{"a":1}`, `{}`, `{"a":1}`, nil},
		{"patch not object", `{"a":1}`, `[1]`, ``, ErrInvalid},
		{"bad json", `{"a":1}`, `{"a":`, ``, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DeepMerge([]byte(tt.base), []byte(tt.patch))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && string(got) != tt.want {
				t.Fatalf("DeepMerge = %s, want %s", got, tt.want)
			}
		})
	}
}

// FuzzDeepMerge: never panics; merging an object with itself is the object.
func FuzzDeepMerge(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":2}],"c":{"d":"x"}}`), []byte(`{"a":[3],"c":{"e":null}}`))
	f.Fuzz(func(t *testing.T, base, patch []byte) {
		out, err := DeepMerge(base, patch)
		if err != nil {
			return
		}
		if ValidatePayload("p", base, 1<<20) == nil && ValidatePayload("p", patch, 1<<20) == nil {
			if err := ValidatePayload("merged", out, 1<<21); err != nil {
				t.Fatalf("merge of valid payloads is invalid: %v\n%s", err, out)
			}
		}
		again, err := DeepMerge(out, out)
		if err != nil || string(again) != string(out) {
			t.Fatalf("merge with itself changed it: %s -> %s (%v)", out, again, err)
		}
	})
}
