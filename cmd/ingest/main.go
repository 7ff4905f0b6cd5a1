// Command ingest is the standalone write service: HTTP writes become events
// on the log. Its wiring comes from the configuration file (--config).
package main

import (
	"flag"
	"net/http"

	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/svc"
)

func main() {
	config := flag.String("config", "", "configuration file (default: $CHRONOS_CONFIG, then ./chronos.config.json or ./.chronos.json)")
	addr := flag.String("addr", ":8080", "HTTP listen address")
	insecure := flag.Bool("insecure-no-auth", false, "serve without API keys when the configuration has no auth section (trusted networks only)")
	flag.Parse()
	s, err := svc.Open("ingest", *config, true)
	if err != nil {
		svc.Die("ingest", err)
	}
	defer s.Close()
	if err := fallbackq.EnsureDLQ(s.Ctx, s.EventLog.JetStream(), s.Deps.LogConfig().Replicas); err != nil {
		s.Fatal("start", err)
	}
	mux := http.NewServeMux()
	ingest.NewHandler(ingest.New(s.EventLog, ingest.Options{Router: s.Deps.Router, Blobs: s.Deps.Blobs()}), s.Log).Register(mux)
	fallbackq.NewHTTPHandler(fallbackq.NewDLQ(s.EventLog.JetStream(), fallbackq.NewMetrics(s.Metrics)), s.Log).Register(mux)
	mux.Handle("GET /metrics", svc.MetricsHandler(s.Metrics))
	h, err := svc.Protect(mux, s.Deps.Config, *insecure, s.Log)
	if err != nil {
		s.Fatal("start", err)
	}
	if err := svc.ServeHTTP(s.Ctx, *addr, h, s.Log); err != nil {
		s.Fatal("serve", err)
	}
}
