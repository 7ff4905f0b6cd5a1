// Command ingest is the standalone write service: HTTP writes become events
// on the log.
package main

import (
	"flag"
	"net/http"
	"os"

	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/svc"
	clog "github.com/chronos-go/chronos/log"
)

func main() {
	natsURL := flag.String("nats", svc.Env("CHRONOS_NATS_URL", "nats://127.0.0.1:4222"), "NATS server URL")
	addr := flag.String("addr", ":8080", "HTTP listen address")
	partitions := flag.Int("partitions", clog.DefaultPartitions, "partition count if the streams must be created")
	replicas := flag.Int("replicas", 1, "stream replicas (3 in production: an ack then means a quorum has the write)")
	flag.Parse()
	log := svc.Logger("ingest")
	log.Warn("this build has no authentication yet: expose it only on a trusted network")
	ctx, stop := svc.SignalContext()
	defer stop()
	nc, l, err := svc.ConnectLog(ctx, *natsURL, "chronos-ingest", &clog.Config{Partitions: *partitions, Replicas: *replicas})
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	defer nc.Close()
	reg := svc.NewRegistry()
	if err := fallbackq.EnsureDLQ(ctx, l.JetStream(), *replicas); err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	ingest.NewHandler(ingest.New(l, ingest.Options{}), log).Register(mux)
	fallbackq.NewHTTPHandler(fallbackq.NewDLQ(l.JetStream(), fallbackq.NewMetrics(reg)), log).Register(mux)
	mux.Handle("GET /metrics", svc.MetricsHandler(reg))
	if err := svc.ServeHTTP(ctx, *addr, mux, log); err != nil {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}
