// Command projector applies the log to the MongoDB read model. Its wiring
// comes from the configuration file (--config).
package main

import (
	"context"
	"flag"
	"os"
	"time"

	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/internal/svc"
	"github.com/chronos-go/chronos/internal/wiring"
	"github.com/chronos-go/chronos/projection"
)

func main() {
	config := flag.String("config", "", "configuration file (default: $CHRONOS_CONFIG, then ./chronos.config.json or ./.chronos.json)")
	batch := flag.Int("batch", 256, "events per bulk write")
	metricsAddr := flag.String("metrics", ":9101", "serve Prometheus /metrics here (empty: off)")
	flag.Parse()
	log := svc.Logger("projector")
	ctx, stop := svc.SignalContext()
	defer stop()
	reg := svc.NewRegistry()
	deps, err := svc.Boot(*config, wiring.Options{Metrics: reg})
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	nc, l, err := svc.ConnectLog(ctx, deps.NATSURL(), "chronos-projector", nil)
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	defer nc.Close()
	st, err := deps.ReadModels(ctx, 1)
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = st.Close(cctx)
		_ = deps.Close(cctx)
	}()
	svc.ServeMetrics(ctx, *metricsAddr, reg, log)
	dlq := fallbackq.NewDLQ(l.JetStream(), fallbackq.NewMetrics(reg))
	p := projection.NewProjector(l, st, projection.ProjectorOptions{BatchSize: *batch, Logger: log, DLQ: dlq})
	if err := p.Run(ctx); err != nil {
		log.Error("run", "err", err)
		os.Exit(1)
	}
}
