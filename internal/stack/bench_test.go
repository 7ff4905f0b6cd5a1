package stack_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/internal/stack"
	"github.com/chronos-go/chronos/internal/testenv"
)

// BenchmarkDevHTTP measures sequential HTTP latency against the `chronos
// dev` stack (embedded NATS and store, in-process): creates of ~300 B
// documents, then latest reads of them. It reports p50 and p99 in ms.
//
//	go test ./internal/stack -run '^$' -bench DevHTTP -benchtime 1000x
func BenchmarkDevHTTP(b *testing.B) {
	mongo := testenv.StartMongo(b)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Config{DataDir: b.TempDir(), Addr: "127.0.0.1:0", MongoURI: mongo.URI})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	base := s.URL() + ordersPath + "/items"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	doc := `{"deviceId":"dev-%d","ts":"2026-11-22T10:00:00Z","temperature":21.5,"humidity":40.2,"battery":0.93,"location":{"lat":52.52,"lon":13.40},"firmware":"1.4.2","tags":["floor-3","north"]}`
	do := func(req *http.Request, want int) time.Duration {
		t0 := time.Now()
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		d := time.Since(t0)
		if res.StatusCode != want {
			b.Fatalf("status %d, want %d", res.StatusCode, want)
		}
		return d
	}
	b.Run("create", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for i := 0; b.Loop(); i++ {
			req, _ := http.NewRequest("POST", fmt.Sprintf("%s?id=b-%d", base, i), strings.NewReader(fmt.Sprintf(doc, i)))
			lat = append(lat, do(req, 201))
		}
		report(b, lat)
	})
	// Reads of the items just created, once the projection has them.
	n := 0
	for {
		res, err := client.Get(fmt.Sprintf("%s/b-%d", base, 0))
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if n++; n > 3000 {
			b.Fatal("projection did not catch up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Run("latest", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for i := 0; b.Loop(); i++ {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/b-0", base), nil)
			lat = append(lat, do(req, 200))
		}
		report(b, lat)
	})
}

func report(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
