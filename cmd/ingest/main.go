// Command ingest is the standalone write service: HTTP writes become events
// on the log. Its wiring comes from the configuration file (--config).
package main

import (
	"flag"
	"net/http"
	"os"

	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/svc"
	"github.com/chronos-go/chronos/internal/wiring"
)

func main() {
	config := flag.String("config", "", "configuration file (default: $CHRONOS_CONFIG, then ./chronos.config.json or ./.chronos.json)")
	addr := flag.String("addr", ":8080", "HTTP listen address")
	insecure := flag.Bool("insecure-no-auth", false, "serve without API keys when the configuration has no auth section (trusted networks only)")
	flag.Parse()
	log := svc.Logger("ingest")
	ctx, stop := svc.SignalContext()
	defer stop()
	reg := svc.NewRegistry()
	deps, err := svc.Boot(*config, wiring.Options{Metrics: reg})
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	lc := deps.LogConfig()
	nc, l, err := svc.ConnectLog(ctx, deps.NATSURL(), "chronos-ingest", &lc)
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	defer nc.Close()
	if err := fallbackq.EnsureDLQ(ctx, l.JetStream(), lc.Replicas); err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	ingest.NewHandler(ingest.New(l, ingest.Options{Router: deps.Router, Blobs: deps.Blobs()}), log).Register(mux)
	fallbackq.NewHTTPHandler(fallbackq.NewDLQ(l.JetStream(), fallbackq.NewMetrics(reg)), log).Register(mux)
	mux.Handle("GET /metrics", svc.MetricsHandler(reg))
	h, err := svc.Protect(mux, deps.Config, *insecure, log)
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	if err := svc.ServeHTTP(ctx, *addr, h, log); err != nil {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}
