// Command offloader writes every version's compressed payload to the blob
// store.
package main

import (
	"flag"
	"os"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/internal/svc"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/offload/wrap"
)

func main() {
	natsURL := flag.String("nats", svc.Env("CHRONOS_NATS_URL", "nats://127.0.0.1:4222"), "NATS server URL")
	blobs := flag.String("blobs", svc.Env("CHRONOS_BLOB_DIR", "./blobs"), "local blob directory")
	codec := flag.String("codec", "zstd", "compression codec: zstd, s2 or none")
	concurrency := flag.Int("concurrency", 8, "uploads in flight")
	metricsAddr := flag.String("metrics", ":9102", "serve Prometheus /metrics here (empty: off)")
	flag.Parse()
	log := svc.Logger("offloader")
	ctx, stop := svc.SignalContext()
	defer stop()
	nc, l, err := svc.ConnectLog(ctx, *natsURL, "chronos-offloader", nil)
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	defer nc.Close()
	reg := svc.NewRegistry()
	svc.ServeMetrics(ctx, *metricsAddr, reg, log)
	local := svc.LocalBlobs(*blobs)
	store := func(c events.Collection) (offload.Store, error) {
		s, err := local(c)
		if err != nil {
			return nil, err
		}
		return wrap.Metrics(s, reg, "local"), nil
	}
	o, err := offload.NewOffloader(l, store, offload.OffloaderOptions{Codec: offload.Codec(*codec), Concurrency: *concurrency, Logger: log, Metrics: fallbackq.NewMetrics(reg)})
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	if err := o.Run(ctx); err != nil {
		log.Error("run", "err", err)
		os.Exit(1)
	}
}
