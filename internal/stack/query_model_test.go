package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/stack"
)

// modelVersion is one version of an item in the model.
type modelVersion struct {
	at      time.Time
	doc     map[string]int
	deleted bool
}

// modelItem is an item's versions, index = ov.
type modelItem []modelVersion

func (m modelItem) last() *modelVersion {
	if len(m) == 0 {
		return nil
	}
	return &m[len(m)-1]
}

// asOf is the version in force at t, or -1 before the item existed.
func (m modelItem) asOf(t time.Time) int {
	ov := -1
	for i, v := range m {
		if !v.at.After(t) {
			ov = i
		}
	}
	return ov
}

func docJSON(d map[string]int) []byte {
	b, _ := json.Marshal(d)
	return b
}

// Random create / update / enrich / delete / restore sequences at
// controlled times through the real ingest service; every latest, version,
// as-of, history and listByMeta answer of the query service (over HTTP)
// equals the in-memory model's. The sizes are the minimum: the
// embedded FerretDB scans on _id.
func TestQueryMatchesModel(t *testing.T) {
	const nItems, nOps = 50, 1000
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	s := startStack(t, stack.Config{})
	coll := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "model"}
	base := s.URL() + "/v1/runtime/tenant/acme/model"

	now := time.Date(2031, 3, 1, 12, 0, 0, 0, time.UTC)
	ing := ingest.New(s.Log, ingest.Options{Blobs: s.Blobs, Router: s.Deps.Router, Now: func() time.Time { return now }})
	ctx := context.Background()
	model := map[string]modelItem{}
	ids := make([]string, nItems)
	for i := range ids {
		ids[i] = fmt.Sprintf("m-%02d", i)
	}
	var lastSeq uint64
	ops := map[string]int{}
	for i := range nOps {
		// Several versions may share a millisecond; most are apart.
		switch rng.IntN(6) {
		case 0:
		case 1:
			now = now.Add(time.Millisecond)
		default:
			now = now.Add(time.Duration(1+rng.IntN(5)) * time.Second)
		}
		id := ids[rng.IntN(nItems)]
		ref := coll.Item(id)
		m := model[id]
		cur := m.last()
		var doc map[string]int
		var deleted bool
		var res ingest.Result
		var err error
		op := ""
		switch r := rng.IntN(100); {
		case cur == nil:
			op, doc = "create", map[string]int{"n": rng.IntN(1000), "g": rng.IntN(4)}
			res, err = ing.Create(ctx, coll, id, docJSON(doc), ingest.Write{})
		case cur.deleted || r < 12:
			src := rng.IntN(len(m))
			op, doc = "restore", maps.Clone(m[src].doc)
			o := uint64(src)
			res, err = ing.Restore(ctx, ref, ingest.RestoreTarget{OV: &o}, ingest.Write{})
		case r < 55:
			op, doc = "update", map[string]int{"n": rng.IntN(1000), "g": rng.IntN(4)}
			res, err = ing.Update(ctx, ref, docJSON(doc), ingest.Write{})
		case r < 85:
			k := "e" + strconv.Itoa(rng.IntN(3))
			patch := map[string]int{k: rng.IntN(1000)}
			if rng.IntN(3) == 0 {
				patch["g"] = rng.IntN(4)
			}
			op, doc = "enrich", maps.Clone(cur.doc)
			maps.Copy(doc, patch)
			res, err = ing.Enrich(ctx, ref, [][]byte{docJSON(patch)}, "", ingest.Write{})
		default:
			op, doc, deleted = "delete", maps.Clone(cur.doc), true
			res, err = ing.Delete(ctx, ref, ingest.Write{})
		}
		if err != nil {
			t.Fatalf("op %d %s %s: %v", i, op, id, err)
		}
		if res.OV != uint64(len(m)) {
			t.Fatalf("op %d %s %s: ov %d, model says %d", i, op, id, res.OV, len(m))
		}
		ops[op]++
		// An item's times strictly increase: a write within the
		// millisecond of the previous one is stamped 1 ms after it.
		at := now.Truncate(time.Millisecond)
		if cur != nil && !at.After(cur.at) {
			at = cur.at.Add(time.Millisecond)
		}
		if !res.At.Equal(at) {
			t.Fatalf("op %d %s %s: at %s, model %s", i, op, id, res.At.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano))
		}
		model[id] = append(m, modelVersion{at: at, doc: doc, deleted: deleted})
		lastSeq = res.Seq
	}
	t.Logf("ops %v", ops)
	minSeq := "minSeq=" + strconv.FormatUint(lastSeq, 10)
	// Wait for the projection (a minSeq read waits 5 s at most per call);
	// under -race the embedded FerretDB projects ~10× slower.
	waitStart := time.Now()
	deadline := time.Now().Add(6 * time.Minute)
	for call(t, "GET", base+"/counters?"+minSeq, "").Status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the projection did not reach the last write in 6 minutes")
		}
	}
	t.Logf("writes projected %v after the last one", time.Since(waitStart).Round(time.Millisecond))

	phase := time.Now()
	lap := func(what string) {
		t.Logf("%s: %v", what, time.Since(phase).Round(time.Millisecond))
		phase = time.Now()
	}
	defer lap("list")
	// Latest, with and without includeDeleted.
	for _, id := range ids {
		m := model[id]
		if m == nil {
			mustStatus(t, call(t, "GET", base+"/items/"+id+"?"+minSeq, ""), 404)
			continue
		}
		cur := m.last()
		r := call(t, "GET", base+"/items/"+id+"?"+minSeq, "")
		if cur.deleted {
			mustStatus(t, r, 404)
			r = mustStatus(t, call(t, "GET", base+"/items/"+id+"?includeDeleted=true", ""), 200)
		}
		checkItem(t, "latest "+id, mustStatus(t, r, 200).Body, len(m)-1, cur)
	}
	lap("projection + latest")
	// History: every version of every item, in pages.
	for _, id := range ids {
		m := model[id]
		var got []json.RawMessage
		after := ""
		for {
			limit := "100" // paging is checked on a few items: each page scans
			if id < "m-05" && !queryRaceEnabled {
				limit = "7"
			}
			r := mustStatus(t, call(t, "GET", base+"/items/"+id+"/versions?limit="+limit+after, ""), 200)
			var page struct {
				Items []json.RawMessage `json:"items"`
				Next  *string           `json:"next"`
			}
			if err := json.Unmarshal(r.Body, &page); err != nil {
				t.Fatal(err)
			}
			got = append(got, page.Items...)
			if page.Next == nil {
				break
			}
			after = "&after=" + *page.Next
		}
		if len(got) != len(m) {
			t.Fatalf("history of %s: %d versions, model %d", id, len(got), len(m))
		}
		for ov, b := range got {
			checkItem(t, fmt.Sprintf("history %s v%d", id, ov), b, ov, &m[ov])
		}
	}
	lap("history")
	// Versions by ov and as-of reads, sampled (history has checked every
	// version already; each read is a query the embedded server answers by
	// scanning).
	samples := 60
	if queryRaceEnabled {
		samples = 12
	}
	for range samples {
		id := ids[rng.IntN(nItems)]
		m := model[id]
		ov := rng.IntN(len(m))
		r := mustStatus(t, call(t, "GET", fmt.Sprintf("%s/items/%s?ov=%d", base, id, ov), ""), 200)
		checkItem(t, fmt.Sprintf("%s ?ov=%d", id, ov), r.Body, ov, &m[ov])
	}
	mustStatus(t, call(t, "GET", base+"/items/"+ids[0]+"?ov=100000", ""), 404)
	for range 2 * samples {
		id := ids[rng.IntN(nItems)]
		m := model[id]
		// A time at a version, just before one, or between two.
		v := m[rng.IntN(len(m))].at
		at := []time.Time{v, v.Add(-time.Millisecond), v.Add(500 * time.Millisecond)}[rng.IntN(3)]
		url := base + "/items/" + id + "?includeDeleted=true&at=" + at.Format(time.RFC3339Nano)
		ov := m.asOf(at)
		if ov < 0 {
			mustStatus(t, call(t, "GET", url, ""), 404)
			continue
		}
		checkItem(t, fmt.Sprintf("%s as of %s", id, at.Format(time.RFC3339Nano)), mustStatus(t, call(t, "GET", url, ""), 200).Body, ov, &m[ov])
		if m[ov].deleted {
			mustStatus(t, call(t, "GET", base+"/items/"+id+"?at="+at.Format(time.RFC3339Nano), ""), 404)
		}
	}
	lap("versions and as-of")
	// listByMeta: every live item with g == k, exactly once, in pages of
	// 50, and the whole collection.
	for _, filter := range []string{`{}`, `{"g":{"$eq":0}}`, `{"g":{"$in":[1,3]}}`, `{"n":{"$gte":500}}`} {
		want := map[string]map[string]int{}
		for id, m := range model {
			cur := m.last()
			if !cur.deleted && matches(filter, cur.doc) {
				want[id] = cur.doc
			}
		}
		got := map[string]bool{}
		cursor := ""
		for {
			body := `{"filter":` + filter + `,"limit":50` + cursor + `}`
			p := list(t, base, body)
			for _, it := range p.Items {
				id := itemID(t, it)
				if got[id] {
					t.Fatalf("list %s returned %s twice", filter, id)
				}
				got[id] = true
				b, _ := json.Marshal(it)
				if !jsonEqual(t, userData(t, b), docJSON(want[id])) {
					t.Fatalf("list %s: %s is %s, model %v", filter, id, b, want[id])
				}
			}
			if p.Cursor == nil {
				break
			}
			cursor = `,"cursor":` + strconv.Quote(*p.Cursor)
		}
		if len(got) != len(want) {
			t.Fatalf("list %s: %d items, model %d (%v)", filter, len(got), len(want), slices.Sorted(maps.Keys(want)))
		}
	}
}

// matches evaluates the few filters the model test uses.
func matches(filter string, d map[string]int) bool {
	switch filter {
	case `{}`:
		return true
	case `{"g":{"$eq":0}}`:
		return d["g"] == 0
	case `{"g":{"$in":[1,3]}}`:
		return d["g"] == 1 || d["g"] == 3
	case `{"n":{"$gte":500}}`:
		return d["n"] >= 500
	}
	panic(filter)
}

// checkItem compares an answered item with the model's version ov.
func checkItem(t *testing.T, what string, body []byte, ov int, v *modelVersion) {
	t.Helper()
	var sys struct {
		System struct {
			OV        int       `json:"ov"`
			Deleted   bool      `json:"deleted"`
			UpdatedAt time.Time `json:"updatedAt"`
		} `json:"_system"`
	}
	if err := json.Unmarshal(body, &sys); err != nil {
		t.Fatalf("%s: %v: %s", what, err, body)
	}
	if sys.System.OV != ov || sys.System.Deleted != v.deleted || !sys.System.UpdatedAt.Equal(v.at) ||
		!jsonEqual(t, userData(t, body), docJSON(v.doc)) {
		t.Fatalf("%s: got %s\nmodel ov %d deleted %v at %s doc %v", what, body, ov, v.deleted, v.at.Format(time.RFC3339Nano), v.doc)
	}
}
