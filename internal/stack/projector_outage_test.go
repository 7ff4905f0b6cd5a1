package stack_test

import (
	"context"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/chronos-go/chronos/projection"
	"github.com/chronos-go/chronos/projection/mongostore"
)

// MongoDB unreachable for ~30 s while writes go on: the projector retries
// in place, then catches up with nothing lost or counted twice.
func TestProjectorMongoOutage(t *testing.T) {
	ctx := context.Background()
	_, _, l, prog := startLog(t, 2)

	// The embedded server on a fixed dir and port, so that it can come back.
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	start := func() *mongostore.Embedded {
		e, err := mongostore.StartEmbedded(ctx, mongostore.EmbeddedOptions{Dir: dir, Addr: addr})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	srv := start()
	t.Cleanup(func() { _ = srv.Close() })

	st := openFaultStore(ctx, t, srv.URI(), "outage")
	defer st.Close(ctx)
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	p := projection.NewProjector(l, st, projection.ProjectorOptions{BatchSize: 16, MaxRetryDelay: 2 * time.Second})
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()

	load := newFaultLoad(l)
	rng := rand.New(rand.NewPCG(1, 2))
	load.write(ctx, t, rng, 40)
	waitProjected(t, l, prog, "projector", time.Minute)

	// Outage: the server goes away; writes go on into the log.
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	load.write(ctx, t, rng, 60)
	part := l.Partition(faultColl)
	before, _ := prog.Get(ctx, "projector", part)
	time.Sleep(30*time.Second - time.Since(down))
	during, _ := prog.Get(ctx, "projector", part)
	if during != before {
		t.Fatalf("the projector moved from %d to %d while MongoDB was down", before, during)
	}
	srv = start()
	t.Logf("MongoDB back after %v", time.Since(down).Round(time.Second))
	began := time.Now()
	waitProjected(t, l, prog, "projector", 2*time.Minute)
	t.Logf("caught up %v after MongoDB came back", time.Since(began).Round(time.Millisecond))
	load.check(ctx, t, st)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("projector: %v", err)
	}
}
