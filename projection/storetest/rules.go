package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
	"github.com/chronos-go/chronos/tenancy"
)

// CounterRules returns the counter rules a store under Run must be
// configured with (compiled by projection.CompileRules). They match only
// the data of the CounterRules case, so other cases' counters are the
// plain totals.
func CounterRules() tenancy.CounterRules {
	return tenancy.CounterRules{Rules: []tenancy.CounterRule{
		{ // meta scope, $in and $gte, creates and updates only
			Name: "rBigPaid", On: []string{"CREATE", "UPDATE"}, Scope: "meta",
			When:        map[string]json.RawMessage{"status": json.RawMessage(`{"$in":["r-paid","r-shipped"]}`), "n": json.RawMessage(`{"$gte":10}`)},
			CountUnique: []string{"n"},
		},
		{ // payload scope, equality and $gte, every operation
			Name: "rPurchase", Scope: "payload",
			When:        map[string]json.RawMessage{"kind": json.RawMessage(`"r-purchase"`), "amount": json.RawMessage(`{"$gte":100}`)},
			CountUnique: []string{"customer", "sku"},
		},
		{ // deletes only
			Name: "rDeleted", On: []string{"DELETE"}, Scope: "payload",
			When:        map[string]json.RawMessage{"kind": json.RawMessage(`{"$in":["r-purchase","r-view"]}`)},
			CountUnique: []string{"customer"},
		},
	}}
}

// wantRules computes CounterRules' totals over a log by brute force: each
// rule written out as Go, every distinct value kept in a set.
func wantRules(log []projection.Change, c events.Collection) map[string]projection.RuleCounters {
	type acc struct {
		rc   projection.RuleCounters
		sets map[string]map[string]bool
	}
	accs := map[string]*acc{}
	hit := func(name string, op events.Op, uniq map[string]any) {
		a := accs[name]
		if a == nil {
			a = &acc{sets: map[string]map[string]bool{}}
			accs[name] = a
		}
		a.rc.Count++
		switch {
		case op == events.OpCreate:
			a.rc.Created++
		case op.Deletes():
			a.rc.Deleted++
		default:
			a.rc.Updated++
		}
		for f, v := range uniq {
			if a.sets[f] == nil {
				a.sets[f] = map[string]bool{}
			}
			if v != nil {
				a.sets[f][fmt.Sprintf("%T:%v", v, v)] = true
			}
		}
	}
	var last uint64
	for _, ch := range log {
		if ch.Ref.Collection != c || ch.Seq <= last {
			continue
		}
		last = ch.Seq
		e := ch.Event
		var p struct {
			Status   *string  `json:"status"`
			N        *float64 `json:"n"`
			Kind     string   `json:"kind"`
			Amount   *float64 `json:"amount"`
			Customer any      `json:"customer"`
			SKU      any      `json:"sku"`
		}
		_ = json.Unmarshal(e.Payload, &p)
		if e.Op == events.OpCreate || e.Op == events.OpUpdate || e.Op == events.OpEnrich || e.Op == events.OpRestore {
			if p.Status != nil && (*p.Status == "r-paid" || *p.Status == "r-shipped") && p.N != nil && *p.N >= 10 {
				hit("rBigPaid", e.Op, map[string]any{"n": *p.N})
			}
		}
		if p.Kind == "r-purchase" && p.Amount != nil && *p.Amount >= 100 {
			hit("rPurchase", e.Op, map[string]any{"customer": p.Customer, "sku": p.SKU})
		}
		if e.Op.Deletes() && (p.Kind == "r-purchase" || p.Kind == "r-view") {
			hit("rDeleted", e.Op, map[string]any{"customer": p.Customer})
		}
	}
	out := map[string]projection.RuleCounters{}
	for name, a := range accs {
		a.rc.Unique = map[string]int64{}
		for f, set := range a.sets {
			a.rc.Unique[f] = int64(len(set))
		}
		out[name] = a.rc
	}
	return out
}

// rulesLog writes a random life of a few items whose payloads the rules
// look at: creates, updates, enrichments, deletes and restores.
func rulesLog(t testing.TB, rng *rand.Rand, c events.Collection, n int) []projection.Change {
	w := newRulesWriter(newIngest(t), rng, c)
	w.until(n)
	return w.in.log(events.Partition(c, partitions))
}

// rulesWriter writes the random life of rulesLog, in steps.
type rulesWriter struct {
	in         *ingest
	rng        *rand.Rand
	c          events.Collection
	live, dead []events.ItemRef
	i          int
}

func newRulesWriter(in *ingest, rng *rand.Rand, c events.Collection) *rulesWriter {
	return &rulesWriter{in: in, rng: rng, c: c}
}

// until writes events until the collection's partition holds n.
func (rw *rulesWriter) until(n int) {
	in, rng, c := rw.in, rw.rng, rw.c
	statuses := []string{"r-paid", "r-shipped", "r-new", "paid"}
	kinds := []string{"r-purchase", "r-view", "other"}
	payload := func() string {
		p := fmt.Sprintf(`{"status":%q,"n":%d,"kind":%q,"amount":%d,"customer":"c%d"`,
			statuses[rng.IntN(len(statuses))], 5+rng.IntN(10), kinds[rng.IntN(len(kinds))], 50+rng.IntN(100), rng.IntN(5))
		switch rng.IntN(4) {
		case 0: // no sku
		case 1:
			p += `,"sku":null`
		case 2:
			p += fmt.Sprintf(`,"sku":%d`, rng.IntN(3)) // a number: 1 and "1" are different values
		default:
			p += fmt.Sprintf(`,"sku":"%d"`, rng.IntN(3))
		}
		return p + "}"
	}
	w := write{actor: alice}
	for ; len(in.log(events.Partition(c, partitions))) < n; rw.i++ {
		switch k := rng.IntN(10); {
		case k < 3 || len(rw.live) == 0 && len(rw.dead) == 0:
			ref := c.Item(fmt.Sprintf("r%d", rw.i))
			in.create(ref, payload(), w)
			rw.live = append(rw.live, ref)
		case k < 6 && len(rw.live) > 0:
			in.update(rw.live[rng.IntN(len(rw.live))], payload(), w)
		case k < 7 && len(rw.live) > 0:
			in.enrich(rw.live[rng.IntN(len(rw.live))], payload(), "f@v1", w)
		case k < 8 && len(rw.live) > 0:
			j := rng.IntN(len(rw.live))
			in.delete(rw.live[j], w)
			rw.dead = append(rw.dead, rw.live[j])
			rw.live = slices.Delete(rw.live, j, j+1)
		case len(rw.dead) > 0:
			j := rng.IntN(len(rw.dead))
			in.restore(rw.dead[j], 0, w)
			rw.live = append(rw.live, rw.dead[j])
			rw.dead = slices.Delete(rw.dead, j, j+1)
		}
	}
}

// checkRules compares a collection's rule counters with a brute-force
// count of the log.
func checkRules(ctx context.Context, t testing.TB, s projection.Store, c events.Collection, log []projection.Change) {
	t.Helper()
	got, err := s.Counters(ctx, c)
	if err != nil {
		t.Fatalf("Counters(%s): %v", c, err)
	}
	want := wantRules(log, c)
	for _, name := range slices.Sorted(maps.Keys(want)) {
		w, g := want[name], got.Rules[name]
		if g.Count != w.Count || g.Created != w.Created || g.Updated != w.Updated || g.Deleted != w.Deleted || !maps.Equal(g.Unique, w.Unique) {
			t.Errorf("Counters(%s).Rules[%s] = %+v, want %+v", c, name, g, w)
		}
	}
	for name := range got.Rules {
		if _, ok := want[name]; !ok {
			t.Errorf("Counters(%s).Rules[%s] = %+v, want no entry (no event matched)", c, name, got.Rules[name])
		}
	}
	checkCounters(ctx, t, s, c, countersOf(log, c))
}

// testCounterRules checks CounterRules against a brute-force count, after
// applying the log once and after redeliveries in random batches.
func testCounterRules(t *testing.T, newStore func(t *testing.T) projection.Store) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	c := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "rulesales"}
	log := rulesLog(t, rng, c, 40)
	if want := wantRules(log, c); len(want) < 3 || want["rPurchase"].Unique["sku"] == 0 {
		t.Logf("the random log exercises only %d rules: %+v", len(want), want)
	}

	t.Run("Once", func(t *testing.T) {
		ctx := caseContext(t)
		s := newStore(t)
		apply(ctx, t, s, log)
		checkRules(ctx, t, s, c, log)
	})
	t.Run("RandomBatchesWithRedelivery", func(t *testing.T) {
		ctx := caseContext(t)
		s := newStore(t)
		n := len(log)
		for next := 0; next < n; {
			from := max(0, next-rng.IntN(6))
			to := min(n, next+1+rng.IntN(6))
			apply(ctx, t, s, log[from:to])
			if rng.IntN(3) == 0 {
				a := rng.IntN(to)
				apply(ctx, t, s, log[a:a+1+rng.IntN(to-a)])
			}
			next = to
			if rng.IntN(4) == 0 {
				checkRules(ctx, t, s, c, log[:to])
			}
		}
		apply(ctx, t, s, log) // the whole log again counts nothing twice
		checkRules(ctx, t, s, c, log)
	})
	t.Run("Unmatched", func(t *testing.T) {
		ctx := caseContext(t)
		s := newStore(t)
		in := newIngest(t)
		ref := orders.Item("plain")
		in.create(ref, `{"status":"new","n":50,"kind":"other","amount":500}`, write{actor: alice})
		in.update(ref, `{"status":"paid","n":50,"kind":"r-purchase","amount":99}`, write{actor: alice})
		in.delete(ref, write{actor: bob}) // the payload's kind is r-purchase: rDeleted counts it
		log := in.log(events.Partition(orders, partitions))
		apply(ctx, t, s, log)
		checkRules(ctx, t, s, orders, log)
	})
}
