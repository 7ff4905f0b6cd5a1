package mongostore

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

func TestEmbeddedSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()

	start := time.Now()
	e := startEmbedded(ctx, t, dir)
	t.Logf("cold start in %s at %s", time.Since(start), e.URI())
	if !strings.HasPrefix(e.URI(), "mongodb://127.0.0.1:") {
		t.Errorf("URI = %q, want mongodb://127.0.0.1:PORT/", e.URI())
	}
	client := connect(ctx, t, e.URI())
	coll := client.Database("embedded_test").Collection("items")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 1}}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	disconnect(t, client)
	if err := e.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}

	start = time.Now()
	e = startEmbedded(ctx, t, dir)
	t.Logf("warm start in %s", time.Since(start))
	client = connect(ctx, t, e.URI())
	defer disconnect(t, client)
	var got struct {
		ID string `bson:"_id"`
		N  int    `bson:"n"`
	}
	err := client.Database("embedded_test").Collection("items").
		FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&got)
	if err != nil {
		t.Fatalf("find after restart: %v", err)
	}
	if got.ID != "a" || got.N != 1 {
		t.Fatalf("after restart got %+v, want {a 1}", got)
	}
}

func TestStartEmbeddedRequiresDir(t *testing.T) {
	if _, err := StartEmbedded(context.Background(), EmbeddedOptions{}); err == nil {
		t.Fatal("StartEmbedded without Dir succeeded")
	}
}

func TestStartEmbeddedAddrInUse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := startEmbedded(ctx, t, t.TempDir())
	addr := strings.TrimSuffix(strings.TrimPrefix(e.URI(), "mongodb://"), "/")
	_, err := StartEmbedded(ctx, EmbeddedOptions{Dir: t.TempDir(), Addr: addr})
	if err == nil {
		t.Fatalf("second server on %s started", addr)
	}
	t.Logf("error: %v", err)
	// A failed ferretdb.New leaks a backend whose finalizer panics: make
	// sure none was leaked.
	runtime.GC()
	runtime.GC()
	time.Sleep(100 * time.Millisecond)
}

func startEmbedded(ctx context.Context, t *testing.T, dir string) *Embedded {
	t.Helper()
	e, err := StartEmbedded(ctx, EmbeddedOptions{Dir: dir})
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func connect(ctx context.Context, t *testing.T, uri string) *mongo.Client {
	t.Helper()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatalf("connect %s: %v", uri, err)
	}
	return client
}

func disconnect(t *testing.T, c *mongo.Client) {
	t.Helper()
	if err := c.Disconnect(context.Background()); err != nil {
		t.Errorf("disconnect: %v", err)
	}
}
