package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/chronos-go/chronos/internal/svc"
	"github.com/chronos-go/chronos/internal/wiring"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/projection"
)

const rebuildUsage = `Usage:
  chronos rebuild start [--no-wait]   build a new projection generation from sequence 1,
                                      into new databases (g<N>_<name>; chronos dev on
                                      SQLite: read-g<N>.db), while the current one
                                      keeps serving; shows a progress bar
  chronos rebuild status              every generation, its state and its lag
  chronos rebuild switch [--force]    make the building generation active: projector
                                      and query service switch without restart
                                      (refused while it lags, unless --force)
  chronos rebuild drop N              remove retired (or abandoned building) generation
                                      N: its databases (or SQLite file), consumers and
                                      progress; the active generation is refused

The running services follow the generation document in the NATS KV bucket
CHRONOS_SYSTEM without restart: chronos dev, cmd/projector (projects the
active and the building generation) and cmd/query (serves the active one).

Every subcommand takes:
  --nats URL     NATS server (default $CHRONOS_NATS_URL, else nats://127.0.0.1:4222)
  --timeout D    give up after D (default 30s; start without --no-wait waits as long
                 as the rebuild takes)
drop also takes:
  --mongo URI    a MongoDB deployment of the read model; repeat it for each one
                 (default: every deployment of the configuration file, else
                 mongodb://127.0.0.1:27017); every one must answer before
                 anything changes
  --data DIR     instead of --mongo: the --data directory of a chronos dev on its
                 embedded SQLite read model; drop deletes DIR/sqlite/read-gN.db
                 (read.db for generation 1) and its -wal and -shm files
  --grace D      wait this long after removing the generation from the document
                 before deleting (running projectors stop meanwhile; default 3s)
`

// runRebuild runs `chronos rebuild ARGS` and returns the exit code.
func runRebuild(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, rebuildUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("chronos rebuild "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, rebuildUsage) }
	defNATS, _ := svc.AdminDefaults()
	natsURL := fs.String("nats", defNATS, "NATS server URL (default: the configuration file's, else localhost)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	noWait := fs.Bool("no-wait", false, "start: return once the generation is registered")
	force := fs.Bool("force", false, "switch: even if the new generation lags")
	var mongoURIs uriList
	fs.Var(&mongoURIs, "mongo", "drop: a MongoDB deployment of the read model, repeatable (default: every one of the configuration file, else localhost)")
	dataDir := fs.String("data", "", "drop: chronos dev's --data directory, when its read model is the embedded SQLite store (instead of --mongo)")
	grace := fs.Duration("grace", 3*time.Second, "drop: wait between unlisting and deleting")
	// The generation number of drop may come before the flags or after.
	var positional []string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		positional, args = args[:1], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	positional = append(positional, fs.Args()...)
	ctx, stop := svc.SignalContext()
	defer stop()
	cctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	nc, l, err := svc.ConnectLog(cctx, *natsURL, "chronos-rebuild", nil)
	if err != nil {
		fmt.Fprintf(stderr, "chronos rebuild: %v\n", err)
		return 1
	}
	defer nc.Close()
	reg, err := projection.OpenGenerations(cctx, l.JetStream(), 0)
	if err != nil {
		fmt.Fprintf(stderr, "chronos rebuild: %v\n", err)
		return 1
	}
	prog, err := clog.OpenProgress(cctx, l.JetStream(), 0)
	if err != nil {
		fmt.Fprintf(stderr, "chronos rebuild: %v\n", err)
		return 1
	}
	r := rebuildCmd{l: l, reg: reg, prog: prog, stdout: stdout, stderr: stderr}
	switch cmd {
	case "start":
		err = r.start(cctx, ctx, *noWait)
	case "status":
		err = r.status(cctx)
	case "switch":
		err = r.switchTo(cctx, *force)
	case "drop":
		if len(positional) != 1 {
			fmt.Fprintln(stderr, "chronos rebuild drop: give the generation number, e.g. chronos rebuild drop 1")
			return 2
		}
		n, perr := strconv.Atoi(positional[0])
		if perr != nil || n < 1 {
			fmt.Fprintf(stderr, "chronos rebuild drop: %q is not a generation number\n", positional[0])
			return 2
		}
		if len(mongoURIs) == 0 {
			mongoURIs = svc.AdminMongoURIs()
		}
		err = r.drop(cctx, n, mongoURIs, *dataDir, *grace)
	default:
		fmt.Fprintf(stderr, "chronos rebuild: unknown subcommand %q\n\n%s", cmd, rebuildUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "chronos rebuild %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

type rebuildCmd struct {
	l              *clog.Log
	reg            *projection.GenerationRegistry
	prog           *clog.Progress
	stdout, stderr io.Writer
}

// start registers a building generation and, unless noWait, follows it
// until it has caught up with the log (waitCtx: only a signal stops it).
func (r rebuildCmd) start(ctx, waitCtx context.Context, noWait bool) error {
	gen, err := r.reg.Start(ctx, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(r.stdout, "generation %d is building (consumer %s, databases %s<name>; chronos dev on SQLite: %s)\n",
		gen.N, gen.Durable, wiring.GenerationPrefix(gen.N), filepath.Base(wiring.SQLiteFile("", gen.N)))
	if noWait {
		fmt.Fprintf(r.stdout, "follow it with: chronos rebuild status\n")
		return nil
	}
	if err := r.follow(waitCtx, gen); err != nil {
		return err
	}
	fmt.Fprintf(r.stdout, "generation %d has caught up; make it active with: chronos rebuild switch\n", gen.N)
	return nil
}

// follow draws a progress bar (position, events/s, ETA) from the progress
// bucket until gen has applied the whole log.
func (r rebuildCmd) follow(ctx context.Context, gen projection.Generation) error {
	began := time.Now()
	var first uint64
	firstSet := false
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		applied, end, err := projection.GenerationPosition(ctx, r.l, r.prog, gen)
		if err != nil {
			return err
		}
		if !firstSet {
			first, firstSet = applied, true
		}
		el := time.Since(began).Seconds()
		rate := float64(applied-first) / max(el, 1e-3)
		eta := "?"
		if rate > 0 {
			eta = (time.Duration(float64(end-applied)/rate) * time.Second).Round(time.Second).String()
		}
		fmt.Fprintf(r.stderr, "\rgeneration %d: %d/%d events (%.0f%%) %.0f events/s ETA %s   ",
			gen.N, applied, end, 100*float64(applied)/float64(max(end, 1)), rate, eta)
		if applied >= end {
			fmt.Fprintln(r.stderr)
			return nil
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(r.stderr)
			return fmt.Errorf("stopped following (the rebuild goes on): %w", ctx.Err())
		case <-tick.C:
		}
	}
}

func (r rebuildCmd) status(ctx context.Context) error {
	g, err := r.reg.Get(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(r.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GEN\tSTATE\tCONSUMER\tAPPLIED\tLOG\tLAG\tSTARTED\tSWITCHED")
	for _, gen := range g.List {
		applied, end, err := projection.GenerationPosition(ctx, r.l, r.prog, gen)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", gen.N, gen.State, gen.Durable, applied, end, end-applied,
			showTime(&gen.StartedAt), showTime(gen.SwitchedAt))
	}
	return tw.Flush()
}

func showTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func (r rebuildCmd) switchTo(ctx context.Context, force bool) error {
	g, err := r.reg.Get(ctx)
	if err != nil {
		return err
	}
	gen, ok := g.Building()
	if !ok {
		return errors.New("no generation is building (start one with: chronos rebuild start)")
	}
	applied, end, err := projection.GenerationPosition(ctx, r.l, r.prog, gen)
	if err != nil {
		return err
	}
	if applied < end && !force {
		return fmt.Errorf("generation %d lags the log by %d events; wait (chronos rebuild status) or use --force", gen.N, end-applied)
	}
	if _, err := r.reg.Switch(ctx, gen.N, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(r.stdout, "generation %d is active (was %d); drop the old one when sure: chronos rebuild drop %d\n", gen.N, g.Active, g.Active)
	return nil
}

// drop removes generation n from the document, waits grace for the
// running projectors and query services to let it go, then deletes its
// consumers, progress keys and read model: the databases named as its in
// every deployment of mongoURIs, or, with dataDir, its SQLite files in
// chronos dev's data directory. Where the read model lives is checked
// before the document changes (every deployment must answer), so a wrong
// --mongo or --data changes nothing.
func (r rebuildCmd) drop(ctx context.Context, n int, mongoURIs []string, dataDir string, grace time.Duration) error {
	g, err := r.reg.Get(ctx)
	if err != nil {
		return err
	}
	gen, ok := g.Get(n)
	if !ok {
		return fmt.Errorf("%w: no generation %d", projection.ErrGenerationState, n)
	}
	if gen.State == projection.GenActive {
		return fmt.Errorf("%w: generation %d is active; switch to another first", projection.ErrGenerationState, n)
	}
	var deleteReadModel func(context.Context) (what string, count int, err error)
	if dataDir != "" {
		dir := filepath.Join(dataDir, "sqlite")
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("--data %s holds no embedded read model (no %s directory): give the --data of chronos dev", dataDir, dir)
		}
		deleteReadModel = func(context.Context) (string, int, error) {
			removed, err := wiring.DropSQLiteGeneration(dir, n)
			for _, f := range removed {
				fmt.Fprintf(r.stdout, "deleted file %s\n", f)
			}
			if err == nil && len(removed) == 0 {
				fmt.Fprintf(r.stdout, "generation %d had no file in %s (%s)\n", n, dir, filepath.Base(wiring.SQLiteFile(dir, n)))
			}
			return "files", len(removed), err
		}
	} else {
		var clients []*mongo.Client
		defer func() {
			for _, c := range clients {
				_ = c.Disconnect(context.Background())
			}
		}()
		for i, uri := range mongoURIs {
			client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
			if err != nil {
				return fmt.Errorf("connect to mongodb (--mongo #%d): %w", i+1, err)
			}
			clients = append(clients, client)
			if err := client.Ping(ctx, nil); err != nil {
				return fmt.Errorf("mongodb of --mongo #%d does not answer (for chronos dev's embedded SQLite read model give --data DIR instead): %w", i+1, err)
			}
		}
		deleteReadModel = func(ctx context.Context) (string, int, error) {
			count := 0
			for _, client := range clients {
				dropped, err := wiring.DropGenerationDatabases(ctx, client, n)
				for _, name := range dropped {
					fmt.Fprintf(r.stdout, "dropped database %s\n", name)
				}
				count += len(dropped)
				if err != nil {
					return "databases", count, err
				}
			}
			return "databases", count, nil
		}
	}
	if _, err := r.reg.Remove(ctx, n); err != nil {
		return err
	}
	// Running projectors of n stop, and query services let it go, when
	// they see the document change.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(grace):
	}
	if err := projection.DropGenerationConsumers(ctx, r.l, gen); err != nil {
		return err
	}
	what, count, err := deleteReadModel(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(r.stdout, "generation %d dropped (%d %s, consumer %s)\n", n, count, what, gen.Durable)
	return nil
}

// uriList is a repeatable string flag.
type uriList []string

func (u *uriList) String() string { return strings.Join(*u, " ") }

func (u *uriList) Set(v string) error {
	if !strings.HasPrefix(v, "mongodb://") && !strings.HasPrefix(v, "mongodb+srv://") {
		return fmt.Errorf("%q is not a MongoDB URI (mongodb://... or mongodb+srv://...)", v)
	}
	*u = append(*u, v)
	return nil
}
