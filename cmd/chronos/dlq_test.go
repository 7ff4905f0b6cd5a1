package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/internal/testenv"
	clog "github.com/chronos-go/chronos/log"
)

func TestDLQCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := testenv.StartNATS(t)
	_, js := n.Connect(t)
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := runDLQ(append(args, "--nats", n.URL), &out, &errb)
		return code, out.String(), errb.String()
	}

	if code, _, stderr := run("ls"); code != 1 || !strings.Contains(stderr, "CHRONOS_DLQ does not exist") {
		t.Fatalf("ls without streams: %d %q", code, stderr)
	}

	// Dead-letter one event, as a consumer would.
	if err := clog.EnsureStreams(ctx, js, clog.Config{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	l, err := clog.Open(ctx, js, events.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := fallbackq.EnsureDLQ(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	coll := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "orders"}
	now := time.Now().UTC()
	ev := &events.Event{V: events.Version, Op: events.OpCreate, At: now, InsertedAt: now, Payload: json.RawMessage(`{"sku":"A-1","qty":2}`)}
	if _, err := l.Append(ctx, coll.Item("o1"), ev, clog.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := l.EnsureConsumer(ctx, 0, clog.ConsumerOptions{Durable: "offloader"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fallbackq.NewDLQ(js, nil).Add(ctx, "offloader", m, errors.New("store answered 403")); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := run("ls", "--consumer", "offloader")
	if code != 0 || !strings.HasPrefix(stdout, "SEQ  CONSUMER   SUBJECT ") ||
		!strings.Contains(stdout, "1    offloader  chronos.evt.0.runtime.tenant.acme.orders.o1  1         store answered 403") {
		t.Fatalf("ls: %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, _ := run("ls", "--tenant", "other"); code != 0 || !strings.Contains(stdout, "no matching entry") {
		t.Fatalf("ls --tenant other: %d %s", code, stdout)
	}
	code, stdout, _ = run("show", "1")
	if code != 0 || !strings.Contains(stdout, "Chronos-Error: store answered 403") || !strings.Contains(stdout, "\"payload\": {\n    \"sku\": \"A-1\",") {
		t.Fatalf("show: %d\n%s", code, stdout)
	}
	if code, _, stderr := run("show", "7"); code != 1 || !strings.Contains(stderr, "not found") {
		t.Fatalf("show 7: %d %s", code, stderr)
	}
	if code, _, stderr := run("show", "x"); code != 2 || !strings.Contains(stderr, "not a DLQ sequence") {
		t.Fatalf("show x: %d %s", code, stderr)
	}
	if code, _, stderr := run("replay", "1"); code != 1 || !strings.Contains(stderr, "takes no replays") {
		t.Fatalf("replay without a replay consumer: %d %s", code, stderr)
	}
	if code, _, _ := run("replay"); code != 2 {
		t.Fatalf("replay without SEQ or --all: %d", code)
	}
	if code, stdout, _ := run("purge", "--older-than", "1h"); code != 0 || stdout != "purged 0 entries\n" {
		t.Fatalf("purge --older-than 1h: %d %q", code, stdout)
	}
	if code, stdout, _ := run("purge"); code != 0 || stdout != "purged 1 entries\n" {
		t.Fatalf("purge: %d %q", code, stdout)
	}
}
