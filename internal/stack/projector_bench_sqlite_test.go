package stack_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/chronos-go/chronos/internal/wiring"
	"github.com/chronos-go/chronos/projection"
	"github.com/chronos-go/chronos/projection/sqlitestore"
)

// BenchmarkProjectorThroughputSQLite is BenchmarkProjectorThroughput's
// projector and rebuild on the embedded read model (chronos dev's
// default): the same backlog of b.N events, projected into generation
// 1's file, then rebuilt (a second generation's consumer, counter rules
// with distinct counts on) into generation 2's file, as `chronos rebuild
// start` does in chronos dev. There is no raw-writer comparison here.
// `-bench ProjectorThroughput` runs it next to the MongoDB one; alone,
// with enough events that the progress poll (200 ms) does not dominate:
//
//	go test ./internal/stack -run '^$' -bench ProjectorThroughputSQLite -benchtime 20000x -v
func BenchmarkProjectorThroughputSQLite(bench *testing.B) {
	t := bench
	ctx := context.Background()
	l, prog, items := projectorBacklog(t, bench.N)
	evts := items * 5
	dir := t.TempDir()
	run := func(name, durable string, gen int, rules bool) float64 {
		var opts sqlitestore.Options
		if rules {
			var err error
			if opts.CounterRules, err = projection.CompileRules(faultRules); err != nil {
				t.Fatal(err)
			}
		}
		st, err := sqlitestore.Open(ctx, wiring.SQLiteFile(filepath.Join(dir, "sqlite"), gen), opts)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close(ctx)
		pctx, stop := context.WithCancel(ctx)
		began := time.Now()
		done := make(chan error, 1)
		go func() {
			done <- projection.NewProjector(l, st, projection.ProjectorOptions{Durable: durable}).Run(pctx)
		}()
		waitProjected(t, l, prog, durable, 10*time.Minute)
		el := time.Since(began)
		stop()
		<-done
		c, err := st.Counters(ctx, faultColl)
		if err != nil || c.Created != int64(items) || c.Updated != int64(evts-items) {
			t.Fatalf("%s: counters %+v, %v; want %d created, %d updated", name, c, err, items, evts-items)
		}
		rate := float64(evts) / el.Seconds()
		t.Logf("%s: %d events in %v: %.0f events/s", name, evts, el.Round(time.Millisecond), rate)
		return rate
	}
	proj := run("projector (generation 1)", "bench_a", 1, false)
	rebuild := run("rebuild (generation 2, counter rules on)", "bench_g2", 2, true)
	bench.ReportMetric(proj, "events/s")
	bench.ReportMetric(rebuild, "rebuild-events/s")
	bench.ReportMetric(0, "ns/op")
}
