package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/stack"
	"github.com/chronos-go/chronos/internal/testenv"
)

func TestRestoreCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", MongoURI: testenv.StartMongo(t).URI, NoWorkers: true, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "orders"}
	r, err := s.Ingest.Create(ctx, c, "a", []byte(`{"v":0}`), ingest.Write{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"b", "c"} {
		if _, err := s.Ingest.Create(ctx, c, id, []byte(`{"v":0}`), ingest.Write{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Ingest.Update(ctx, c.Item("a"), []byte(`{"v":1}`), ingest.Write{}); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := runRestore([]string{"--nats", s.NATSURL(), "--collection", "runtime/tenant/acme/orders", "--cv", strconv.FormatUint(r.Seq, 10)}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"changed after the target: 3", "restored: 1", "deleted: 2"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output %q lacks %q", out.String(), want)
		}
	}
	if !strings.Contains(errOut.String(), "restoring 3/3 items (100%)") {
		t.Fatalf("no final progress line in %q", errOut.String())
	}
	last, err := s.Log.Last(ctx, c.Item("a"))
	if err != nil || string(last.Event.Payload) != `{"v":0}` || last.Event.Reason != "collection restore" {
		t.Fatalf("a after restore: %+v %v", last, err)
	}
	for _, bad := range [][]string{
		{"--collection", "nope", "--cv", "1"},
		{"--collection", "runtime/tenant/acme/orders"},
		{"--collection", "runtime/tenant/acme/orders", "--cv", "1", "--at", "2026-01-01T00:00:00Z"},
		{"--collection", "runtime/tenant/acme/orders", "--at", "yesterday"},
	} {
		if code := runRestore(bad, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}
