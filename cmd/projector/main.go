// Command projector applies the log to the MongoDB read model.
package main

import (
	"context"
	"flag"
	"os"
	"time"

	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/internal/svc"
	"github.com/chronos-go/chronos/projection"
)

func main() {
	natsURL := flag.String("nats", svc.Env("CHRONOS_NATS_URL", "nats://127.0.0.1:4222"), "NATS server URL")
	mongoURI := flag.String("mongo", svc.Env("CHRONOS_MONGO_URI", "mongodb://127.0.0.1:27017"), "MongoDB URI of the read model")
	batch := flag.Int("batch", 256, "events per bulk write")
	metricsAddr := flag.String("metrics", ":9101", "serve Prometheus /metrics here (empty: off)")
	flag.Parse()
	log := svc.Logger("projector")
	ctx, stop := svc.SignalContext()
	defer stop()
	nc, l, err := svc.ConnectLog(ctx, *natsURL, "chronos-projector", nil)
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	defer nc.Close()
	st, err := svc.OpenStore(ctx, *mongoURI)
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = st.Close(cctx)
	}()
	reg := svc.NewRegistry()
	svc.ServeMetrics(ctx, *metricsAddr, reg, log)
	dlq := fallbackq.NewDLQ(l.JetStream(), fallbackq.NewMetrics(reg))
	p := projection.NewProjector(l, st, projection.ProjectorOptions{BatchSize: *batch, Logger: log, DLQ: dlq})
	if err := p.Run(ctx); err != nil {
		log.Error("run", "err", err)
		os.Exit(1)
	}
}
