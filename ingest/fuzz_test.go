package ingest

import (
	"errors"
	"testing"

	"github.com/chronos-go/chronos/events"
)

// The decoders of every write endpoint's body never panic, and every error
// they return is a client error (ErrInvalid), never something else.

func FuzzDecodeBatch(f *testing.F) {
	for _, s := range []string{
		`[{"id":"a","data":{"x":1}},{"data":{},"expectedOv":3}]`,
		"{\"id\":\"a\",\"data\":{}}\n{\"data\":{\"y\":[1,2]}}\n",
		`[]`, `[{"data":1}]`, `{"nope":1}`, "\n\n", `[{"id":"a","data":{}}] x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, err := decodeBatch(body)
		if err != nil {
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("non-client error %v", err)
			}
			return
		}
		if len(recs) == 0 || len(recs) > MaxBatch {
			t.Fatalf("accepted %d records", len(recs))
		}
		s := &Service{opts: Options{MaxPayload: 1 << 16}}
		_, _ = s.validateBatch(events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "t", Name: "c"}, recs)
	})
}

func FuzzDecodePatches(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[{"a":1},{"b":[2]}]`, `[`, ` [1, {"x":null}]`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		patches, err := decodePatches(body)
		if err != nil {
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("non-client error %v", err)
			}
			return
		}
		base := []byte(`{"tags":["a"],"o":{"k":1}}`)
		for i, p := range patches {
			if events.ValidatePayload("patch", p, 1<<16) != nil {
				continue
			}
			merged, err := events.DeepMerge(base, p)
			if err != nil {
				t.Fatalf("patch %d valid but merge failed: %v", i, err)
			}
			base = merged
		}
	})
}

func FuzzDecodeRestore(f *testing.F) {
	for _, s := range []string{`{"ov":1}`, `{"at":"2026-01-01T00:00:00Z"}`, `{}`, `{"ov":1,"at":"2026-01-01T00:00:00Z"}`, `{"ov":-1}`, `{"ov":1}{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tgt, err := decodeRestore(body)
		if err != nil {
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("non-client error %v", err)
			}
			return
		}
		if (tgt.OV == nil) == (tgt.At == nil) {
			t.Fatalf("accepted a target with not exactly one of ov/at: %+v", tgt)
		}
	})
}
