package client_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/stack"
	clog "github.com/chronos-go/chronos/log"
)

// One real Chronos for the package's tests and examples: an embedded
// nats-server, and the all-in-one stack (ingest, query, projector,
// offloader, embedded MongoDB-compatible read model) on top of it.
var (
	srv     *stack.Stack
	apiURL  string // base URL of the HTTP API
	natsURL string // the nats-server the stack's log lives on
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "chronos-client-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ns, err := clog.StartEmbedded(clog.EmbeddedOptions{StoreDir: filepath.Join(dir, "nats-embedded")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer ns.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err = stack.Start(ctx, stack.Config{DataDir: dir, Addr: "127.0.0.1:0", NATSURL: ns.ClientURL(), Partitions: 4})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Close()
	apiURL, natsURL = srv.URL(), ns.ClientURL()
	return m.Run()
}

// coll returns a collection of its own for test t.
func coll(t testing.TB) events.Collection {
	t.Helper()
	name := "t" + fmt.Sprint(time.Now().UnixNano())
	return events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: name}
}

// eventually polls f until it holds, or fails t after 30 seconds.
func eventually(t testing.TB, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
