package bench

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// The scenarios promise ~300 B readings and ~600 B instrument states.
func TestDocSizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range 1000 {
		iot, tr := iotDoc(rng, 10_000, uint64(i)), tradingDoc(rng, "inst-abc-1", uint64(i))
		if !json.Valid(iot) || len(iot) < 270 || len(iot) > 330 {
			t.Fatalf("iot doc: %d bytes, valid %v: %s", len(iot), json.Valid(iot), iot)
		}
		if !json.Valid(tr) || len(tr) < 560 || len(tr) > 640 {
			t.Fatalf("trading doc: %d bytes, valid %v: %s", len(tr), json.Valid(tr), tr)
		}
	}
}
