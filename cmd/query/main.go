// Command query is the standalone read service. Its wiring comes from the
// configuration file (--config).
package main

import (
	"context"
	"flag"
	"net/http"
	"os"
	"time"

	"github.com/chronos-go/chronos/internal/svc"
	"github.com/chronos-go/chronos/internal/wiring"
	"github.com/chronos-go/chronos/query"
)

func main() {
	config := flag.String("config", "", "configuration file (default: $CHRONOS_CONFIG, then ./chronos.config.json or ./.chronos.json)")
	addr := flag.String("addr", ":8081", "HTTP listen address")
	insecure := flag.Bool("insecure-no-auth", false, "serve without API keys when the configuration has no auth section (trusted networks only)")
	flag.Parse()
	log := svc.Logger("query")
	ctx, stop := svc.SignalContext()
	defer stop()
	reg := svc.NewRegistry()
	deps, err := svc.Boot(*config, wiring.Options{Metrics: reg})
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	nc, l, err := svc.ConnectLog(ctx, deps.NATSURL(), "chronos-query", nil)
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
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", svc.MetricsHandler(reg))
	query.NewHandler(query.New(st, l, deps.Blobs().ReadOnly(), query.Options{CollectionMaps: deps.QueryMaps()}), log).Register(mux)
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
