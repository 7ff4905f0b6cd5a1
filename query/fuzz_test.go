package query

import (
	"net/http"
	"testing"

	"github.com/chronos-go/chronos/internal/httpapi"
	"github.com/chronos-go/chronos/projection"
)

// FuzzDecodeListRequest: decoding and checking any body never panics, and
// every error it returns is a 400.
func FuzzDecodeListRequest(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `{"filter":{"status":"paid"}}`,
		`{"filter":{"total":{"$gte":10,"$lt":20}},"sort":{"total":-1,"_id":1},"limit":7}`,
		`{"filter":{"tags":{"$in":["a",null]},"x":{"$exists":false}},"fields":["a","_system.ov"],"count":true}`,
		`{"filter":{"_system.updatedAt":{"$gt":"2026-01-01T00:00:00Z"}},"includeDeleted":true}`,
		`{"filter":{"$or":[{"a":1}]}}`, `{"filter":{"a":{"$regex":"x"}}}`, `{"filter":{"a":{"b":1}}}`,
		`{"projection":"minimal","includeHidden":true}`, `{"cursor":"eyJxIjoiIiwidiI6W10sImlkIjoiYSJ9"}`,
		`{"sort":{"a":1,"a":-1}}`, `{"filter":{"a":1e999}}`, `{"limit":-1}`, "{\"filter\":{\"\\u0000\":1}}",
	} {
		f.Add([]byte(seed))
	}
	maps := []CollectionMap{{}, testMap}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeListRequest(body)
		if err != nil {
			if status, _, _ := httpapi.Classify(err); status != http.StatusBadRequest {
				t.Fatalf("decode %q: %v maps to %d, want 400", body, err, status)
			}
			return
		}
		for _, m := range maps {
			q, sh, hash, err := listQuery(*req, m)
			if err != nil {
				if status, _, _ := httpapi.Classify(err); status != http.StatusBadRequest {
					t.Fatalf("check %q: %v maps to %d, want 400", body, err, status)
				}
				continue
			}
			if sh == nil || hash == "" || q.Limit < 1 || q.Limit > projection.MaxListLimit {
				t.Fatalf("check %q: accepted as %+v", body, q)
			}
		}
	})
}
