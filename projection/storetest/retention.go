package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// testRetention: version retention prunes by count and by age, never the
// head's version, and deletes each pruned version's blobs first. Every
// store implements projection.VersionPruner (the retention janitor needs
// it).
func testRetention(t *testing.T, s projection.Store) {
	ctx := caseContext(t)
	p, ok := s.(projection.Pruner)
	if !ok {
		t.Fatalf("%T does not implement projection.Pruner (versions and counter buckets); the retention janitor needs it", s)
	}
	in := newIngest(t)
	a, b, c := orders.Item("a"), orders.Item("b"), orders.Item("c")
	var batch []projection.Change
	for v := range 6 { // a: 6 versions; b: 2; c: 1
		if v == 0 {
			batch = append(batch, in.create(a, `{"v":0}`, write{}), in.create(b, `{"v":0}`, write{}), in.create(c, `{"v":0}`, write{}))
			continue
		}
		batch = append(batch, in.update(a, fmt.Sprintf(`{"v":%d}`, v), write{}))
		if v == 1 {
			batch = append(batch, in.update(b, `{"v":1}`, write{}))
		}
	}
	apply(ctx, t, s, batch)
	versions := func(ref events.ItemRef) []uint64 {
		hist, err := s.History(ctx, ref, projection.HistoryQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, d := range hist {
			out = append(out, d.System.OV)
		}
		return out
	}
	var blobs []string
	pass := func(r projection.VerRetention, now time.Time) int {
		j := projection.NewJanitor(p, projection.JanitorOptions{
			Retention:   r,
			Collections: func(context.Context) ([]events.Collection, error) { return []events.Collection{orders}, nil },
			DeleteBlobs: func(_ context.Context, ref events.ItemRef, ov uint64) error {
				blobs = append(blobs, fmt.Sprintf("%s:%d", ref.ID, ov))
				return nil
			},
			Now: func() time.Time { return now },
		})
		st, err := j.Pass(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Versions
	}
	if n := pass(projection.VerRetention{MaxPerItem: 3}, time.Now()); n != 3 {
		t.Fatalf("maxPerItem 3 deleted %d versions, want 3", n)
	}
	if got := versions(a); !slices.Equal(got, []uint64{3, 4, 5}) {
		t.Fatalf("a after maxPerItem 3: %v", got)
	}
	slices.Sort(blobs)
	if !slices.Equal(blobs, []string{"a:0", "a:1", "a:2"}) {
		t.Fatalf("blobs deleted %v", blobs)
	}
	if n := pass(projection.VerRetention{MaxPerItem: 3}, time.Now()); n != 0 {
		t.Fatalf("a second pass deleted %d", n)
	}
	// A year later with days 1: every version is old; only heads stay.
	if n := pass(projection.VerRetention{Days: 1}, time.Now().AddDate(1, 0, 0)); n != 3 {
		t.Fatalf("days 1 deleted %d versions, want 3 (a:3, a:4, b:0)", n)
	}
	for ref, want := range map[events.ItemRef]uint64{a: 5, b: 1, c: 0} {
		if got := versions(ref); !slices.Equal(got, []uint64{want}) {
			t.Errorf("%s after days 1: %v, want [%d]", ref.ID, got, want)
		}
		if h, err := s.Head(ctx, ref); err != nil || h.System.OV != want {
			t.Errorf("head of %s: %v, %v", ref.ID, h, err)
		}
	}
}
