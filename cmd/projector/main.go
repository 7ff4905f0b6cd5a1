// Command projector applies the log to the MongoDB read model. Its wiring
// comes from the configuration file (--config). It projects every
// projection generation that is active or building (`chronos rebuild`),
// each into its own databases, and follows the generation document
// without a restart.
package main

import (
	"context"
	"flag"

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
	s, err := svc.Open("projector", *config, false)
	if err != nil {
		svc.Die("projector", err)
	}
	defer s.Close()
	gens, err := wiring.OpenGenerations(s.Ctx, s.EventLog.JetStream(), s.Deps.ReadModelOpener("", ""))
	if err != nil {
		s.Fatal("start", err)
	}
	defer gens.Serving.Close(context.Background())
	svc.ServeMetrics(s.Ctx, *metricsAddr, s.Metrics, s.Log)
	dlq := fallbackq.NewDLQ(s.EventLog.JetStream(), fallbackq.NewMetrics(s.Metrics))
	p := gens.Runner(s.EventLog, true, projection.ProjectorOptions{BatchSize: *batch, Logger: s.Log, DLQ: dlq}, s.Log)
	if r, cr := s.Deps.VerRetention(), s.Deps.CounterRetention(); r.Enabled() || cr.Enabled() {
		j := projection.NewJanitor(gens.Serving, projection.JanitorOptions{
			Retention: r, Counters: cr, Collections: projection.LogCollections(s.EventLog), DeleteBlobs: s.Deps.DeleteVersionBlobs(), Logger: s.Log,
		})
		janitor := make(chan struct{})
		go func() { defer close(janitor); _ = j.Run(s.Ctx) }()
		defer func() { <-janitor }()
	}
	if err := p.Run(s.Ctx); err != nil {
		s.Fatal("run", err)
	}
}
