// Command chronos is the all-in-one Chronos: `chronos dev` runs every
// service in one process on embedded dependencies.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/chronos-go/chronos/internal/stack"
	"github.com/chronos-go/chronos/internal/svc"
	"github.com/chronos-go/chronos/tenancy"
)

const usage = `chronos: a multi-tenant, versioned document store on an event log.

Usage:
  chronos dev [flags]    run ingest, projector, offloader and query in one process
                         on an embedded NATS server, an embedded SQLite read model
                         (or MongoDB with --store) and a local blob directory
  chronos dlq <cmd>      list, inspect, replay and purge the dead-letter queue
  chronos restore        return a collection to its state at a cv or a time
  chronos config <cmd>   show or check the configuration (secrets masked), make API keys
  chronos bench [SCEN]   load generator: iot, trading or mixed, with raw baselines
  chronos rebuild <cmd>  rebuild the read model from the log: start, status, switch, drop

Run "chronos dev -h" for its flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "dev":
		os.Exit(dev(os.Args[2:]))
	case "dlq":
		os.Exit(runDLQ(os.Args[2:], os.Stdout, os.Stderr))
	case "restore":
		os.Exit(runRestore(os.Args[2:], os.Stdout, os.Stderr))
	case "config":
		os.Exit(runConfig(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	case "rebuild":
		os.Exit(runRebuild(os.Args[2:], os.Stdout, os.Stderr))
	case "bench":
		os.Exit(runBench(os.Args[2:], os.Stdout, os.Stderr))
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "chronos: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
}

func dev(args []string) int {
	fs := flag.NewFlagSet("chronos dev", flag.ContinueOnError)
	data := fs.String("data", ".chronos", "directory for all data (JSON store, read model, blobs); kept across restarts")
	addr := fs.String("addr", "127.0.0.1:8080", "HTTP listen address for reads and writes (loopback: dev mode needs no API key)")
	natsURL := fs.String("nats", "", "use this NATS server instead of the embedded one")
	configPath := fs.String("config", "", "configuration file (default: $CHRONOS_CONFIG, then ./chronos.config.json or ./.chronos.json, else the built-in dev default)")
	mongoURI := fs.String("store", "", "read model: empty for the embedded SQLite store (<data>/sqlite/read.db), or a MongoDB URI (mongodb://... or mongodb+srv://...)")
	publicURL := fs.String("public-url", os.Getenv(svc.PublicURLEnv), "base URL at which clients reach the API when it is not --addr (behind a proxy); presigned local blob URLs point there (default: $"+svc.PublicURLEnv+", else the listen address)")
	partitions := fs.Int("partitions", 8, "partition streams to create on first start (fixed afterwards)")
	verbose := fs.Bool("v", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *mongoURI != "" && !strings.HasPrefix(*mongoURI, "mongodb://") && !strings.HasPrefix(*mongoURI, "mongodb+srv://") {
		fmt.Fprintf(os.Stderr, "chronos dev: --store %q: want a MongoDB URI (mongodb://...), or no --store for the embedded SQLite store\n", *mongoURI)
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg, err := devConfig(*configPath)
	if err != nil {
		logger.Error("chronos dev: configuration", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	began := time.Now()
	s, err := stack.Start(startCtx, stack.Config{
		DataDir: *data, Addr: *addr, PublicURL: *publicURL, NATSURL: *natsURL, MongoURI: *mongoURI,
		Partitions: *partitions, Logger: logger, Tenancy: cfg,
	})
	if err != nil {
		logger.Error("chronos dev failed to start", "err", err)
		return 1
	}
	fmt.Printf(`chronos dev is running (started in %s, data in %s)

  API:  %[3]s

Try it:
  curl -s -X POST %[3]s/v1/runtime/tenant/acme/orders/items -d '{"sku":"A-1","qty":2}'
  curl -s %[3]s/v1/runtime/tenant/acme/orders/items/<id>

Press Ctrl-C to stop.
`, time.Since(began).Round(time.Millisecond), *data, s.URL())
	<-ctx.Done()
	logger.Info("shutting down")
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
		logger.Info("stopped cleanly")
		return 0
	case <-time.After(30 * time.Second):
		logger.Error("shutdown took longer than 30s; exiting anyway (acknowledged writes are in the log)")
		return 1
	}
}

// devConfig finds a configuration file the standard way; nil (the built-in
// dev default) when there is none.
func devConfig(flagPath string) (*tenancy.Config, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	path, err := tenancy.Discover(flagPath, os.Getenv, wd)
	if err != nil || path == "" {
		return nil, err
	}
	return tenancy.Load(path)
}
