// Command query is the standalone read service.
package main

import (
	"context"
	"flag"
	"net/http"
	"os"
	"time"

	"github.com/chronos-go/chronos/internal/svc"
	"github.com/chronos-go/chronos/query"
)

func main() {
	natsURL := flag.String("nats", svc.Env("CHRONOS_NATS_URL", "nats://127.0.0.1:4222"), "NATS server URL (payload fallback by sequence)")
	mongoURI := flag.String("mongo", svc.Env("CHRONOS_MONGO_URI", "mongodb://127.0.0.1:27017"), "MongoDB URI of the read model")
	blobs := flag.String("blobs", svc.Env("CHRONOS_BLOB_DIR", "./blobs"), "local blob directory")
	addr := flag.String("addr", ":8081", "HTTP listen address")
	flag.Parse()
	log := svc.Logger("query")
	log.Warn("this build has no authentication yet: expose it only on a trusted network")
	ctx, stop := svc.SignalContext()
	defer stop()
	nc, l, err := svc.ConnectLog(ctx, *natsURL, "chronos-query", nil)
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
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", svc.MetricsHandler(svc.NewRegistry()))
	query.NewHandler(query.New(st, l, svc.LocalBlobs(*blobs).ReadOnly(), query.Options{}), log).Register(mux)
	if err := svc.ServeHTTP(ctx, *addr, mux, log); err != nil {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}
