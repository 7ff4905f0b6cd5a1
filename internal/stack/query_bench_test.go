package stack_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/stack"
	"github.com/chronos-go/chronos/internal/testenv"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/query"
)

// median returns the middle of d (sorted in place).
func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// BenchmarkQueryReads compares reads of the query service with the raw
// reads they are made of, on the same servers in the same run, alternating
// one of each per iteration:
//
//   - latest: Service.Latest and GET {base}/items/{id} vs a raw findOne of
//     the head document;
//   - asof: Service.AsOf vs a raw findOne of the version document (the
//     store's query) plus a GET of its blob;
//   - list50: one listByMeta page of 50 items (Service.List).
//
// It reports µs per read and the ratios of the means (goal ≤ 1.3), and for
// latest also the ratios of the medians (-p50).
//
//	go test ./internal/stack -run '^$' -bench QueryReads -benchtime 300x
func BenchmarkQueryReads(b *testing.B) {
	mongoSrv := testenv.StartMongo(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Config{DataDir: b.TempDir(), Addr: "127.0.0.1:0", MongoURI: mongoSrv.URI, Partitions: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	coll := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "qbench"}
	base := s.URL() + "/v1/runtime/tenant/acme/qbench"
	doc := `{"deviceId":"dev-%d","g":%d,"temperature":21.5,"humidity":40.2,"battery":0.93,"location":{"lat":52.52,"lon":13.40},"firmware":"1.4.2","tags":["floor-3","north"]}`
	const items = 60
	var seq uint64
	for i := range items {
		r, err := s.Ingest.Create(ctx, coll, fmt.Sprintf("q-%02d", i), []byte(fmt.Sprintf(doc, i, i%2)), ingest.Write{})
		if err != nil {
			b.Fatal(err)
		}
		seq = r.Seq
	}
	up, err := s.Ingest.Update(ctx, coll.Item("q-00"), []byte(fmt.Sprintf(doc, 0, 1)), ingest.Write{})
	if err != nil {
		b.Fatal(err)
	}
	seq = up.Seq
	if err := s.Query.WaitMinSeq(ctx, coll, seq); err != nil {
		b.Fatal(err)
	}
	rt, err := s.Deps.Router.RouteContext(ctx, coll)
	if err != nil {
		b.Fatal(err)
	}
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(mongoSrv.URI))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	db := client.Database(rt.DBName)
	head, ver := db.Collection("qbench_head"), db.Collection("qbench_ver")
	blobs, err := s.Blobs(coll)
	if err != nil {
		b.Fatal(err)
	}
	ref := coll.Item("q-00")
	// The version 0 blob must exist for the as-of comparison.
	key := offload.VersionKey(coll.Name, ref.ID, 0, offload.CodecNone)
	deadline := time.Now().Add(time.Minute)
	for {
		found := false
		for _, c := range []offload.Codec{offload.CodecZstd, offload.CodecNone, offload.CodecS2} {
			if _, err := blobs.Stat(ctx, offload.VersionKey(coll.Name, ref.ID, 0, c)); err == nil {
				key, found = offload.VersionKey(coll.Name, ref.ID, 0, c), true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the version blob was not written in a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	v0, err := s.Query.Version(ctx, ref, 0, query.ReadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	at := v0.System.UpdatedAt
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}

	rawHead := func() {
		var m bson.M
		if err := head.FindOne(ctx, bson.D{{Key: "_id", Value: ref.ID}}).Decode(&m); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("latest", func(b *testing.B) {
		var svc, web, raw time.Duration
		// Medians too: on a loaded machine a few reads that wait for a
		// core move the means more than anything the reads do.
		var svcs, webs, raws []time.Duration
		for b.Loop() {
			t0 := time.Now()
			if _, err := s.Query.Latest(ctx, ref, query.ReadOptions{}); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			rawHead()
			t2 := time.Now()
			res, err := httpc.Get(base + "/items/q-00")
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			t3 := time.Now()
			svc, raw, web = svc+t1.Sub(t0), raw+t2.Sub(t1), web+t3.Sub(t2)
			svcs, raws, webs = append(svcs, t1.Sub(t0)), append(raws, t2.Sub(t1)), append(webs, t3.Sub(t2))
		}
		n := float64(b.N)
		b.ReportMetric(float64(svc.Microseconds())/n, "svc-µs/read")
		b.ReportMetric(float64(web.Microseconds())/n, "http-µs/read")
		b.ReportMetric(float64(raw.Microseconds())/n, "raw-µs/read")
		b.ReportMetric(float64(svc)/float64(raw), "svc/raw")
		b.ReportMetric(float64(web)/float64(raw), "http/raw")
		b.ReportMetric(float64(median(webs))/float64(median(raws)), "http/raw-p50")
		b.ReportMetric(float64(median(svcs))/float64(median(raws)), "svc/raw-p50")
	})
	b.Run("asof", func(b *testing.B) {
		var svc, raw time.Duration
		for b.Loop() {
			t0 := time.Now()
			if _, err := s.Query.AsOf(ctx, ref, at, query.ReadOptions{}); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			var m bson.M
			f := bson.D{{Key: "itemId", Value: ref.ID}, {Key: "at", Value: bson.D{{Key: "$lte", Value: at}}}}
			if err := ver.FindOne(ctx, f, options.FindOne().SetSort(bson.D{{Key: "ov", Value: -1}})).Decode(&m); err != nil {
				b.Fatal(err)
			}
			rc, _, err := blobs.Get(ctx, key)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, rc)
			rc.Close()
			raw += time.Since(t1)
			svc += t1.Sub(t0)
		}
		n := float64(b.N)
		b.ReportMetric(float64(svc.Microseconds())/n, "svc-µs/read")
		b.ReportMetric(float64(raw.Microseconds())/n, "raw-µs/read")
		b.ReportMetric(float64(svc)/float64(raw), "svc/raw")
	})
	b.Run("list50", func(b *testing.B) {
		req := query.ListRequest{Limit: 50}
		var d time.Duration
		for b.Loop() {
			t0 := time.Now()
			res, err := s.Query.List(ctx, coll, req)
			if err != nil || len(res.Items) != 50 {
				b.Fatalf("list: %v (%d items)", err, len(res.Items))
			}
			d += time.Since(t0)
		}
		b.ReportMetric(float64(d.Microseconds())/float64(b.N), "µs/page")
	})
}
