package mongostore_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
	"github.com/chronos-go/chronos/projection/mongostore"
)

// TestRetentionJanitor prunes by count and by age, never the head's
// version, and deletes each pruned version's blobs first.
func TestRetentionJanitor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, _ := newStore(t, mongostore.Options{})
	b := newBuilder() // one event per second from 2025-01-01
	var batch []projection.Change
	// a: 6 versions; b: 2 versions; c: 1 version.
	for v := range 6 {
		batch = append(batch, b.write(t, coll.Item("a"), fmt.Sprintf(`{"v":%d}`, v), nil))
		if v < 2 {
			batch = append(batch, b.write(t, coll.Item("b"), fmt.Sprintf(`{"v":%d}`, v), nil))
		}
	}
	batch = append(batch, b.write(t, coll.Item("c"), `{"v":0}`, nil))
	if err := s.Apply(ctx, batch); err != nil {
		t.Fatal(err)
	}
	versions := func(id string) []uint64 {
		hist, err := s.History(ctx, coll.Item(id), projection.HistoryQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, d := range hist {
			out = append(out, d.System.OV)
		}
		return out
	}
	var mu sync.Mutex
	var blobs []string
	run := func(r projection.VerRetention, now time.Time) projection.JanitorStats {
		j := projection.NewJanitor(s, projection.JanitorOptions{
			Retention:   r,
			Collections: func(context.Context) ([]events.Collection, error) { return []events.Collection{coll}, nil },
			DeleteBlobs: func(_ context.Context, ref events.ItemRef, ov uint64) error {
				mu.Lock()
				defer mu.Unlock()
				blobs = append(blobs, fmt.Sprintf("%s:%d", ref.ID, ov))
				return nil
			},
			Now: func() time.Time { return now },
		})
		st, err := j.Pass(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	// maxPerItem 3: a keeps 3..5, b and c keep all.
	if st := run(projection.VerRetention{MaxPerItem: 3}, time.Now()); st.Versions != 3 {
		t.Fatalf("maxPerItem pass deleted %d versions, want 3", st.Versions)
	}
	if got := versions("a"); !slices.Equal(got, []uint64{3, 4, 5}) {
		t.Fatalf("a after maxPerItem 3: %v", got)
	}
	slices.Sort(blobs)
	if !slices.Equal(blobs, []string{"a:0", "a:1", "a:2"}) {
		t.Fatalf("blobs deleted %v", blobs)
	}
	// Again: nothing more.
	if st := run(projection.VerRetention{MaxPerItem: 3}, time.Now()); st.Versions != 0 {
		t.Fatalf("second pass deleted %d", st.Versions)
	}
	// days 1, a year later: every version is old; only heads stay.
	if st := run(projection.VerRetention{Days: 1}, time.Now().AddDate(1, 0, 0)); st.Versions != 3 {
		t.Fatalf("age pass deleted %d versions, want 3 (a:3, a:4, b:0)", st.Versions)
	}
	for id, want := range map[string][]uint64{"a": {5}, "b": {1}, "c": {0}} {
		if got := versions(id); !slices.Equal(got, want) {
			t.Errorf("%s after days 1: %v, want %v", id, got, want)
		}
		if h, err := s.Head(ctx, coll.Item(id)); err != nil || h.System.OV != want[0] {
			t.Errorf("head of %s: %v, %v", id, h, err)
		}
	}
}
