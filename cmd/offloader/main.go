// Command offloader writes every version's compressed payload to the blob
// store of its route, and the decoded content of its collection's
// base64Props to the route's content bucket. Its wiring comes from the
// configuration file (--config).
package main

import (
	"flag"

	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/internal/svc"
	"github.com/chronos-go/chronos/offload"
)

func main() {
	config := flag.String("config", "", "configuration file (default: $CHRONOS_CONFIG, then ./chronos.config.json or ./.chronos.json)")
	codec := flag.String("codec", "zstd", "compression codec: zstd, s2 or none")
	concurrency := flag.Int("concurrency", 8, "uploads in flight")
	metricsAddr := flag.String("metrics", ":9102", "serve Prometheus /metrics here (empty: off)")
	flag.Parse()
	s, err := svc.Open("offloader", *config, false)
	if err != nil {
		svc.Die("offloader", err)
	}
	defer s.Close()
	svc.ServeMetrics(s.Ctx, *metricsAddr, s.Metrics, s.Log)
	o, err := offload.NewOffloader(s.EventLog, s.Deps.Blobs(), offload.OffloaderOptions{
		Codec: offload.Codec(*codec), Concurrency: *concurrency, Logger: s.Log,
		Metrics: fallbackq.NewMetrics(s.Metrics), Retry: s.Deps.RetryConfig(),
		Content: s.Deps.ContentBlobs(), Base64Props: s.Deps.Base64Props(), OffloadMetrics: offload.NewMetrics(s.Metrics),
		Heads: s.Deps.HeadBlobs(),
	})
	if err != nil {
		s.Fatal("start", err)
	}
	if err := o.Run(s.Ctx); err != nil {
		s.Fatal("run", err)
	}
}
