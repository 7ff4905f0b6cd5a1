package stack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/stack"
	"github.com/chronos-go/chronos/internal/wiring"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/projection"
	"github.com/chronos-go/chronos/tenancy"
)

// rulesConfig is the dev config with counter rules (a distinct count
// included), so that rebuilds are compared on rule counters too.
func rulesConfig(dir string) *tenancy.Config {
	cfg := tenancy.DevDefault(dir)
	cfg.CounterRules = tenancy.CounterRules{Rules: []tenancy.CounterRule{
		{Name: "big", Scope: "payload", When: map[string]json.RawMessage{"qty": json.RawMessage(`{"$gte":3}`)}, CountUnique: []string{"sku"}},
		{Name: "gone", On: []string{"DELETE"}, Scope: "payload", When: map[string]json.RawMessage{"sku": json.RawMessage(`{"$in":["a","b"]}`)}},
	}}
	return cfg
}

// writeLife writes creates, updates, enrichments, deletes and restores.
func writeLife(t *testing.T, s *stack.Stack, c events.Collection, items int) {
	t.Helper()
	ctx := context.Background()
	w := ingest.Write{Actor: &events.Actor{Type: "user", Identifier: "u-1", Name: "Ann"}, Reason: "test"}
	skus := []string{"a", "b", "c"}
	for i := range items {
		id := fmt.Sprintf("it-%02d", i)
		ref := c.Item(id)
		doc := func(qty int) []byte {
			return []byte(fmt.Sprintf(`{"sku":%q,"qty":%d,"i":%d}`, skus[i%len(skus)], qty, i))
		}
		must := func(_ ingest.Result, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
		must(s.Ingest.Create(ctx, c, id, doc(i%5), w))
		must(s.Ingest.Update(ctx, ref, doc(i%5+1), w))
		if i%2 == 0 {
			must(s.Ingest.Enrich(ctx, ref, [][]byte{[]byte(`{"score":{"v":0.5}}`)}, "scorer@v1", w))
		}
		if i%3 == 0 {
			must(s.Ingest.Delete(ctx, ref, w))
			if i%2 == 0 {
				ov := uint64(1)
				must(s.Ingest.Restore(ctx, ref, ingest.RestoreTarget{OV: &ov}, w))
			}
		}
	}
}

// rawDocs returns every document of a collection, sorted by _id, as
// canonical extended JSON (field order kept: field by field).
func rawDocs(ctx context.Context, t *testing.T, coll *mongo.Collection) []string {
	t.Helper()
	cur, err := coll.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatalf("find %s: %v", coll.Name(), err)
	}
	var docs []bson.Raw
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatalf("find %s: %v", coll.Name(), err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.String()
	}
	slices.Sort(out)
	return out
}

// compareGenerations checks that generation b's documents of c equal
// generation a's, field by field.
func compareGenerations(ctx context.Context, t *testing.T, s *stack.Stack, client *mongo.Client, c events.Collection, a, b int) {
	t.Helper()
	rt, err := s.Deps.Router.RouteContext(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range []struct{ db, coll string }{
		{rt.DBName, c.Name + "_head"}, {rt.DBName, c.Name + "_ver"},
		{rt.AnalyticsDBName, "cnt_total"}, {rt.AnalyticsDBName, "cnt_unique"},
	} {
		da := rawDocs(ctx, t, client.Database(wiring.GenerationDatabase(pair.db, a)).Collection(pair.coll))
		db := rawDocs(ctx, t, client.Database(wiring.GenerationDatabase(pair.db, b)).Collection(pair.coll))
		if len(da) == 0 {
			t.Fatalf("generation %d has no %s.%s documents", a, pair.db, pair.coll)
		}
		if !slices.Equal(da, db) {
			for i := range max(len(da), len(db)) {
				var x, y string
				if i < len(da) {
					x = da[i]
				}
				if i < len(db) {
					y = db[i]
				}
				if x != y {
					t.Errorf("%s.%s differs at %d:\n gen %d: %s\n gen %d: %s", pair.db, pair.coll, i, a, x, b, y)
					break
				}
			}
			t.Fatalf("%s.%s: generation %d has %d documents, generation %d has %d", pair.db, pair.coll, a, len(da), b, len(db))
		}
	}
}

func waitCaughtUp(t *testing.T, l *clog.Log, reg *projection.GenerationRegistry, prog *clog.Progress, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("generation %d to catch up", n), func() bool {
		g, err := reg.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		gen, ok := g.Get(n)
		if !ok {
			t.Fatalf("no generation %d in %+v", n, g)
		}
		applied, end, err := projection.GenerationPosition(context.Background(), l, prog, gen)
		return err == nil && applied == end
	})
}

// A rebuild of a log with creates, updates, enrichments, deletes and
// restores produces head, ver and counter documents identical to the live
// projection; switch serves it without restart; drop removes the old one.
func TestProjectorRebuildIdentical(t *testing.T) {
	dir := t.TempDir()
	s := startStack(t, stack.Config{DataDir: dir, Tenancy: rulesConfig(dir)})
	ctx := context.Background()
	writeLife(t, s, orders, 12)

	reg, err := projection.OpenGenerations(ctx, s.Log.JetStream(), 0)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := clog.OpenProgress(ctx, s.Log.JetStream(), 0)
	if err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, s.Log, reg, prog, 1)

	out := chronosCLI(t, 0, "rebuild", "start", "--nats", s.NATSURL())
	if !strings.Contains(out, "generation 2 is building (consumer projector_g2") {
		t.Fatalf("rebuild start: %s", out)
	}
	g, err := reg.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gen, ok := g.Building()
	if !ok || gen.N != 2 || gen.Durable != "projector_g2" {
		t.Fatalf("generations after start: %+v", g)
	}
	chronosCLI(t, 1, "rebuild", "start", "--no-wait", "--nats", s.NATSURL()) // one rebuild at a time
	waitCaughtUp(t, s.Log, reg, prog, 2)

	uris := s.Deps.Router.MongoURIs()
	client, err := s.Deps.Pool.Mongo(ctx, uris[0])
	if err != nil {
		t.Fatal(err)
	}
	compareGenerations(ctx, t, s, client, orders, 1, 2)
	cnt1, err := s.Store.Counters(ctx, orders)
	if err != nil || cnt1.Rules["big"].Unique["sku"] == 0 || cnt1.Rules["gone"].Count == 0 {
		t.Fatalf("counters %+v, %v: want rule counts", cnt1, err)
	}

	// Switch: the query service reads generation 2 without a restart, and
	// writes after the switch are projected (read-your-writes included).
	chronosCLI(t, 0, "rebuild", "switch", "--nats", s.NATSURL())
	if out := chronosCLI(t, 0, "rebuild", "status", "--nats", s.NATSURL()); !regexp.MustCompile(`(?m)^2\s+active\s+projector_g2\s+(\d+)\s+(\d+)\s+0\s`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^1\s+retired\s+projector\s`).MatchString(out) {
		t.Fatalf("rebuild status after switch:\n%s", out)
	}
	sw := s.Store.(*projection.SwitchingStore)
	eventually(t, "the stack to serve generation 2", func() bool { n, _ := sw.Current(); return n == 2 })
	res, err := s.Ingest.Create(ctx, orders, "after-switch", []byte(`{"sku":"z","qty":9}`), ingest.Write{})
	if err != nil {
		t.Fatal(err)
	}
	r := mustStatus(t, call(t, "GET", fmt.Sprintf("%s%s/items/after-switch?minSeq=%d", s.URL(), ordersPath, res.Seq), ""), 200)
	if !bytes.Contains(r.Body, []byte(`"z"`)) {
		t.Fatalf("after switch: %s", r.Body)
	}
	cnt2, err := s.Store.Counters(ctx, orders)
	if err != nil || cnt2.Created != cnt1.Created+1 || cnt2.Rules["big"].Unique["sku"] != cnt1.Rules["big"].Unique["sku"]+1 {
		t.Fatalf("counters of generation 2 after a create: %+v, %v; before %+v", cnt2, err, cnt1)
	}

	// Drop generation 1: its databases and consumers go; the active
	// generation cannot be dropped.
	mongoURI := uris[0].Reveal()
	chronosCLI(t, 1, "rebuild", "drop", "2", "--nats", s.NATSURL(), "--mongo", mongoURI)
	out = chronosCLI(t, 0, "rebuild", "drop", "1", "--nats", s.NATSURL(), "--mongo", mongoURI, "--grace", "1s")
	rt, err := s.Deps.Router.RouteContext(ctx, orders)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "dropped database "+rt.DBName+"\n") || strings.Contains(out, "dropped database g2_") {
		t.Fatalf("rebuild drop 1:\n%s", out)
	}
	names, err := client.ListDatabaseNames(ctx, bson.D{})
	if err != nil || slices.Contains(names, rt.DBName) || !slices.Contains(names, wiring.GenerationDatabase(rt.DBName, 2)) {
		t.Fatalf("databases after drop: %v, %v", names, err)
	}
	if _, err := s.Log.JetStream().Consumer(ctx, clog.StreamName(s.Log.Partition(orders)), "projector"); err == nil {
		t.Fatal("generation 1's consumer still exists")
	}
	h, err := s.Store.Head(ctx, orders.Item("it-00"))
	if err != nil || h.System.OV != 4 {
		t.Fatalf("head of it-00 after drop: %+v, %v", h, err)
	}
}

// chronosCLI runs the chronos binary with args and checks its exit code.
func chronosCLI(t *testing.T, wantCode int, args ...string) string {
	t.Helper()
	bin, err := devBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != wantCode {
		t.Fatalf("chronos %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out.String(), errOut.String())
	}
	return out.String()
}
