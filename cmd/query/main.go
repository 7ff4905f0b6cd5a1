// Command query is the standalone read service. Its wiring comes from the
// configuration file (--config).
package main

import (
	"context"
	"flag"
	"net/http"

	"github.com/chronos-go/chronos/internal/svc"
	"github.com/chronos-go/chronos/query"
)

func main() {
	config := flag.String("config", "", "configuration file (default: $CHRONOS_CONFIG, then ./chronos.config.json or ./.chronos.json)")
	addr := flag.String("addr", ":8081", "HTTP listen address")
	insecure := flag.Bool("insecure-no-auth", false, "serve without API keys when the configuration has no auth section (trusted networks only)")
	flag.Parse()
	s, err := svc.Open("query", *config, false)
	if err != nil {
		svc.Die("query", err)
	}
	defer s.Close()
	st, err := s.Deps.ReadModels(s.Ctx, 1)
	if err != nil {
		s.Fatal("start", err)
	}
	defer st.Close(context.Background())
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", svc.MetricsHandler(s.Metrics))
	query.NewHandler(query.New(st, s.EventLog, s.Deps.Blobs().ReadOnly(), query.Options{CollectionMaps: s.Deps.QueryMaps()}), s.Log).Register(mux)
	h, err := svc.Protect(mux, s.Deps.Config, *insecure, s.Log)
	if err != nil {
		s.Fatal("start", err)
	}
	if err := svc.ServeHTTP(s.Ctx, *addr, h, s.Log); err != nil {
		s.Fatal("serve", err)
	}
}
