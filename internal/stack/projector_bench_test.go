package stack_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/testenv"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/projection"
	"github.com/chronos-go/chronos/projection/mongostore"
)

// BenchmarkProjectorThroughput measures the projector over b.N events
// against a raw bulkWrite of the same head and ver documents to the same
// server in the same run, and a rebuild (a second generation over the same
// log); the figures docs/benchmarks.md reports:
//
//	go test ./internal/stack -run '^$' -bench ProjectorThroughput -benchtime 2000x
func BenchmarkProjectorThroughput(bench *testing.B) {
	t := bench
	ctx := context.Background()
	m := testenv.StartMongo(t)
	l, prog, items := projectorBacklog(t, bench.N)
	events := items * 5
	run := func(name, durable, prefix string, rules bool) float64 {
		client, err := mongo.Connect(ctx, options.Client().ApplyURI(m.URI))
		if err != nil {
			t.Fatal(err)
		}
		opts := mongostore.Options{DatabasePrefix: strings.TrimSuffix(m.Prefix, "_") + prefix, Owner: true}
		if rules {
			opts.CounterRules, _ = projection.CompileRules(faultRules)
		}
		st, err := mongostore.New(ctx, client, opts)
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
		rate := float64(events) / el.Seconds()
		t.Logf("%s: %d events in %v: %.0f events/s (chunk %d)", name, events, el.Round(time.Millisecond), rate, st.ChunkSize())
		return rate
	}
	proj := run("projector", "bench_a", "a", false)
	rebuild := run("rebuild (generation 2, counter rules on)", "bench_g2", "g2", true)

	// Raw: the same ver and head documents, read back from the projector's
	// databases, in batches of the projector's 256 events: versions
	// inserted, then each item's head of the batch upserted by _id, in bulks
	// of the store's chunk size. No reads, no conditions, no counters.
	dbName := strings.TrimSuffix(m.Prefix, "_") + "a_runtime_tenant_acme"
	src := m.Client.Database(dbName)
	dst := m.Client.Database(strings.TrimSuffix(m.Prefix, "_") + "raw_runtime_tenant_acme")
	read := func(coll string) []bson.Raw {
		cur, err := src.Collection(coll).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			t.Fatal(err)
		}
		var out []bson.Raw
		if err := cur.All(ctx, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	vers, heads := read(faultColl.Name+"_ver"), read(faultColl.Name+"_head")
	if len(vers) != events || len(heads) != items {
		t.Fatalf("projected %d versions and %d heads, want %d and %d", len(vers), len(heads), events, items)
	}
	chunk := 500
	if strings.Contains(m.URI, "127.0.0.1") && os.Getenv("CHRONOS_TEST_MONGO_URI") == "" {
		chunk = mongostore.FerretDBChunkSize
	}
	bulk := func(coll *mongo.Collection, docs []bson.Raw, insert bool) {
		for s := 0; s < len(docs); s += chunk {
			var models []mongo.WriteModel
			for _, d := range docs[s:min(s+chunk, len(docs))] {
				if insert {
					models = append(models, mongo.NewInsertOneModel().SetDocument(d))
					continue
				}
				models = append(models, mongo.NewReplaceOneModel().SetFilter(bson.D{{Key: "_id", Value: d.Lookup("_id")}}).SetReplacement(d).SetUpsert(true))
			}
			if _, err := coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Indexes as the store has them, so both sides pay index upkeep.
	for _, ix := range []struct {
		coll string
		keys bson.D
	}{
		{"_ver", bson.D{{Key: "itemId", Value: 1}, {Key: "ov", Value: 1}}},
		{"_ver", bson.D{{Key: "itemId", Value: 1}, {Key: "at", Value: 1}}},
		{"_head", bson.D{{Key: "_system.updatedAt", Value: 1}}},
		{"_head", bson.D{{Key: "_system.deleted", Value: 1}}},
	} {
		if _, err := dst.Collection(faultColl.Name+ix.coll).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.keys}); err != nil {
			t.Fatal(err)
		}
	}
	began := time.Now()
	// Version docs in log order (by item, ov here: the log interleaves
	// items, which only changes which chunk a document lands in).
	const batch = 256
	byOV := make([]bson.Raw, 0, len(vers))
	for v := range 5 {
		for _, d := range vers {
			if d.Lookup("ov").AsInt64() == int64(v) {
				byOV = append(byOV, d)
			}
		}
	}
	headOf := map[string]bson.Raw{}
	for _, h := range heads {
		headOf[h.Lookup("_id").StringValue()] = h
	}
	for s := 0; s < len(byOV); s += batch {
		b := byOV[s:min(s+batch, len(byOV))]
		bulk(dst.Collection(faultColl.Name+"_ver"), b, true)
		// Each item's head as of its last version in the batch: the final
		// head with that version's v and ov (an unchanged replacement
		// would be a no-op the server skips).
		last := map[string]int64{}
		var order []string
		for _, d := range b {
			id := d.Lookup("itemId").StringValue()
			if _, ok := last[id]; !ok {
				order = append(order, id)
			}
			last[id] = d.Lookup("ov").AsInt64()
		}
		var hs []bson.Raw
		for _, id := range order {
			hs = append(hs, headAt(t, headOf[id], last[id]))
		}
		bulk(dst.Collection(faultColl.Name+"_head"), hs, false)
	}
	raw := float64(events) / time.Since(began).Seconds()
	t.Logf("raw bulkWrite of the same head+ver documents: %.0f events/s; projector/raw = %.2fx; rebuild %.0f events/s", raw, proj/raw, rebuild)
	bench.ReportMetric(proj, "events/s")
	bench.ReportMetric(raw, "raw-events/s")
	bench.ReportMetric(proj/raw, "ratio")
	bench.ReportMetric(rebuild, "rebuild-events/s")
	bench.ReportMetric(0, "ns/op")
}

// headAt returns head with its "v" and _system.ov set to ov.
func headAt(t testing.TB, head bson.Raw, ov int64) bson.Raw {
	var d bson.D
	if err := bson.Unmarshal(head, &d); err != nil {
		t.Fatal(err)
	}
	for i := range d {
		switch d[i].Key {
		case "v":
			d[i].Value = int32(ov)
		case "_system":
			sys := d[i].Value.(bson.D)
			for j := range sys {
				if sys[j].Key == "ov" {
					sys[j].Value = ov
				}
			}
		}
	}
	raw, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// projectorBacklog returns a log holding a backlog of about total events
// (items of ~300 B, 5 versions each, appended before any projector
// starts, as in a rebuild or after an outage), its progress bucket, and
// the number of items.
func projectorBacklog(t testing.TB, total int) (*clog.Log, *clog.Progress, int) {
	t.Helper()
	ctx := context.Background()
	_, _, l, prog := startLog(t, 1)
	svc := ingest.New(l, ingest.Options{})
	items := max(total/5, 1)
	var err error
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
	return l, prog, items
}

// startLog starts a NATS server holding a log of the given partition
// streams, and opens the log and its progress bucket.
func startLog(t testing.TB, partitions int) (*testenv.NATS, jetstream.JetStream, *clog.Log, *clog.Progress) {
	t.Helper()
	ctx := context.Background()
	n := testenv.StartNATS(t)
	_, js := n.Connect(t)
	if err := clog.EnsureStreams(ctx, js, clog.Config{Partitions: partitions}); err != nil {
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
	return n, js, l, prog
}
