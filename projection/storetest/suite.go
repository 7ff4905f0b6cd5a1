package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// InlineLimiter states a store's inline limit: it keeps a payload inline in
// the head (Doc.Data) when it is at most InlineLimit() bytes of the
// event's JSON, and leaves larger ones out (Data nil, Size and SHA256 set).
// Every store under the suite implements it (a wrapper states its
// stores' limit); the large-payload case fails without it.
type InlineLimiter interface {
	InlineLimit() int
}

// caseTimeout bounds each case: the embedded test servers are slow, not
// that slow.
const caseTimeout = 3 * time.Minute

// Run is the conformance suite of projection.Store. newStore returns a new,
// empty store for each case (and closes it at the test's cleanup if it
// needs closing), configured with the counter rules CounterRules returns.
// Every case is a subtest; the concurrent case expects to run under -race.
func Run(t *testing.T, newStore func(t *testing.T) projection.Store) {
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, newStore(t)) })
	t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, newStore) })
	t.Run("HeadOnlyMovesForward", func(t *testing.T) { testHeadOnlyMovesForward(t, newStore(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore(t)) })
	t.Run("LargePayloadNotInline", func(t *testing.T) { testLargePayload(t, newStore(t)) })
	t.Run("Isolation", func(t *testing.T) { testIsolation(t, newStore(t)) })
	t.Run("ClaimCheck", func(t *testing.T) { testClaimCheck(t, newStore(t)) })
	t.Run("ConcurrentPartitions", func(t *testing.T) { testConcurrentPartitions(t, newStore(t)) })
	t.Run("CounterRules", func(t *testing.T) { testCounterRules(t, newStore) })
	t.Run("Retention", func(t *testing.T) { testRetention(t, newStore(t)) })
	t.Run("CounterBuckets", func(t *testing.T) { testCounterBuckets(t, newStore) })
	runList(t, newStore)
}

func caseContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), caseTimeout)
	t.Cleanup(cancel)
	return ctx
}

// inlineLimit returns the store's inline limit, -1 if it does not say.
func inlineLimit(s projection.Store) int {
	if l, ok := s.(InlineLimiter); ok {
		return l.InlineLimit()
	}
	return -1
}

func apply(ctx context.Context, t testing.TB, s projection.Store, batch []projection.Change) {
	t.Helper()
	if err := s.Apply(ctx, batch); err != nil {
		first, last := batch[0].Seq, batch[len(batch)-1].Seq
		t.Fatalf("Apply(seq %d..%d): %v", first, last, err)
	}
}

var orders = events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "orders"}

// testLifecycle follows one item through create, update, enrich, delete
// and restore, checking every read after every step.
func testLifecycle(t *testing.T, s projection.Store) {
	ctx := caseContext(t)
	limit := inlineLimit(s)
	in := newIngest(t)
	in.gap = 300 * time.Microsecond // several versions share a millisecond
	ref := orders.Item("order-1")
	lineage := &events.Lineage{ParentID: "cart-9", ParentCollection: "carts", OriginID: "cart-9", OriginCollection: "shop:carts"}

	var steps []projection.Change
	step := func(ch projection.Change) {
		t.Helper()
		apply(ctx, t, s, []projection.Change{ch})
		steps = append(steps, ch)
		got, err := s.Head(ctx, ref)
		checkDoc(t, fmt.Sprintf("after %s: Head", ch.Event.Op), got, err, expect(ch, true, limit))
		for _, prev := range steps {
			got, err := s.Version(ctx, ref, prev.Event.OV)
			checkDoc(t, fmt.Sprintf("after %s: Version(%d)", ch.Event.Op, prev.Event.OV), got, err, expect(prev, false, limit))
		}
	}
	step(in.create(ref, `{"status":"new","total":12.5,"n":1,"items":[{"sku":"a-1","qty":2}],`+
		`"note":"h\u00e9llo \"quoted\" \\ ✓","zip":null,"paid":false,"big":9007199254740993,"tiny":1e-7}`,
		write{actor: alice, reason: "checkout", lineage: lineage}))
	step(in.update(ref, `{"status":"paid","total":12.5,"n":2,"items":[{"sku":"a-1","qty":2}],"paid":true}`,
		write{actor: bob, reason: "payment"}))
	step(in.enrich(ref, `{"status":"paid","total":12.5,"n":2,"items":[{"sku":"a-1","qty":2}],"paid":true,"risk":{"score":0.25}}`,
		"enricher@v1", write{actor: bot}))
	step(in.delete(ref, write{actor: alice, reason: "cancelled"}))
	step(in.restore(ref, 1, write{actor: bob, reason: "undo"}))

	// The carried-forward and derived fields, spelled out.
	head, err := s.Head(ctx, ref)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	sys := head.System
	if !sys.InsertedAt.Equal(steps[0].Event.At) || !sys.UpdatedAt.Equal(steps[4].Event.At) {
		t.Errorf("head insertedAt %v updatedAt %v, want the create's and the restore's times", sys.InsertedAt, sys.UpdatedAt)
	}
	if sys.Deleted || sys.DeletedAt != nil || sys.RestoredFrom == nil || *sys.RestoredFrom != 1 {
		t.Errorf("restored head: deleted %v deletedAt %v restoredFrom %v, want false, nil, 1", sys.Deleted, sys.DeletedAt, deref(sys.RestoredFrom))
	}
	if !actorEqual(sys.Creator, alice) || !actorEqual(sys.Updater, bob) || !slices.Equal(sys.FunctionIDs, []string{"enricher@v1"}) {
		t.Errorf("restored head: creator %s updater %s functionIds %v, want Alice, Bob, [enricher@v1]",
			showActor(sys.Creator), showActor(sys.Updater), sys.FunctionIDs)
	}
	if deleted, err := s.Version(ctx, ref, 3); err == nil && (!deleted.System.Deleted || deleted.System.DeletedAt == nil ||
		!deleted.System.DeletedAt.Equal(steps[3].Event.At)) {
		t.Errorf("version 3: deleted %v deletedAt %v, want true at %v", deleted.System.Deleted, deleted.System.DeletedAt, steps[3].Event.At)
	}

	// AsOf: at each event's time, between events, before and after. The
	// events are 300µs apart: exact times matter.
	for _, ch := range steps {
		at := ch.Event.At
		got, err := s.AsOf(ctx, ref, at)
		checkDoc(t, fmt.Sprintf("AsOf(ov %d's time)", ch.Event.OV), got, err, expect(ch, false, limit))
		got, err = s.AsOf(ctx, ref, at.Add(in.gap/2))
		checkDoc(t, fmt.Sprintf("AsOf(ov %d's time + %s)", ch.Event.OV, in.gap/2), got, err, expect(ch, false, limit))
		if ch.Event.OV > 0 {
			got, err = s.AsOf(ctx, ref, at.Add(-time.Nanosecond))
			checkDoc(t, fmt.Sprintf("AsOf(ov %d's time - 1ns)", ch.Event.OV), got, err, expect(steps[ch.Event.OV-1], false, limit))
		}
	}
	got, err := s.AsOf(ctx, ref, steps[0].Event.At.Add(-time.Nanosecond))
	checkNotFound(t, "AsOf(1ns before the create)", got, err)
	got, err = s.AsOf(ctx, ref, steps[4].Event.At.Add(time.Hour))
	checkDoc(t, "AsOf(an hour after the last event)", got, err, expect(steps[4], false, limit))

	// History pages.
	checkHistory(ctx, t, s, ref, projection.HistoryQuery{}, steps)
	var after *uint64
	for page := 0; page < 3; page++ {
		q := projection.HistoryQuery{AfterOV: after, Limit: 2}
		want := steps[page*2 : min(page*2+2, len(steps))]
		checkHistory(ctx, t, s, ref, q, want)
		ov := want[len(want)-1].Event.OV
		after = &ov
	}
	checkHistory(ctx, t, s, ref, projection.HistoryQuery{AfterOV: after, Limit: 2}, nil)

	checkCounters(ctx, t, s, orders, projection.Counters{
		Created: 1, Updated: 3, Deleted: 1, LastSeq: steps[4].Seq, LastAt: steps[4].Event.At,
	})
}

func checkHistory(ctx context.Context, t testing.TB, s projection.Store, ref events.ItemRef, q projection.HistoryQuery, want []projection.Change) {
	t.Helper()
	what := fmt.Sprintf("History(%s, after %v, limit %d)", ref.ID, deref(q.AfterOV), q.Limit)
	got, err := s.History(ctx, ref, q)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if len(got) != len(want) {
		ovs := make([]uint64, len(got))
		for i, d := range got {
			ovs[i] = d.System.OV
		}
		t.Errorf("%s: ovs %v, want %d versions from ov %v", what, ovs, len(want), firstOV(want))
		return
	}
	for i := range got {
		checkDoc(t, fmt.Sprintf("%s[%d]", what, i), &got[i], nil, expect(want[i], false, -1))
	}
}

func firstOV(chs []projection.Change) any {
	if len(chs) == 0 {
		return "-"
	}
	return chs[0].Event.OV
}

// checkLog checks everything a store must hold after applying log: every
// item's head, each of its versions, its whole history, and the counters of
// every collection.
func checkLog(ctx context.Context, t testing.TB, s projection.Store, log []projection.Change, limit int) {
	t.Helper()
	byItem := make(map[events.ItemRef][]projection.Change)
	var items []events.ItemRef
	var colls []events.Collection
	for _, ch := range log {
		if _, ok := byItem[ch.Ref]; !ok {
			items = append(items, ch.Ref)
			if !slices.Contains(colls, ch.Ref.Collection) {
				colls = append(colls, ch.Ref.Collection)
			}
		}
		if !slices.ContainsFunc(byItem[ch.Ref], func(c projection.Change) bool { return c.Seq == ch.Seq }) {
			byItem[ch.Ref] = append(byItem[ch.Ref], ch)
		}
	}
	for _, ref := range items {
		chs := byItem[ref]
		slices.SortFunc(chs, func(a, b projection.Change) int { return int(a.Event.OV) - int(b.Event.OV) })
		got, err := s.Head(ctx, ref)
		checkDoc(t, "Head("+ref.String()+")", got, err, expect(chs[len(chs)-1], true, limit))
		for _, ch := range chs {
			got, err := s.Version(ctx, ref, ch.Event.OV)
			checkDoc(t, fmt.Sprintf("Version(%s, %d)", ref, ch.Event.OV), got, err, expect(ch, false, limit))
		}
		checkHistory(ctx, t, s, ref, projection.HistoryQuery{}, chs)
	}
	for _, c := range colls {
		checkCounters(ctx, t, s, c, countersOf(log, c))
	}
}

// idempotencyLog writes a log of one partition over three collections
// (two of one tenant, one of another) with every kind of event.
func idempotencyLog(t testing.TB) []projection.Change {
	part := events.Partition(orders, partitions)
	a := orders
	b := inPartition(t, events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "invoices"}, part)
	c := inPartition(t, events.Collection{DBType: events.DBMetadata, Tier: events.TierTenant, Scope: "globex", Name: "orders"}, part)
	in := newIngest(t)
	w := write{actor: alice}
	a1, a2, a3 := a.Item("a1"), a.Item("a2"), a.Item("a3")
	b1, b2, c1 := b.Item("b1"), b.Item("b2"), c.Item("c1")
	in.create(a1, `{"status":"new","n":1}`, w)
	in.create(b1, `{"status":"draft","n":10}`, w)
	in.create(a2, `{"status":"new","n":2,"tags":["x"]}`, w)
	in.update(a1, `{"status":"open","n":1}`, write{actor: bob, reason: "edit"})
	in.create(c1, `{"status":"new","nested":{"deep":{"er":[1,2,{"x":true}]}}}`, w)
	in.update(b1, `{"status":"sent","n":10}`, w)
	in.enrich(a1, `{"status":"open","n":1,"score":3}`, "scorer@v1", write{actor: bot})
	in.update(a2, `{"status":"open","n":2,"tags":["x","y"]}`, w)
	in.create(b2, `{"status":"draft","n":20}`, w)
	in.delete(a1, write{actor: bob, reason: "spam"})
	in.update(c1, `{"status":"done"}`, w)
	in.update(b1, `{"status":"paid","n":10}`, w)
	in.restore(a1, 1, write{actor: alice, reason: "not spam"})
	in.delete(b2, w)
	in.create(a3, `{"status":"new","n":3}`, w)
	in.erase(a3, write{actor: alice, reason: "gdpr"})
	in.update(a2, `{"status":"closed","n":2}`, w)
	in.enrich(c1, `{"status":"done","label":"ok"}`, "labeler@v2", write{actor: bot})
	return in.log(part)
}

// testIdempotency applies one log in four ways, each on a new store; all
// must end in the state the log describes.
func testIdempotency(t *testing.T, newStore func(t *testing.T) projection.Store) {
	log := idempotencyLog(t)
	n := len(log)
	run := func(name string, feed func(ctx context.Context, t *testing.T, s projection.Store)) {
		t.Run(name, func(t *testing.T) {
			ctx := caseContext(t)
			s := newStore(t)
			feed(ctx, t, s)
			checkLog(ctx, t, s, log, inlineLimit(s))
		})
	}
	run("Once", func(ctx context.Context, t *testing.T, s projection.Store) {
		apply(ctx, t, s, log)
	})
	run("Twice", func(ctx context.Context, t *testing.T, s projection.Store) {
		apply(ctx, t, s, log)
		apply(ctx, t, s, log)
	})
	run("EveryPrefixThenAll", func(ctx context.Context, t *testing.T, s projection.Store) {
		for i := 1; i <= n; i++ {
			apply(ctx, t, s, log[:i])
		}
		apply(ctx, t, s, log)
	})
	run("RandomBatchesWithRedelivery", func(ctx context.Context, t *testing.T, s projection.Store) {
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, seed>>1))
		for next := 0; next < n; {
			from := max(0, next-rng.IntN(4)) // redeliver up to 3 applied events
			to := min(n, next+1+rng.IntN(4))
			apply(ctx, t, s, log[from:to])
			if rng.IntN(4) == 0 { // a restarted consumer replays an older window
				a := rng.IntN(to)
				apply(ctx, t, s, log[a:a+1+rng.IntN(to-a)])
			}
			next = to
		}
	})
}

// testHeadOnlyMovesForward applies older events after newer ones.
func testHeadOnlyMovesForward(t *testing.T, s projection.Store) {
	ctx := caseContext(t)
	limit := inlineLimit(s)
	in := newIngest(t)
	ref := orders.Item("x")
	c0 := in.create(ref, `{"status":"new","n":0}`, write{actor: alice})
	c1 := in.update(ref, `{"status":"open","n":1}`, write{actor: alice})
	c2 := in.update(ref, `{"status":"done","n":2}`, write{actor: bob})
	apply(ctx, t, s, []projection.Change{c0, c1, c2})
	apply(ctx, t, s, []projection.Change{c1})
	got, err := s.Head(ctx, ref)
	checkDoc(t, "Head after redelivering ov 1", got, err, expect(c2, true, limit))
	apply(ctx, t, s, []projection.Change{c0})
	apply(ctx, t, s, []projection.Change{c0, c1})
	got, err = s.Head(ctx, ref)
	checkDoc(t, "Head after redelivering ov 0 and 1", got, err, expect(c2, true, limit))
	checkLog(ctx, t, s, []projection.Change{c0, c1, c2}, limit)
}

func testNotFound(t *testing.T, s projection.Store) {
	ctx := caseContext(t)
	in := newIngest(t)
	known := orders.Item("known")
	apply(ctx, t, s, []projection.Change{in.create(known, `{"status":"new"}`, write{actor: alice})})

	nowhere := events.Collection{DBType: events.DBLogs, Tier: events.TierTenant, Scope: "nobody", Name: "nothing"}
	for _, ref := range []events.ItemRef{nowhere.Item("unknown"), known.Collection.Item("known-not")} {
		got, err := s.Head(ctx, ref)
		checkNotFound(t, "Head(unknown item)", got, err)
		got, err = s.Version(ctx, ref, 0)
		checkNotFound(t, "Version(unknown item, 0)", got, err)
		got, err = s.AsOf(ctx, ref, start.Add(time.Hour))
		checkNotFound(t, "AsOf(unknown item)", got, err)
		hist, err := s.History(ctx, ref, projection.HistoryQuery{})
		if err != nil || len(hist) != 0 {
			t.Errorf("History(unknown item) = %d versions, %v; want an empty page", len(hist), err)
		}
	}
	got, err := s.Version(ctx, known, 1)
	checkNotFound(t, "Version(known item, unknown ov)", got, err)
	if _, err := s.History(ctx, known, projection.HistoryQuery{Limit: -1}); !errors.Is(err, events.ErrInvalid) {
		t.Errorf("History(limit -1) = %v, want an error matching events.ErrInvalid", err)
	}

	other := orders
	other.Name = "never_written"
	checkCounters(ctx, t, s, other, projection.Counters{})
	tenant := orders
	tenant.Scope = "nobody"
	checkCounters(ctx, t, s, tenant, projection.Counters{})
}

// testLargePayload writes one payload at the store's inline limit and one
// a byte over it.
func testLargePayload(t *testing.T, s projection.Store) {
	limit := inlineLimit(s)
	if limit < 0 {
		t.Fatalf("%T does not implement storetest.InlineLimiter: the suite cannot check its inline limit", s)
	}
	ctx := caseContext(t)
	in := newIngest(t)
	sized := func(n int) string {
		const head, tail = `{"status":"big","blob":"`, `"}`
		return head + strings.Repeat("x", max(n-len(head)-len(tail), 0)) + tail
	}
	var log []projection.Change
	if len(sized(limit)) == limit {
		log = append(log, in.create(orders.Item("at-limit"), sized(limit), write{actor: alice}))
	}
	over := in.create(orders.Item("over-limit"), sized(limit+1), write{actor: alice})
	log = append(log, over)
	apply(ctx, t, s, log)
	checkLog(ctx, t, s, log, limit)
	if got, err := s.Head(ctx, over.Ref); err == nil && (got.Data != nil || got.System.Size != int64(limit+1) || got.System.SHA256 == "") {
		t.Errorf("Head(over the limit): Data %d bytes, Size %d, SHA256 %q; want no Data, Size %d and a SHA256",
			len(got.Data), got.System.Size, got.System.SHA256, limit+1)
	}
}

// testIsolation writes the same item id into collections, tenants, domains,
// tiers and database types that must not see each other.
func testIsolation(t *testing.T, s projection.Store) {
	ctx := caseContext(t)
	limit := inlineLimit(s)
	in := newIngest(t)
	colls := []events.Collection{
		orders,
		{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "invoices"},
		{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "globex", Name: "orders"},
		{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "Acme", Name: "orders"}, // differs only in case
		{DBType: events.DBRuntime, Tier: events.TierDomain, Scope: "acme", Name: "orders"},
		{DBType: events.DBRuntime, Tier: events.TierGeneric, Scope: events.GenericScope, Name: "orders"},
		{DBType: events.DBKnowledge, Tier: events.TierTenant, Scope: "acme", Name: "orders"},
	}
	for i, c := range colls {
		ref := c.Item("x")
		in.create(ref, fmt.Sprintf(`{"status":"new","owner":%q}`, c), write{actor: alice})
		for j := 0; j < i; j++ {
			in.update(ref, fmt.Sprintf(`{"status":"v%d","owner":%q}`, j+1, c), write{actor: bob})
		}
	}
	var all []projection.Change
	for _, p := range in.parts() {
		log := in.log(p)
		apply(ctx, t, s, log)
		all = append(all, log...)
	}
	checkLog(ctx, t, s, all, limit)
	for i, c := range colls {
		if n, err := s.Counters(ctx, c); err == nil && (n.Created != 1 || n.Updated != int64(i)) {
			t.Errorf("Counters(%s) = created %d updated %d, want 1 and %d", c, n.Created, n.Updated, i)
		}
	}
}

// testClaimCheck writes an event whose payload was claim-checked, then a
// normal update.
func testClaimCheck(t *testing.T, s projection.Store) {
	ctx := caseContext(t)
	limit := inlineLimit(s)
	in := newIngest(t)
	ref := orders.Item("claimed")
	c0 := in.create(ref, `{"status":"claimed","n":7,"blob":"pretend this is large"}`, write{actor: alice, claim: true})
	apply(ctx, t, s, []projection.Change{c0})
	got, err := s.Head(ctx, ref)
	checkDoc(t, "Head(claim-checked)", got, err, expect(c0, true, limit))
	if err == nil && (got.Data != nil || got.System.PayloadRef == nil) {
		t.Errorf("Head(claim-checked): Data %s, PayloadRef %v; want no Data and the PayloadRef", got.Data, got.System.PayloadRef)
	}
	c1 := in.update(ref, `{"status":"inline","n":8}`, write{actor: bob})
	apply(ctx, t, s, []projection.Change{c1})
	checkLog(ctx, t, s, []projection.Change{c0, c1}, limit)
}

// testConcurrentPartitions applies two partitions from two goroutines while
// a third reads.
func testConcurrentPartitions(t *testing.T, s projection.Store) {
	ctx := caseContext(t)
	in := newIngest(t)
	c1 := orders
	p1 := events.Partition(c1, partitions)
	c2 := notInPartition(t, events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "globex", Name: "orders"}, p1)
	var refs []events.ItemRef
	for i := range 4 {
		for _, c := range []events.Collection{c1, c2} {
			ref := c.Item(fmt.Sprintf("item-%d", i))
			refs = append(refs, ref)
			in.create(ref, fmt.Sprintf(`{"status":"new","n":%d}`, i), write{actor: alice})
		}
	}
	for round := 1; round <= 2; round++ {
		for _, ref := range refs {
			in.update(ref, fmt.Sprintf(`{"status":"round-%d","n":%d}`, round, round), write{actor: bob})
		}
	}
	logs := [][]projection.Change{in.log(p1), in.log(events.Partition(c2, partitions))}

	errs := make(chan error, 64)
	var writers, reader sync.WaitGroup
	done := make(chan struct{})
	for _, log := range logs {
		writers.Go(func() {
			for i := 0; i < len(log); i += 3 {
				if err := s.Apply(ctx, log[i:min(i+3, len(log))]); err != nil {
					errs <- fmt.Errorf("Apply(partition %d, seq %d): %w", log[i].Part, log[i].Seq, err)
					return
				}
			}
		})
	}
	reader.Go(func() {
		for {
			for _, ref := range refs {
				select {
				case <-done:
					return
				default:
				}
				if _, err := s.Head(ctx, ref); err != nil && !errors.Is(err, projection.ErrNotFound) {
					errs <- fmt.Errorf("Head(%s) during writes: %w", ref, err)
					return
				}
				if _, err := s.History(ctx, ref, projection.HistoryQuery{}); err != nil {
					errs <- fmt.Errorf("History(%s) during writes: %w", ref, err)
					return
				}
				if _, err := s.Counters(ctx, ref.Collection); err != nil {
					errs <- fmt.Errorf("Counters(%s) during writes: %w", ref.Collection, err)
					return
				}
			}
		}
	})
	writers.Wait()
	close(done)
	reader.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checkLog(ctx, t, s, append(logs[0], logs[1]...), inlineLimit(s))
}
