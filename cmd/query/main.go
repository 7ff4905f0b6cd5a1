// Command query is the standalone read service. Its wiring comes from the
// configuration file (--config). It serves the active projection
// generation and switches to the next one when `chronos rebuild switch`
// makes it active, without a restart; it projects nothing (cmd/projector
// builds the generations).
package main

import (
	"context"
	"flag"
	"net/http"
	"os"

	"github.com/chronos-go/chronos/internal/svc"
	"github.com/chronos-go/chronos/internal/wiring"
	"github.com/chronos-go/chronos/projection"
	"github.com/chronos-go/chronos/query"
)

func main() {
	config := flag.String("config", "", "configuration file (default: $CHRONOS_CONFIG, then ./chronos.config.json or ./.chronos.json)")
	addr := flag.String("addr", ":8081", "HTTP listen address")
	insecure := flag.Bool("insecure-no-auth", false, "serve without API keys when the configuration has no auth section (trusted networks only)")
	publicURL := flag.String("public-url", os.Getenv(svc.PublicURLEnv), "base URL at which clients reach this service, e.g. https://query.example.com (default: $"+svc.PublicURLEnv+"); presigned URLs of local blob stores point there, signed with $"+svc.PresignSecretEnv+" (random per process if unset); without it presign=true on a local blob answers 501")
	flag.Parse()
	po, err := svc.PresignOptions(*publicURL, "--public-url")
	if err != nil {
		svc.Die("query", err)
	}
	s, err := svc.OpenWith("query", *config, false, po)
	if err != nil {
		svc.Die("query", err)
	}
	defer s.Close()
	gens, err := wiring.OpenGenerations(s.Ctx, s.EventLog.JetStream(), s.Deps.ReadModelOpener("", ""))
	if err != nil {
		s.Fatal("start", err)
	}
	defer gens.Serving.Close(context.Background())
	st := gens.Serving
	// Serving follows the active generation until the service stops; if
	// it cannot, the service stops rather than serve a stale generation.
	ctx, stop := context.WithCancel(s.Ctx)
	defer stop()
	followed := make(chan error, 1)
	go func() {
		err := gens.Runner(s.EventLog, false, projection.ProjectorOptions{}, s.Log).Run(ctx)
		stop()
		followed <- err
	}()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", svc.MetricsHandler(s.Metrics))
	follower, err := wiring.FollowProjector(ctx, s.EventLog.JetStream())
	if err != nil {
		s.Fatal("start", err)
	}
	query.NewHandler(query.New(st, s.EventLog, s.Deps.Blobs().ReadOnly(), s.Deps.QueryOptions(follower)), s.Log).Register(mux)
	h, err := svc.Protect(mux, s.Deps.Config, *insecure, s.Log)
	if err != nil {
		s.Fatal("start", err)
	}
	if err := svc.ServeHTTP(ctx, *addr, svc.WithPresignedBlobs(h, s.Deps), s.Log); err != nil {
		s.Fatal("serve", err)
	}
	if err := <-followed; err != nil {
		s.Fatal("follow the projection generations", err)
	}
}
