package offload_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/testenv"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/offload/s3"
)

// cpuTime is the user and system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkOffloaderS3 measures the offloader writing 20 KiB versions to a
// real S3 server (versitygw) against raw PUTs of the same compressed
// objects with the same concurrency, in the same run.
//
//	go test ./offload -run '^$' -bench OffloaderS3 -benchtime 2000x
func BenchmarkOffloaderS3(b *testing.B) {
	const concurrency = 8
	ctx := context.Background()
	srv := testenv.StartS3(b)
	newStore := func(bucket string) offload.Store {
		st, err := s3.New(ctx, s3.Config{Endpoint: srv.Endpoint, Region: srv.Region, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
			Bucket: bucket, ForcePathStyle: true, CreateBucket: true})
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	n := b.N
	docs := make([][]byte, n)
	for i := range docs {
		text := strings.Repeat(fmt.Sprintf("reading %d value %d; ", i, i*7), 1500)[:20<<10-32]
		docs[i] = []byte(fmt.Sprintf(`{"i":%d,"text":%q}`, i, text))
	}
	// Raw baseline: the same compressed objects, PUT by 8 workers.
	raw := newStore("raw-puts")
	objs := make([][]byte, n)
	for i, d := range docs {
		z, err := offload.Compress(offload.CodecZstd, d)
		if err != nil {
			b.Fatal(err)
		}
		objs[i] = z
	}
	b.ResetTimer()
	t0, c0 := time.Now(), cpuTime()
	var wg sync.WaitGroup
	next := make(chan int)
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := raw.Put(ctx, offload.VersionKey("docs", fmt.Sprintf("d%06d", i), 0, offload.CodecZstd), bytes.NewReader(objs[i]), int64(len(objs[i]))); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	rawRate := float64(n) / time.Since(t0).Seconds()
	rawCPU := (cpuTime() - c0) / time.Duration(n)
	b.StopTimer()

	// The offloader: the same documents as events, drained from the log.
	nats := testenv.StartNATS(b)
	_, js := nats.Connect(b)
	if err := clog.EnsureStreams(ctx, js, clog.Config{Partitions: 1}); err != nil {
		b.Fatal(err)
	}
	l, err := clog.Open(ctx, js, events.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	svc := ingest.New(l, ingest.Options{})
	c := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "docs"}
	for i, d := range docs {
		if _, err := svc.Create(ctx, c, fmt.Sprintf("d%06d", i), d, ingest.Write{}); err != nil {
			b.Fatal(err)
		}
	}
	st := newStore("offloaded")
	o, err := offload.NewOffloader(l, func(events.Collection) (offload.Store, error) { return st, nil }, offload.OffloaderOptions{Concurrency: concurrency})
	if err != nil {
		b.Fatal(err)
	}
	cons, err := l.EnsureConsumer(ctx, 0, clog.ConsumerOptions{Durable: "offloader"})
	if err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	t1, c1 := time.Now(), cpuTime()
	octx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Run(octx) }()
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if info.AckFloor.Stream >= uint64(n) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	rate := float64(n) / time.Since(t1).Seconds()
	offCPU := (cpuTime() - c1) / time.Duration(n)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(rawRate, "raw-puts/s")
	b.ReportMetric(rate/rawRate, "ratio")
	// CPU of this process (the benchmark, its S3 client, and for the
	// offloader the embedded NATS server) per object: unlike the rates,
	// it does not depend on what else the machine is running.
	b.ReportMetric(float64(rawCPU.Microseconds()), "raw-cpu-us/obj")
	b.ReportMetric(float64(offCPU.Microseconds()), "cpu-us/obj")
	b.ReportMetric(0, "ns/op")
}
