package stack_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	// The embedded read model's driver, to read its files directly.
	_ "github.com/ncruces/go-sqlite3/driver"
	_ "github.com/ncruces/go-sqlite3/embed"

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
// projection; switch serves it without restart; drop removes the old one,
// and an abandoned building one. On both read models: MongoDB databases,
// SQLite files.
func TestProjectorRebuildIdentical(t *testing.T) { forEachStore(t, testProjectorRebuildIdentical) }

func testProjectorRebuildIdentical(t *testing.T, cfg stack.Config) {
	dir := t.TempDir()
	cfg.DataDir, cfg.Tenancy = dir, rulesConfig(dir)
	s := startStack(t, cfg)
	ctx := context.Background()
	mg := mongoOf(cfg)
	sqliteDir := filepath.Join(dir, "sqlite")
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
	if !strings.Contains(out, "generation 2 is building (consumer projector_g2") || !strings.Contains(out, "read-g2.db") {
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

	var client *mongo.Client
	dropFrom := []string{"--data", dir} // where drop finds the read model
	if mg != nil {
		if client, err = s.Deps.Pool.Mongo(ctx, tenancy.ConnString(mg.URI)); err != nil {
			t.Fatal(err)
		}
		compareGenerations(ctx, t, s, client, orders, 1, 2)
		dropFrom = []string{"--mongo", mg.URI}
	} else {
		compareSQLiteGenerations(ctx, t, s, sqliteDir, orders, 1, 2)
	}
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

	// Drop generation 1: its databases (or file) and consumers go; the
	// active generation cannot be dropped.
	chronosCLI(t, 1, append([]string{"rebuild", "drop", "2", "--nats", s.NATSURL()}, dropFrom...)...)
	if mg == nil {
		// A --data that is not chronos dev's changes nothing.
		chronosCLI(t, 1, "rebuild", "drop", "1", "--nats", s.NATSURL(), "--data", t.TempDir())
		if g, err := reg.Get(ctx); err != nil || len(g.List) != 2 {
			t.Fatalf("generations after a drop with a wrong --data: %+v, %v", g, err)
		}
	}
	out = chronosCLI(t, 0, append([]string{"rebuild", "drop", "1", "--nats", s.NATSURL(), "--grace", "1s"}, dropFrom...)...)
	rt, err := s.Deps.Router.RouteContext(ctx, orders)
	if err != nil {
		t.Fatal(err)
	}
	if mg != nil {
		if !strings.Contains(out, "dropped database "+rt.DBName+"\n") || strings.Contains(out, "dropped database g2_") {
			t.Fatalf("rebuild drop 1:\n%s", out)
		}
		names, err := client.ListDatabaseNames(ctx, bson.D{})
		if err != nil || slices.Contains(names, rt.DBName) || !slices.Contains(names, wiring.GenerationDatabase(rt.DBName, 2)) {
			t.Fatalf("databases after drop: %v, %v", names, err)
		}
	} else {
		if !strings.Contains(out, "deleted file "+wiring.SQLiteFile(sqliteDir, 1)+"\n") || strings.Contains(out, "read-g2.db") {
			t.Fatalf("rebuild drop 1:\n%s", out)
		}
		sqliteFilesLeft(t, sqliteDir, 1, 0)
		sqliteFilesLeft(t, sqliteDir, 2, 1)
	}
	if _, err := s.Log.JetStream().Consumer(ctx, clog.StreamName(s.Log.Partition(orders)), "projector"); err == nil {
		t.Fatal("generation 1's consumer still exists")
	}
	h, err := s.Store.Head(ctx, orders.Item("it-00"))
	if err != nil || h.System.OV != 4 {
		t.Fatalf("head of it-00 after drop: %+v, %v", h, err)
	}

	// An abandoned rebuild (a generation still building) is dropped the
	// same way, while generation 2 keeps serving.
	chronosCLI(t, 0, "rebuild", "start", "--no-wait", "--nats", s.NATSURL())
	waitCaughtUp(t, s.Log, reg, prog, 3)
	out = chronosCLI(t, 0, append([]string{"rebuild", "drop", "3", "--nats", s.NATSURL(), "--grace", "1s"}, dropFrom...)...)
	if !strings.Contains(out, "generation 3 dropped") {
		t.Fatalf("rebuild drop 3:\n%s", out)
	}
	if mg != nil {
		names, err := client.ListDatabaseNames(ctx, bson.D{})
		if err != nil || slices.Contains(names, wiring.GenerationDatabase(rt.DBName, 3)) {
			t.Fatalf("databases after dropping generation 3: %v, %v", names, err)
		}
	} else {
		sqliteFilesLeft(t, sqliteDir, 3, 0)
	}
	if g, err := reg.Get(ctx); err != nil || g.Active != 2 || len(g.List) != 1 {
		t.Fatalf("generations after dropping 3: %+v, %v", g, err)
	}
	if n, _ := sw.Current(); n != 2 {
		t.Fatalf("serving generation %d after dropping 3, want 2", n)
	}
	h, err = s.Store.Head(ctx, orders.Item("it-00"))
	if err != nil || h.System.OV != 4 {
		t.Fatalf("head of it-00 after dropping 3: %+v, %v", h, err)
	}
}

// sqliteFilesLeft checks that generation n's SQLite read model in dir has
// want files left of read[-g<n>].db, -wal and -shm (0: dropped; 1: the
// database itself at least).
func sqliteFilesLeft(t *testing.T, dir string, n, want int) {
	t.Helper()
	var left []string
	for _, f := range wiring.SQLiteGenerationFiles(dir, n) {
		if _, err := os.Stat(f); err == nil {
			left = append(left, f)
		}
	}
	if want == 0 && len(left) != 0 || want > 0 && (len(left) < want || left[0] != wiring.SQLiteFile(dir, n)) {
		t.Fatalf("generation %d's files in %s: %v, want %d", n, dir, left, want)
	}
}

// compareSQLiteGenerations checks that generation b's rows of c in the
// embedded read model equal generation a's, column by column: heads,
// versions, and the counters, rule counters and distinct values of its
// analytics database. Each file numbers its tables in its own catalog, so
// tables are matched by (kind, database, collection).
func compareSQLiteGenerations(ctx context.Context, t *testing.T, s *stack.Stack, dir string, c events.Collection, a, b int) {
	t.Helper()
	rt, err := s.Deps.Router.RouteContext(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	da, db := sqliteRows(ctx, t, wiring.SQLiteFile(dir, a), rt, c), sqliteRows(ctx, t, wiring.SQLiteFile(dir, b), rt, c)
	for _, table := range []string{"head", "ver", "cnt", "rules", "uniq"} {
		x, y := da[table], db[table]
		if len(x) == 0 {
			t.Fatalf("generation %d has no %s rows of %s", a, table, c)
		}
		if !slices.Equal(x, y) {
			for i := range max(len(x), len(y)) {
				var p, q string
				if i < len(x) {
					p = x[i]
				}
				if i < len(y) {
					q = y[i]
				}
				if p != q {
					t.Errorf("%s rows differ at %d:\n gen %d: %s\n gen %d: %s", table, i, a, p, b, q)
					break
				}
			}
			t.Fatalf("%s: generation %d has %d rows, generation %d has %d", table, a, len(x), b, len(y))
		}
	}
}

// sqliteRows reads, from the SQLite read model file path, every row of
// c's head and ver tables and of its analytics database's counter tables,
// each as the JSON array of its columns, sorted.
func sqliteRows(ctx context.Context, t *testing.T, path string, rt tenancy.Route, c events.Collection) map[string][]string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_pragma=query_only(true)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables := map[string]string{}
	rows, err := db.QueryContext(ctx, `SELECT n, kind, db, coll FROM catalog`)
	if err != nil {
		t.Fatalf("%s: catalog: %v", path, err)
	}
	for rows.Next() {
		var n int64
		var kind, dbName, coll string
		if err := rows.Scan(&n, &kind, &dbName, &coll); err != nil {
			t.Fatal(err)
		}
		switch {
		case kind == "t" && dbName == rt.DBName && coll == c.Name:
			tables["head"], tables["ver"] = fmt.Sprintf("t%d_head", n), fmt.Sprintf("t%d_ver", n)
		case kind == "c" && dbName == rt.AnalyticsDBName:
			tables["cnt"], tables["rules"], tables["uniq"] = fmt.Sprintf("c%d_cnt", n), fmt.Sprintf("c%d_rules", n), fmt.Sprintf("c%d_uniq", n)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	out := map[string][]string{}
	for name, table := range tables {
		rows, err := db.QueryContext(ctx, `SELECT * FROM `+table)
		if err != nil {
			t.Fatalf("%s: %s: %v", path, table, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					vals[i] = string(b)
				}
			}
			row, err := json.Marshal(vals)
			if err != nil {
				t.Fatal(err)
			}
			out[name] = append(out[name], string(row))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		slices.Sort(out[name])
	}
	return out
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
