package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/internal/svc"
)

const dlqUsage = `Usage:
  chronos dlq ls [--consumer C] [--tenant T]   list dead-lettered events
  chronos dlq show SEQ                         one entry: its headers and the event
  chronos dlq replay SEQ                       send an entry back to its consumer
  chronos dlq replay --all [--consumer C] [--tenant T]
  chronos dlq purge [--older-than D]           remove entries (all of them without
                                               --older-than), e.g. --older-than 168h

A replayed entry leaves the DLQ once its consumer has processed it.

Every subcommand takes:
  --nats URL     NATS server (default $CHRONOS_NATS_URL, else nats://127.0.0.1:4222)
  --timeout D    give up after D (default 30s)
`

// runDLQ runs `chronos dlq ARGS` and returns the exit code.
func runDLQ(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, dlqUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("chronos dlq "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, dlqUsage) }
	defNATS, _ := svc.AdminDefaults()
	natsURL := fs.String("nats", defNATS, "NATS server URL (default: the configuration file's, else localhost)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	var f fallbackq.Filter
	var all bool
	var olderThan time.Duration
	switch cmd {
	case "ls", "replay":
		fs.StringVar(&f.Consumer, "consumer", "", "only entries of this consumer")
		fs.StringVar(&f.Tenant, "tenant", "", "only entries of this tenant's collections")
		if cmd == "replay" {
			fs.BoolVar(&all, "all", false, "replay every selected entry")
		}
	case "purge":
		fs.DurationVar(&olderThan, "older-than", 0, "only entries dead-lettered longer ago than this")
	case "show":
	default:
		fmt.Fprintf(stderr, "chronos dlq: unknown subcommand %q\n\n%s", cmd, dlqUsage)
		return 2
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "chronos dlq %s: %s\n", cmd, fmt.Sprintf(format, a...))
		return 2
	}
	var seq uint64
	switch {
	case cmd == "show" || cmd == "replay" && !all:
		if len(pos) != 1 && cmd == "replay" {
			return usageErr("give one DLQ sequence (see `chronos dlq ls`), or --all")
		}
		if len(pos) != 1 {
			return usageErr("give one DLQ sequence (see `chronos dlq ls`)")
		}
		if seq, err = strconv.ParseUint(pos[0], 10, 64); err != nil || seq == 0 {
			return usageErr("%q is not a DLQ sequence (a positive integer, as listed by `chronos dlq ls`)", pos[0])
		}
	case len(pos) > 0:
		return usageErr("unexpected argument %q", pos[0])
	}
	if cmd == "replay" && !all && (f.Consumer != "" || f.Tenant != "") {
		return usageErr("--consumer and --tenant select entries for --all")
	}
	if olderThan < 0 {
		return usageErr("--older-than must not be negative")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	nc, err := nats.Connect(*natsURL, nats.Name("chronos-dlq-cli"), nats.Timeout(5*time.Second))
	if err != nil {
		fmt.Fprintf(stderr, "chronos dlq: cannot connect to NATS at %s (set --nats or CHRONOS_NATS_URL): %v\n", *natsURL, err)
		return 1
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintf(stderr, "chronos dlq: %v\n", err)
		return 1
	}
	d := fallbackq.NewDLQ(js, nil)
	switch cmd {
	case "ls":
		err = dlqList(ctx, d, f, stdout)
	case "show":
		err = dlqShow(ctx, d, seq, stdout)
	case "replay":
		err = dlqReplay(ctx, d, seq, all, f, stdout, stderr)
	case "purge":
		var n int
		if n, err = d.Purge(ctx, olderThan); err == nil {
			fmt.Fprintf(stdout, "purged %d entries\n", n)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "chronos dlq %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// parseInterleaved parses flags placed before, between or after the
// positional arguments, which it returns.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
}

func dlqList(ctx context.Context, d *fallbackq.DLQ, f fallbackq.Filter, w io.Writer) error {
	entries, err := d.List(ctx, f)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		fmt.Fprintln(w, "the DLQ holds no matching entry")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tCONSUMER\tSUBJECT\tATTEMPTS\tERROR\tFAILED AT")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", e.Seq, e.Consumer, e.Subject, e.Attempts,
			cell(e.Error, 60), e.FailedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// cell makes s fit one table cell of at most n characters.
func cell(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func dlqShow(ctx context.Context, d *fallbackq.DLQ, seq uint64, w io.Writer) error {
	e, err := d.Get(ctx, seq)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "seq:        %d\nconsumer:   %s\nsubject:    %s\nlog:        %s seq %d\nattempts:   %d (%s)\nfailed at:  %s\nerror:      %s\n\nheaders:\n",
		e.Seq, e.Consumer, e.Subject, e.OrigStream, e.OrigSeq, e.Attempts, e.Class, e.FailedAt.Format(time.RFC3339Nano), e.Error)
	for _, k := range slices.Sorted(maps.Keys(e.Headers)) {
		for _, v := range e.Headers[k] {
			fmt.Fprintf(w, "  %s: %s\n", k, v)
		}
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, e.Data, "", "  ") == nil {
		fmt.Fprintf(w, "\nevent:\n%s\n", pretty.Bytes())
	} else {
		fmt.Fprintf(w, "\nbody (%d bytes, not JSON):\n%s\n", len(e.Data), e.Data)
	}
	return nil
}

func dlqReplay(ctx context.Context, d *fallbackq.DLQ, seq uint64, all bool, f fallbackq.Filter, stdout, stderr io.Writer) error {
	if !all {
		if err := d.Replay(ctx, seq); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "replayed entry %d; it leaves the DLQ once its consumer has processed it\n", seq)
		return nil
	}
	n, err := d.ReplayAll(ctx, f)
	fmt.Fprintf(stdout, "replayed %d entries; they leave the DLQ once their consumers have processed them\n", n)
	if err != nil && n > 0 && errors.Is(err, fallbackq.ErrNoReplayConsumer) {
		fmt.Fprintf(stderr, "chronos dlq replay: %v\n", err)
		return nil
	}
	return err
}
