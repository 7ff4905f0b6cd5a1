package testenv

import (
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	chronoslog "github.com/chronos-go/chronos/log"
)

// NATS is a nats-server with JetStream that a test can use.
type NATS struct {
	// URL is the nats:// URL clients connect to.
	URL string
}

// StartNATS returns a nats-server with JetStream enabled, answering on URL.
//
// By default it is a new server embedded in the test process, on a free
// port of 127.0.0.1, with its store in t.TempDir(), shut down at cleanup;
// two calls give two independent servers. When CHRONOS_TEST_NATS_URL is set,
// it returns that server instead, shared by every test (see the package
// documentation for the naming rules this imposes).
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	if url := os.Getenv("CHRONOS_TEST_NATS_URL"); url != "" {
		return &NATS{URL: url}
	}
	begin := time.Now()
	e, err := chronoslog.StartEmbedded(chronoslog.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("testenv: start embedded nats-server: %v", err)
	}
	t.Cleanup(e.Shutdown)
	t.Logf("testenv: nats-server ready at %s in %s", e.ClientURL(), time.Since(begin).Round(time.Millisecond))
	return &NATS{URL: e.ClientURL()}
}

// Connect returns a connection to the server and a JetStream context on
// it, both closed at cleanup (before the server stops, when the server
// came from StartNATS in the same test).
func (n *NATS) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(n.URL, nats.Name("chronos-test "+t.Name()), nats.Timeout(10*time.Second))
	if err != nil {
		t.Fatalf("testenv: connect to nats at %s: %v", n.URL, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("testenv: jetstream on %s: %v", n.URL, err)
	}
	return nc, js
}
