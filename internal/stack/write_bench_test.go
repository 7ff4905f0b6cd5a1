package stack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/client"
	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/stack"
	"github.com/chronos-go/chronos/internal/testenv"
	clog "github.com/chronos-go/chronos/log"
)

// BenchmarkWrite measures the write path against its floor, raw
// JetStream async publishing of the same messages, in the same run on the
// same server:
//
//	go test ./internal/stack -run '^$' -bench 'Write$/(producer|http-batch)' -benchtime 200000x
//	go test ./internal/stack -run '^$' -bench 'Write(UpdateWithWorkers)?$/?(http-update)?$' -benchtime 5000x
//
// b.N counts events in producer-create and http-batch, updates in
// http-update. Documents are 1 KiB, in two shapes (kibDocs). The raw
// baseline publishes prebuilt messages with the bytes ingest and the
// producer publish: the event envelope around the same documents, on the
// same partition subjects, with the same headers (Nats-Msg-Id, expected
// last subject sequence 0, Chronos-Ov, Chronos-Op), from one goroutine.
// Raw and measured halves alternate (raw, measured, raw, measured) so
// drift hits both. The stack runs without projector and offloader: they
// would compete for the same cores with the backlog of every earlier
// sub-benchmark (BenchmarkWriteUpdateWithWorkers runs them).
func BenchmarkWrite(b *testing.B) {
	mongo := testenv.StartMongo(b)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Config{DataDir: b.TempDir(), Addr: "127.0.0.1:0", MongoURI: mongo.URI, Partitions: 4, NoWorkers: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	bench := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "bench"}
	for _, shape := range []string{"samples", "fields"} {
		docs := kibDocs(shape, 64)
		b.Run("producer-create/"+shape, func(b *testing.B) { benchProducer(b, s, bench, docs) })
		b.Run("http-batch/"+shape, func(b *testing.B) { benchBatch(b, s, bench, docs) })
	}
	b.Run("http-update", func(b *testing.B) { benchUpdates(b, s, bench, kibDocs("samples", 64)) })
}

// benchProducer: Producer.Create from one goroutine, then Flush.
func benchProducer(b *testing.B, s *stack.Stack, bench events.Collection, docs [][]byte) {
	js := s.Log.JetStream()
	p, err := client.NewProducer(context.Background(), js)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	actor := &events.Actor{Type: "service", Identifier: "bench"}
	measured := func(n int) time.Duration {
		begin := time.Now()
		for i := range n {
			if _, err := p.Create(context.Background(), bench.Item(""), docs[i%len(docs)], client.WriteMeta{Actor: actor}); err != nil {
				b.Fatal(err)
			}
		}
		if err := p.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		return time.Since(begin)
	}
	compare(b, s.Log, bench, docs, b.N, measured)
}

// benchBatch: POST items:batch of 1,000 records from one client, one
// request at a time, through client.Collection.Batch.
func benchBatch(b *testing.B, s *stack.Stack, bench events.Collection, docs [][]byte) {
	c, err := client.New(s.URL())
	if err != nil {
		b.Fatal(err)
	}
	col := c.Collection(bench.DBType, bench.Tier, bench.Scope, bench.Name)
	const perBatch = 1000
	recs := make([]client.Record, perBatch)
	for i := range recs {
		recs[i] = client.Record{Data: json.RawMessage(docs[i%len(docs)])}
	}
	measured := func(n int) time.Duration {
		begin := time.Now()
		for sent := 0; sent < n; sent += perBatch {
			res, err := col.Batch(context.Background(), recs[:min(perBatch, n-sent)], false)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		}
		return time.Since(begin)
	}
	compare(b, s.Log, bench, docs, b.N, measured)
}

// BenchmarkWriteUpdateWithWorkers is http-update with the projector and
// offloader running, as in `chronos dev`: they apply every update to the
// embedded read model and blob store on the same two cores.
func BenchmarkWriteUpdateWithWorkers(b *testing.B) {
	mongo := testenv.StartMongo(b)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Config{DataDir: b.TempDir(), Addr: "127.0.0.1:0", MongoURI: mongo.URI, Partitions: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchUpdates(b, s, events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "bench"}, kibDocs("samples", 64))
}

// benchUpdates: sequential updates of one item from one client, each with
// its expected version (If-Match), 1 KiB documents; p50 and p99 latency.
func benchUpdates(b *testing.B, s *stack.Stack, coll events.Collection, docs [][]byte) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	c, err := client.New(s.URL(), client.WithHTTPClient(&http.Client{Transport: tr}), client.WithRetry(client.NoRetry))
	if err != nil {
		b.Fatal(err)
	}
	col := c.Collection(coll.DBType, coll.Tier, coll.Scope, coll.Name)
	ctx := context.Background()
	res, err := col.Create(ctx, json.RawMessage(docs[0]))
	if err != nil {
		b.Fatal(err)
	}
	ov := res.OV
	lat := make([]time.Duration, 0, b.N)
	for i := 0; b.Loop(); i++ {
		begin := time.Now()
		res, err := col.Update(ctx, res.ID, json.RawMessage(docs[i%len(docs)]), client.WithExpectedOV(ov))
		lat = append(lat, time.Since(begin))
		if err != nil {
			b.Fatal(err)
		}
		ov = res.OV
	}
	report(b, lat)
}

// compare runs n events through measured and n through the raw baseline,
// alternating halves, and reports both rates and their ratio.
func compare(b *testing.B, l *clog.Log, coll events.Collection, docs [][]byte, n int, measured func(n int) time.Duration) {
	half := n / 2
	var raw, got time.Duration
	for _, k := range []int{half, n - half} {
		if k == 0 {
			continue
		}
		raw += rawPublish(b, l, coll, docs, k)
		got += measured(k)
	}
	rawRate := float64(n) / raw.Seconds()
	rate := float64(n) / got.Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(rawRate, "raw-events/s")
	b.ReportMetric(rate/rawRate, "ratio")
	b.ReportMetric(0, "ns/op")
}

// rawPublish publishes n prebuilt create events with JetStream async
// publish from one goroutine (nats.go's default window of 4,000 pending
// acks) and returns the time from the first publish to the last ack.
func rawPublish(b *testing.B, l *clog.Log, coll events.Collection, docs [][]byte, n int) time.Duration {
	js := l.JetStream()
	msgs := make([]*nats.Msg, n)
	now := time.Now().UTC().Truncate(time.Millisecond)
	actor := &events.Actor{Type: "service", Identifier: "bench"}
	for i := range msgs {
		ev := &events.Event{V: events.Version, Op: events.OpCreate, At: now, InsertedAt: now, Actor: actor, Creator: actor, Payload: docs[i%len(docs)]}
		m, err := l.NewMsg(coll.Item(client.NewID()), ev, clog.AppendOptions{ExpectSeq: clog.Expect(0), MsgID: client.NewID()})
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = m
	}
	futures := make([]jetstream.PubAckFuture, n)
	begin := time.Now()
	for i, m := range msgs {
		f, err := js.PublishMsgAsync(m)
		for errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			// The async window is full (a loaded machine): let it drain.
			<-js.PublishAsyncComplete()
			f, err = js.PublishMsgAsync(m)
		}
		if err != nil {
			b.Fatal(err)
		}
		futures[i] = f
	}
	<-js.PublishAsyncComplete()
	d := time.Since(begin)
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			b.Fatal(err)
		}
	}
	return d
}

// kibDocs returns k distinct JSON documents of exactly 1 KiB, of one of
// two shapes: "samples", a sensor reading with an array of ~150 numbers
// (the validator's costly case: it visits every element), and "fields", a
// flat record of 30 string and number properties.
func kibDocs(shape string, k int) [][]byte {
	out := make([][]byte, k)
	for i := range out {
		var sb strings.Builder
		switch shape {
		case "samples":
			fmt.Fprintf(&sb, `{"deviceId":"dev-%04d","ts":"2026-11-22T10:00:00.000Z","site":"plant-1","firmware":"1.4.2","samples":[`, i)
			for j := 0; sb.Len() < 1024-40; j++ {
				if j > 0 {
					sb.WriteByte(',')
				}
				fmt.Fprintf(&sb, "%.2f", 20+float64((i*31+j*7)%1000)/100)
			}
			sb.WriteString(`]`)
		case "fields":
			fmt.Fprintf(&sb, `{"orderId":"ord-%06d"`, i)
			for j := 0; j < 29; j++ {
				if j%2 == 0 {
					fmt.Fprintf(&sb, `,"attr%02d":"value %d of order %d"`, j, j, i)
				} else {
					fmt.Fprintf(&sb, `,"qty%02d":%d.%02d`, j, i*j%997, j)
				}
			}
		default:
			panic("kibDocs: unknown shape " + shape)
		}
		sb.WriteString(`,"pad":"`)
		sb.WriteString(strings.Repeat("x", max(0, 1024-sb.Len()-2)))
		sb.WriteString(`"}`)
		out[i] = []byte(sb.String())
		if len(out[i]) != 1024 || !json.Valid(out[i]) {
			panic(fmt.Sprintf("kibDocs(%s): %d bytes, valid %v", shape, len(out[i]), json.Valid(out[i])))
		}
	}
	return out
}
