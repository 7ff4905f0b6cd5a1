package tenancy

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/events"
)

// backendsConfig is a configuration whose dynamic tenants spread over n
// MongoDB backends b0..b<n-1> with algo.
func backendsConfig(algo string, n int) string {
	var conns, backends []string
	for i := 0; i < n; i++ {
		conns = append(conns, fmt.Sprintf(`"b%d": {"mongoUri": "mongodb://b%d:27017"}`, i, i))
		backends = append(backends, fmt.Sprintf(`{"dbConnRef": "b%d"}`, i))
	}
	return `{"dbConnections": {` + strings.Join(conns, ",") + `}, "localStorage": {"enabled": true, "basePath": "/b"}, ` +
		`"routing": {"hashAlgo": "` + algo + `"}, ` +
		`"dynamicTenants": {"enabled": true, "backends": [` + strings.Join(backends, ",") + `]}}`
}

// placements routes ids through a router and returns each id's backend.
func placements(t *testing.T, r *Router, ids []string) []string {
	t.Helper()
	out := make([]string, len(ids))
	for i, id := range ids {
		rt, err := r.Route(events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: id, Name: "c"})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = rt.DBConnRef
	}
	return out
}

// TestAddingABackendMovesOneNth places 10,000 tenants on n backends, adds
// one, and checks that about 1/(n+1) of them move, all to the new backend,
// and that the spread is even.
func TestAddingABackendMovesOneNth(t *testing.T) {
	ids := make([]string, 10000)
	for i := range ids {
		ids[i] = fmt.Sprintf("tenant-%05d", i)
	}
	for _, algo := range []string{HashRendezvous, HashJump} {
		for _, n := range []int{1, 3, 7} {
			t.Run(fmt.Sprintf("%s/%d→%d", algo, n, n+1), func(t *testing.T) {
				before := placements(t, newTestRouter(t, backendsConfig(algo, n)), ids)
				after := placements(t, newTestRouter(t, backendsConfig(algo, n+1)), ids)
				newest := fmt.Sprintf("b%d", n)
				moved := 0
				counts := map[string]int{}
				for i := range ids {
					counts[after[i]]++
					if before[i] == after[i] {
						continue
					}
					moved++
					if after[i] != newest {
						t.Fatalf("%s moved from %s to %s, not to the new backend %s", ids[i], before[i], after[i], newest)
					}
				}
				want := 1 / float64(n+1)
				got := float64(moved) / float64(len(ids))
				if math.Abs(got-want) > 0.03 {
					t.Errorf("moved %.3f of tenants, want %.3f ± 0.03", got, want)
				}
				for b, c := range counts {
					share := float64(c) / float64(len(ids))
					if math.Abs(share-want) > 0.03 {
						t.Errorf("backend %s holds %.3f of tenants, want %.3f ± 0.03", b, share, want)
					}
				}
			})
		}
	}
}

// TestPlacementIsStable pins placements: they must never change between
// versions, or tenants would lose their data. Rendezvous also does not
// depend on the order of the backend list.
func TestPlacementIsStable(t *testing.T) {
	names := []string{"b0|", "b1|", "b2|", "b3|"}
	golden := map[string][2]int{ // id → {rendezvous, jump} over 4 backends
		"acme":       {1, 2},
		"globex":     {3, 2},
		"initech":    {3, 0},
		"tenant-1":   {2, 1},
		"tenant-2":   {3, 2},
		"umbrella-9": {1, 1},
	}
	for id, want := range golden {
		key := "tenant/" + id
		got := [2]int{rendezvous(key, names), jump(key, len(names))}
		if got != want {
			t.Errorf("%s placed on %v, want %v (placement changed!)", id, got, want)
		}
	}
	reversed := []string{"b3|", "b2|", "b1|", "b0|"}
	for i := 0; i < 1000; i++ {
		key := fmt.Sprintf("tenant/t%d", i)
		if names[rendezvous(key, names)] != reversed[rendezvous(key, reversed)] {
			t.Fatalf("rendezvous placement of %s depends on the list order", key)
		}
		if rendezvous(key, names) != rendezvous(key, names) || jump(key, 4) != jump(key, 4) {
			t.Fatalf("placement of %s is not deterministic", key)
		}
	}
}
