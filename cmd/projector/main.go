// Command projector applies the log to the MongoDB read model. Its wiring
// comes from the configuration file (--config).
package main

import (
	"context"
	"flag"

	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/internal/svc"
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
	st, err := s.Deps.ReadModels(s.Ctx, 1)
	if err != nil {
		s.Fatal("start", err)
	}
	defer st.Close(context.Background())
	svc.ServeMetrics(s.Ctx, *metricsAddr, s.Metrics, s.Log)
	dlq := fallbackq.NewDLQ(s.EventLog.JetStream(), fallbackq.NewMetrics(s.Metrics))
	p := projection.NewProjector(s.EventLog, st, projection.ProjectorOptions{BatchSize: *batch, Logger: s.Log, DLQ: dlq})
	if err := p.Run(s.Ctx); err != nil {
		s.Fatal("run", err)
	}
}
