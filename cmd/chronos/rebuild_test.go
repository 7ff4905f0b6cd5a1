package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/chronos-go/chronos/internal/testenv"
	clog "github.com/chronos-go/chronos/log"
)

// drop with several --mongo deployments checks that every one answers
// before it changes anything, then drops the generation's databases on
// each.
func TestRebuildDropEveryDeployment(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := testenv.StartNATS(t)
	_, js := n.Connect(t)
	if err := clog.EnsureStreams(ctx, js, clog.Config{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	a, b := testenv.StartMongo(t), testenv.StartMongo(t)
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := runRebuild(append(args, "--nats", n.URL, "--grace", "0s"), &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := run("start", "--no-wait"); code != 0 {
		t.Fatalf("start: %d %s", code, out)
	}
	// Generation 2's databases on both deployments (as a projector of
	// generation 2 would have made them), and one of generation 1.
	dbA, dbB, keep := "g2_"+a.Prefix+"runtime", "g2_"+b.Prefix+"runtime", a.Prefix+"runtime"
	for _, d := range []struct {
		m    *testenv.Mongo
		name string
	}{{a, dbA}, {b, dbB}, {a, keep}} {
		if _, err := d.m.Client.Database(d.name).Collection("orders_head").InsertOne(ctx, bson.D{{Key: "_id", Value: "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	// One deployment that does not answer: nothing changes.
	if code, out := run("drop", "2", "--mongo", a.URI, "--mongo", "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500", "--timeout", "5s"); code == 0 || !strings.Contains(out, "--mongo #2 does not answer") {
		t.Fatalf("drop with a dead deployment: %d %s", code, out)
	}
	if code, out := run("status"); code != 0 || !strings.Contains(out, "projector_g2") {
		t.Fatalf("status after the refused drop: %d %s", code, out)
	}
	names := func(m *testenv.Mongo) []string {
		ns, err := m.Client.ListDatabaseNames(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		return ns
	}
	if !slices.Contains(names(a), dbA) || !slices.Contains(names(b), dbB) {
		t.Fatal("a refused drop deleted databases")
	}
	if code, out := run("drop", "2", "--mongo", a.URI, "--mongo", b.URI); code != 0 {
		t.Fatalf("drop: %d %s", code, out)
	}
	if slices.Contains(names(a), dbA) || slices.Contains(names(b), dbB) {
		t.Fatalf("generation 2's databases remain: %v / %v", names(a), names(b))
	}
	if !slices.Contains(names(a), keep) {
		t.Fatalf("generation 1's database was dropped: %v", names(a))
	}
	if code, out := run("drop", "2", "--mongo", "http://nope"); code != 2 || !strings.Contains(out, "is not a MongoDB URI") {
		t.Fatalf("--mongo http://: %d %s", code, out)
	}
}
