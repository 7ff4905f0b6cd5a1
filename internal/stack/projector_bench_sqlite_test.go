package stack_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/testenv"
	"github.com/chronos-go/chronos/internal/wiring"
	clog "github.com/chronos-go/chronos/log"
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
	t, total := bench, bench.N
	ctx := context.Background()
	n := testenv.StartNATS(t)
	_, js := n.Connect(t)
	if err := clog.EnsureStreams(ctx, js, clog.Config{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	l, err := clog.Open(ctx, js, events.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	prog, err := clog.OpenProgress(ctx, js, 0)
	if err != nil {
		t.Fatal(err)
	}
	svc := ingest.New(l, ingest.Options{})
	items := max(total/5, 1)
	pad := strings.Repeat("x", 200)
	for v := range 5 {
		for i := range items {
			id := fmt.Sprintf("b-%05d", i)
			doc := []byte(fmt.Sprintf(`{"user":"u%d","tier":"gold","n":%d,"v":%d,"pad":%q}`, i%50, i, v, pad))
			if v == 0 {
				_, err = svc.Create(ctx, faultColl, id, doc, ingest.Write{})
			} else {
				_, err = svc.Update(ctx, faultColl.Item(id), doc, ingest.Write{})
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	evts := items * 5
	dir := t.TempDir()
	run := func(name, durable string, gen int, rules bool) float64 {
		var opts sqlitestore.Options
		if rules {
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
