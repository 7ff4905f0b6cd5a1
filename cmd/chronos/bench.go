package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chronos-go/chronos/internal/bench"
)

const benchUsage = `Usage:
  chronos bench [SCENARIO] [flags]

Scenarios: iot (creates of ~300 B readings of many devices), trading (updates
with expected versions of a hot set of instruments, ~600 B, retried on 409),
mixed (latest reads over HTTP and updates of a set of items).

Without --url it starts the whole stack in this process on a temporary
directory (embedded NATS, Mongo-compatible read model, local blobs), so it
needs no servers. It prints a live progress line on stderr and a table at
the end; --baseline adds the raw floors measured in the same run.

Flags:
`

// runBench runs `chronos bench ARGS` and returns the exit code.
func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chronos bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	var cfg bench.Config
	fs.StringVar(&cfg.Scenario, "scenario", bench.ScenarioIoT, "iot, trading or mixed (or give it as the first argument)")
	fs.StringVar(&cfg.Via, "via", bench.ViaProducer, "write path: producer (direct JetStream) or http")
	fs.DurationVar(&cfg.Duration, "duration", 0, "length of the load (default 10s unless --events is given)")
	fs.Int64Var(&cfg.Events, "events", 0, "end the load after this many operations (writes; mixed: reads and writes)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 8, "goroutines issuing operations")
	fs.Float64Var(&cfg.Rate, "rate", 0, "pace the load to this many operations per second (0: as fast as possible); for sustained-load memory runs")
	fs.IntVar(&cfg.Devices, "devices", 10_000, "iot: distinct devices")
	fs.IntVar(&cfg.Instruments, "instruments", 50, "trading: size of the hot set")
	fs.IntVar(&cfg.Items, "items", 1000, "mixed: items read and updated")
	fs.Float64Var(&cfg.ReadRatio, "read-ratio", 0.8, "mixed: share of reads")
	fs.BoolVar(&cfg.Baseline, "baseline", false, "measure the raw baselines after the load: JetStream publish, Mongo bulkWrite, blob PUT, findOne")
	fs.IntVar(&cfg.BaselineMax, "baseline-max", 50_000, "most events a baseline replays")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", 2*time.Minute, "how long to wait after the load for projection and offload to catch up")
	var t bench.Target
	fs.StringVar(&t.URL, "url", "", "HTTP API of a running Chronos (default: start one in this process)")
	fs.StringVar(&t.NATSURL, "nats", "", "its NATS server (producer, projection and offload lag, JetStream baseline)")
	fs.StringVar(&t.MongoURI, "mongo", "", "its MongoDB, for the bulkWrite and findOne baselines (embedded: use it as the read model)")
	fs.BoolVar(&t.Embedded, "embedded", false, "start the stack in this process (the default without --url)")
	fs.BoolVar(&t.FerretDB, "ferretdb", false, "embedded: project into an embedded FerretDB (MongoDB wire protocol) instead of SQLite; enables the Mongo baselines")
	fs.IntVar(&t.Partitions, "partitions", 8, "embedded: partition streams")
	jsonOut := fs.String("json", "", "also write the report as JSON to this file")
	subjects := fs.String("subjects", "", "before the load, measure JetStream memory per N distinct item subjects on a server of its own, e.g. 100000,1000000")
	quiet := fs.Bool("quiet", false, "no progress line")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the load (and of the embedded stack) to this file")
	// The scenario may come anywhere among the flags.
	var positional string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if err == flag.ErrHelp {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		if positional != "" {
			fmt.Fprintf(stderr, "chronos bench: unexpected arguments %q\n", fs.Args())
			return 2
		}
		positional, rest = fs.Arg(0), fs.Args()[1:]
	}
	if positional != "" {
		if isFlagSet(fs, "scenario") && cfg.Scenario != positional {
			fmt.Fprintf(stderr, "chronos bench: scenario %q and --scenario %q disagree\n", positional, cfg.Scenario)
			return 2
		}
		cfg.Scenario = positional
	}
	var counts []int
	for f := range strings.SplitSeq(*subjects, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "chronos bench: --subjects: %q is not a positive count\n", f)
			return 2
		}
		counts = append(counts, n)
	}
	t.Embedded = t.Embedded || t.URL == ""
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var mem []bench.SubjectMemory
	for _, n := range counts {
		fmt.Fprintf(stderr, "measuring JetStream memory of %d distinct subjects...\n", n)
		dir, err := os.MkdirTemp("", "chronos-bench-subjects-")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		m, err := bench.MeasureSubjects(ctx, dir, n)
		_ = os.RemoveAll(dir)
		if err != nil {
			fmt.Fprintf(stderr, "chronos bench: subjects %d: %v\n", n, err)
			return 1
		}
		mem = append(mem, m)
	}
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	env, err := bench.Open(startCtx, t)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "chronos bench: %v\n", err)
		return 1
	}
	defer env.Close()
	var progress io.Writer = stderr
	if *quiet {
		progress = nil
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "chronos bench: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "chronos bench: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := env.Run(ctx, cfg, progress)
	if err != nil {
		fmt.Fprintf(stderr, "chronos bench: %v\n", err)
		return 1
	}
	rep.Subjects = mem
	if err := rep.WriteTable(stdout); err != nil {
		return 1
	}
	if *jsonOut != "" {
		if err := rep.WriteJSON(*jsonOut); err != nil {
			fmt.Fprintf(stderr, "chronos bench: %v\n", err)
			return 1
		}
	}
	if rep.Errors+rep.ReadErrors > 0 {
		return 1
	}
	return 0
}

func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
