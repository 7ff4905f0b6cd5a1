// Command offloader writes every version's compressed payload to the blob
// store of its route. Its wiring comes from the configuration file (--config).
package main

import (
	"context"
	"flag"
	"os"
	"time"

	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/internal/svc"
	"github.com/chronos-go/chronos/internal/wiring"
	"github.com/chronos-go/chronos/offload"
)

func main() {
	config := flag.String("config", "", "configuration file (default: $CHRONOS_CONFIG, then ./chronos.config.json or ./.chronos.json)")
	codec := flag.String("codec", "zstd", "compression codec: zstd, s2 or none")
	concurrency := flag.Int("concurrency", 8, "uploads in flight")
	metricsAddr := flag.String("metrics", ":9102", "serve Prometheus /metrics here (empty: off)")
	flag.Parse()
	log := svc.Logger("offloader")
	ctx, stop := svc.SignalContext()
	defer stop()
	reg := svc.NewRegistry()
	deps, err := svc.Boot(*config, wiring.Options{Metrics: reg})
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = deps.Close(cctx)
	}()
	nc, l, err := svc.ConnectLog(ctx, deps.NATSURL(), "chronos-offloader", nil)
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	defer nc.Close()
	svc.ServeMetrics(ctx, *metricsAddr, reg, log)
	o, err := offload.NewOffloader(l, deps.Blobs(), offload.OffloaderOptions{
		Codec: offload.Codec(*codec), Concurrency: *concurrency, Logger: log, Metrics: fallbackq.NewMetrics(reg),
		Retry: deps.RetryConfig(),
	})
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	if err := o.Run(ctx); err != nil {
		log.Error("run", "err", err)
		os.Exit(1)
	}
}
