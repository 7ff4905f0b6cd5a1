package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// farFuture bounds bucket reads that want every bucket.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// bucketsLog writes the random life of rulesLog over two stretches of
// days: 2026-10-30 to 2026-11-03 (a month boundary, and the ISO week
// 2026-W44 → W45 on Monday 2 November) and 2026-12-30 to 2027-01-05 (the
// ISO year boundary: 2026-12-31 and 2027-01-01 are in 2026-W53, 4 January
// starts 2027-W01). Event times have sub-millisecond parts.
func bucketsLog(t testing.TB, rng *rand.Rand, c events.Collection) []projection.Change {
	in := newIngest(t)
	w := newRulesWriter(in, rng, c)
	in.clock = time.Date(2026, 10, 30, 20, 0, 0, 400_500, time.UTC)
	in.gap = 7*time.Hour + 1500*time.Nanosecond
	w.until(14)
	in.clock = time.Date(2026, 12, 30, 9, 0, 0, 700, time.UTC)
	in.gap = 9*time.Hour + 700*time.Nanosecond
	w.until(30)
	return in.log(events.Partition(c, partitions))
}

// wantBucket is a bucket computed by brute force: its events.
type wantBucket struct {
	b   projection.CounterBucket
	log []projection.Change
}

// wantBuckets groups log's events of c (each sequence once) by period p,
// in start order, with their counters and rule counters computed by
// countersOf and wantRules over each group.
func wantBuckets(log []projection.Change, c events.Collection, p projection.Period) []wantBucket {
	byKey := map[string]*wantBucket{}
	var last uint64
	for _, ch := range log {
		if ch.Ref.Collection != c || ch.Seq <= last {
			continue
		}
		last = ch.Seq
		at := ch.Event.At.UTC()
		var start time.Time
		var key string
		switch p {
		case projection.PeriodDay:
			start, key = time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC), at.Format("2006-01-02")
		case projection.PeriodWeek:
			d := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
			for d.Weekday() != time.Monday {
				d = d.AddDate(0, 0, -1)
			}
			y, wk := at.ISOWeek()
			start, key = d, fmt.Sprintf("%d-W%02d", y, wk)
		default:
			start, key = time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC), at.Format("2006-01")
		}
		wb := byKey[key]
		if wb == nil {
			end := start.AddDate(0, 0, 1)
			switch p {
			case projection.PeriodWeek:
				end = start.AddDate(0, 0, 7)
			case projection.PeriodMonth:
				end = start.AddDate(0, 1, 0)
			}
			wb = &wantBucket{b: projection.CounterBucket{Period: p, Key: key, Start: start, End: end}}
			byKey[key] = wb
		}
		wb.log = append(wb.log, ch)
	}
	out := make([]wantBucket, 0, len(byKey))
	for _, wb := range byKey {
		wb.b.Counters = countersOf(wb.log, c)
		wb.b.Rules = wantRules(wb.log, c)
		if len(wb.b.Rules) == 0 {
			wb.b.Rules = nil
		}
		out = append(out, *wb)
	}
	slices.SortFunc(out, func(a, b wantBucket) int { return a.b.Start.Compare(b.b.Start) })
	return out
}

// bucketKeys returns the keys of buckets.
func bucketKeys(bs []projection.CounterBucket) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Key
	}
	return out
}

// checkBuckets compares c's buckets of p that start in [from, to) with
// want, field by field.
func checkBuckets(ctx context.Context, t testing.TB, s projection.Store, c events.Collection, p projection.Period,
	from, to time.Time, want []wantBucket) []projection.CounterBucket {
	t.Helper()
	got, err := s.CounterBuckets(ctx, c, p, from, to)
	if err != nil {
		t.Fatalf("CounterBuckets(%s, %s): %v", c, p, err)
	}
	var wantKeys []string
	for _, w := range want {
		wantKeys = append(wantKeys, w.b.Key)
	}
	if !slices.Equal(bucketKeys(got), wantKeys) {
		t.Errorf("CounterBuckets(%s, %s, %s, %s) = %v, want %v", c, p, from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano), bucketKeys(got), wantKeys)
		return got
	}
	for i, w := range want {
		g, wb := got[i], w.b
		what := fmt.Sprintf("bucket %s %s of %s", p, wb.Key, c)
		if g.Period != wb.Period || !g.Start.Equal(wb.Start) || !g.End.Equal(wb.End) || g.Start.Location() != time.UTC {
			t.Errorf("%s: period %s start %v end %v, want %s %v %v (UTC)", what, g.Period, g.Start, g.End, wb.Period, wb.Start, wb.End)
		}
		if g.Created != wb.Created || g.Updated != wb.Updated || g.Deleted != wb.Deleted || g.LastSeq != wb.LastSeq || !g.LastAt.Equal(wb.LastAt) {
			t.Errorf("%s: created %d updated %d deleted %d lastSeq %d lastAt %v, want %d %d %d %d %v", what,
				g.Created, g.Updated, g.Deleted, g.LastSeq, g.LastAt, wb.Created, wb.Updated, wb.Deleted, wb.LastSeq, wb.LastAt)
		}
		for _, name := range slices.Sorted(maps.Keys(wb.Rules)) {
			wr, gr := wb.Rules[name], g.Rules[name]
			if gr.Count != wr.Count || gr.Created != wr.Created || gr.Updated != wr.Updated || gr.Deleted != wr.Deleted || !maps.Equal(gr.Unique, wr.Unique) {
				t.Errorf("%s: rules[%s] = %+v, want %+v", what, name, gr, wr)
			}
		}
		for name := range g.Rules {
			if _, ok := wb.Rules[name]; !ok {
				t.Errorf("%s: rules[%s] = %+v, want no entry (no event of the period matched)", what, name, g.Rules[name])
			}
		}
	}
	return got
}

// checkAllBuckets checks every bucket of c against log.
func checkAllBuckets(ctx context.Context, t testing.TB, s projection.Store, c events.Collection, log []projection.Change) map[projection.Period][]projection.CounterBucket {
	t.Helper()
	out := map[projection.Period][]projection.CounterBucket{}
	for _, p := range projection.Periods {
		out[p] = checkBuckets(ctx, t, s, c, p, time.Time{}, farFuture, wantBuckets(log, c, p))
	}
	return out
}

// testCounterBuckets checks the period buckets (day, ISO week, month)
// against a brute-force count of a log that crosses a month boundary and
// an ISO year boundary: totals, rule counts and distinct counts per
// bucket, after random batches with redeliveries and after replaying the
// same batches; ranges; pruning; and the retention janitor.
func testCounterBuckets(t *testing.T, newStore func(t *testing.T) projection.Store) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	c := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "bucketsales"}
	log := bucketsLog(t, rng, c)
	// The log crosses what the case is about, whatever the seed.
	for p, keys := range map[projection.Period][]string{
		projection.PeriodDay:   {"2026-10-31", "2026-11-01", "2026-12-31", "2027-01-01"},
		projection.PeriodWeek:  {"2026-W44", "2026-W45", "2026-W53", "2027-W01"},
		projection.PeriodMonth: {"2026-10", "2026-11", "2026-12", "2027-01"},
	} {
		var have []string
		for _, w := range wantBuckets(log, c, p) {
			have = append(have, w.b.Key)
		}
		for _, k := range keys {
			if !slices.Contains(have, k) {
				t.Fatalf("the suite's log has %s buckets %v, none %s", p, have, k)
			}
		}
	}

	t.Run("Once", func(t *testing.T) {
		ctx := caseContext(t)
		s := newStore(t)
		apply(ctx, t, s, log)
		checkAllBuckets(ctx, t, s, c, log)
		checkRules(ctx, t, s, c, log)
	})
	t.Run("ReplayedBatches", func(t *testing.T) {
		ctx := caseContext(t)
		s := newStore(t)
		var batches [][]projection.Change
		for next := 0; next < len(log); {
			from := max(0, next-rng.IntN(5)) // redeliver up to 4 applied events
			to := min(len(log), next+1+rng.IntN(6))
			batches = append(batches, log[from:to])
			if rng.IntN(3) == 0 { // a restarted consumer replays an older window
				a := rng.IntN(to)
				batches = append(batches, log[a:a+1+rng.IntN(to-a)])
			}
			next = to
		}
		for _, b := range batches {
			apply(ctx, t, s, b)
		}
		first := checkAllBuckets(ctx, t, s, c, log)
		for _, b := range batches { // the same batches again count nothing
			apply(ctx, t, s, b)
		}
		again := checkAllBuckets(ctx, t, s, c, log)
		if !reflect.DeepEqual(first, again) {
			t.Errorf("buckets changed when the batches were applied again:\n%+v\n%+v", first, again)
		}
		checkRules(ctx, t, s, c, log)
	})
	t.Run("Ranges", func(t *testing.T) {
		ctx := caseContext(t)
		s := newStore(t)
		apply(ctx, t, s, log)
		day := projection.PeriodDay
		all := wantBuckets(log, c, day)
		pick := func(keys ...string) []wantBucket {
			var out []wantBucket
			for _, w := range all {
				if slices.Contains(keys, w.b.Key) {
					out = append(out, w)
				}
			}
			return out
		}
		dec31 := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
		jan1, jan2 := dec31.AddDate(0, 0, 1), dec31.AddDate(0, 0, 2)
		checkBuckets(ctx, t, s, c, day, dec31, jan2, pick("2026-12-31", "2027-01-01"))
		// [from, to) is exact to the nanosecond.
		checkBuckets(ctx, t, s, c, day, dec31.Add(time.Nanosecond), jan1.Add(time.Nanosecond), pick("2027-01-01"))
		checkBuckets(ctx, t, s, c, day, dec31, dec31, nil)
		checkBuckets(ctx, t, s, c, projection.PeriodWeek, time.Date(2026, 12, 28, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC),
			slices.DeleteFunc(wantBuckets(log, c, projection.PeriodWeek), func(w wantBucket) bool { return w.b.Key != "2026-W53" && w.b.Key != "2027-W01" }))
		// Another collection, tenant or period name sees nothing.
		other := c
		other.Scope = "globex"
		checkBuckets(ctx, t, s, c, day, time.Time{}, farFuture, all)
		checkBuckets(ctx, t, s, other, day, time.Time{}, farFuture, nil)
		if _, err := s.CounterBuckets(ctx, c, "hour", time.Time{}, farFuture); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("CounterBuckets(period hour) = %v, want an error matching events.ErrInvalid", err)
		}
	})
	t.Run("Prune", func(t *testing.T) {
		ctx := caseContext(t)
		s := newStore(t)
		// A second collection in the same analytics database keeps its
		// buckets while c's are pruned.
		in := newIngest(t)
		in.clock = time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC)
		keep := c
		keep.Name = "bucketkeep"
		in.create(keep.Item("k1"), `{"status":"new","n":1}`, write{actor: alice})
		in.update(keep.Item("k1"), `{"status":"open","n":2}`, write{actor: alice})
		keepLog := in.log(events.Partition(keep, partitions))
		apply(ctx, t, s, keepLog)
		apply(ctx, t, s, log)

		cutoff := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, p := range []projection.Period{projection.PeriodDay, projection.PeriodWeek} {
			all := wantBuckets(log, c, p)
			kept := slices.DeleteFunc(slices.Clone(all), func(w wantBucket) bool { return w.b.Start.Before(cutoff) })
			n, err := s.PruneCounterBuckets(ctx, c, p, cutoff)
			if err != nil || n != len(all)-len(kept) {
				t.Errorf("PruneCounterBuckets(%s, before %s) = %d, %v; want %d", p, cutoff.Format(time.DateOnly), n, err, len(all)-len(kept))
			}
			checkBuckets(ctx, t, s, c, p, time.Time{}, farFuture, kept)
			if n, err := s.PruneCounterBuckets(ctx, c, p, cutoff); err != nil || n != 0 {
				t.Errorf("PruneCounterBuckets(%s) again = %d, %v; want 0", p, n, err)
			}
		}
		if got := bucketKeys(checkBuckets(ctx, t, s, c, projection.PeriodWeek, time.Time{}, farFuture,
			slices.DeleteFunc(wantBuckets(log, c, projection.PeriodWeek), func(w wantBucket) bool { return w.b.Start.Before(cutoff) }))); slices.Contains(got, "2026-W53") {
			t.Errorf("week 2026-W53 started on 28 December, before the cutoff: it must be pruned (%v)", got)
		}
		checkBuckets(ctx, t, s, c, projection.PeriodMonth, time.Time{}, farFuture, wantBuckets(log, c, projection.PeriodMonth))
		checkAllBuckets(ctx, t, s, keep, keepLog)
		// The totals, distinct counts included, are not pruned.
		checkRules(ctx, t, s, c, log)
		checkCounters(ctx, t, s, keep, countersOf(keepLog, keep))
		// Distinct values go with their buckets: replayed after a prune
		// (as a rebuild would), a bucket counts again from nothing, and
		// its distinct counts are those of the replayed events only.
		if _, err := s.PruneCounterBuckets(ctx, c, projection.PeriodMonth, farFuture); err != nil {
			t.Fatal(err)
		}
		checkBuckets(ctx, t, s, c, projection.PeriodMonth, time.Time{}, farFuture, nil)
		tail := log[len(log)-5:]
		apply(ctx, t, s, tail)
		checkBuckets(ctx, t, s, c, projection.PeriodMonth, time.Time{}, farFuture, wantBuckets(tail, c, projection.PeriodMonth))
		checkBuckets(ctx, t, s, c, projection.PeriodDay, time.Time{}, farFuture,
			slices.DeleteFunc(wantBuckets(log, c, projection.PeriodDay), func(w wantBucket) bool { return w.b.Start.Before(cutoff) }))
		checkRules(ctx, t, s, c, log)
	})
	t.Run("Janitor", func(t *testing.T) {
		ctx := caseContext(t)
		s := newStore(t)
		apply(ctx, t, s, log)
		p, ok := s.(projection.Pruner)
		if !ok {
			t.Fatalf("%T does not implement projection.Pruner; the retention janitor needs it", s)
		}
		// Tuesday 2027-01-05: 2 days keeps 4 and 5 January, 1 week keeps
		// 2027-W01, 2 months keep December and January.
		now := time.Date(2027, 1, 5, 15, 4, 5, 0, time.UTC)
		cutoffs := map[projection.Period]time.Time{
			projection.PeriodDay:   time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC),
			projection.PeriodWeek:  time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC),
			projection.PeriodMonth: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		}
		kept := map[projection.Period][]wantBucket{}
		deleted := 0
		for per, cut := range cutoffs {
			all := wantBuckets(log, c, per)
			kept[per] = slices.DeleteFunc(all, func(w wantBucket) bool { return w.b.Start.Before(cut) })
			deleted += len(wantBuckets(log, c, per)) - len(kept[per])
		}
		j := projection.NewJanitor(p, projection.JanitorOptions{
			Counters:    projection.CounterRetention{Days: 2, Weeks: 1, Months: 2},
			Collections: func(context.Context) ([]events.Collection, error) { return []events.Collection{c}, nil },
			DeleteBlobs: func(context.Context, events.ItemRef, uint64) error {
				return errors.New("no version retention: no blob is deleted")
			},
			Now: func() time.Time { return now },
		})
		st, err := j.Pass(ctx)
		if err != nil || st.Buckets != deleted || st.Versions != 0 {
			t.Fatalf("janitor pass: %+v, %v; want %d buckets and no version deleted", st, err, deleted)
		}
		for _, per := range projection.Periods {
			checkBuckets(ctx, t, s, c, per, time.Time{}, farFuture, kept[per])
		}
		if st, err := j.Pass(ctx); err != nil || st.Buckets != 0 {
			t.Errorf("second janitor pass: %+v, %v; want nothing deleted", st, err)
		}
		checkRules(ctx, t, s, c, log)
		hist, err := s.History(ctx, log[0].Ref, projection.HistoryQuery{Limit: 100})
		if err != nil || len(hist) == 0 {
			t.Errorf("History(%s) after the pass: %d versions, %v; counter retention keeps versions", log[0].Ref.ID, len(hist), err)
		}
	})
}
