package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/svc"
)

// runRestore is `chronos restore`: return a whole collection to its state
// at a collection version or a time, with a progress line on stderr.
func runRestore(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chronos restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defNATS, _ := svc.AdminDefaults()
	natsURL := fs.String("nats", defNATS, "NATS server URL (default: the configuration file's, else localhost)")
	coll := fs.String("collection", "", "the collection: dbType/tier/scope/name, e.g. runtime/tenant/acme/orders")
	cv := fs.Uint64("cv", 0, "restore to this collection version (a seq returned by a write)")
	at := fs.String("at", "", "restore to the state at this RFC 3339 time")
	reason := fs.String("reason", "collection restore", "reason recorded on every event written")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c, err := parseCollection(*coll)
	if err != nil {
		fmt.Fprintf(stderr, "chronos restore: %v\n", err)
		return 2
	}
	var t ingest.CollectionTarget
	cvSet := false
	fs.Visit(func(f *flag.Flag) { cvSet = cvSet || f.Name == "cv" })
	switch {
	case cvSet && *at != "":
		fmt.Fprintln(stderr, "chronos restore: give --cv or --at, not both")
		return 2
	case cvSet:
		t.CV = cv
	case *at != "":
		tm, err := time.Parse(time.RFC3339Nano, *at)
		if err != nil {
			fmt.Fprintf(stderr, "chronos restore: --at %q is not an RFC 3339 time\n", *at)
			return 2
		}
		t.At = &tm
	default:
		fmt.Fprintln(stderr, "chronos restore: give --cv N or --at TIME")
		return 2
	}
	ctx, stop := svc.SignalContext()
	defer stop()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	nc, l, err := svc.ConnectLog(cctx, *natsURL, "chronos-restore", nil)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "chronos restore: %v\n", err)
		return 1
	}
	defer nc.Close()
	svcIngest := ingest.New(l, ingest.Options{})
	bar := newProgressBar(stderr, "restoring")
	rep, err := svcIngest.RestoreCollection(ctx, c, t, ingest.Write{Actor: &events.Actor{Type: "cli", Identifier: "chronos-restore"}, Reason: *reason}, bar.update)
	bar.finish()
	if err != nil {
		fmt.Fprintf(stderr, "chronos restore: %v (items done so far stay done; run it again to finish)\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "changed after the target: %d\nrestored: %d\ndeleted: %d\nunchanged: %d\n", rep.Changed, rep.Restored, rep.Deleted, rep.Unchanged)
	if len(rep.Failed) > 0 {
		fmt.Fprintf(stdout, "failed (written concurrently; run again): %s\n", strings.Join(rep.Failed, ", "))
		return 1
	}
	return 0
}

func parseCollection(s string) (events.Collection, error) {
	p := strings.Split(s, "/")
	if len(p) != 4 {
		return events.Collection{}, fmt.Errorf("--collection %q: want dbType/tier/scope/name, e.g. runtime/tenant/acme/orders", s)
	}
	c := events.Collection{DBType: events.DBType(p[0]), Tier: events.Tier(p[1]), Scope: p[2], Name: p[3]}
	return c, c.Validate()
}

// progressBar prints "label done/total (pct) rate/s ETA" on one line,
// at most every 200 ms.
type progressBar struct {
	w     io.Writer
	label string
	start time.Time
	mu    sync.Mutex
	last  time.Time
	shown bool
}

func newProgressBar(w io.Writer, label string) *progressBar {
	return &progressBar{w: w, label: label, start: time.Now()}
}

func (p *progressBar) update(done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if done < total && now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last, p.shown = now, true
	el := now.Sub(p.start).Seconds()
	rate := float64(done) / max(el, 1e-3)
	eta := "?"
	if rate > 0 {
		eta = (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r%s %d/%d items (%.0f%%) %.0f items/s ETA %s   ", p.label, done, total, 100*float64(done)/float64(max(total, 1)), rate, eta)
}

func (p *progressBar) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprintln(p.w)
	}
}
