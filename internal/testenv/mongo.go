package testenv

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/chronos-go/chronos/projection/mongostore"
)

// Mongo is a MongoDB-compatible server that a test can use, with a
// connected client.
type Mongo struct {
	// URI is the connection string, mongodb://...
	URI string
	// Client is connected to URI; it is disconnected at cleanup, before
	// the server stops.
	Client *mongo.Client
	// Prefix is unique to this call and at most 20 characters of
	// [a-z0-9_], safe at the start of a database name. Tests name their
	// databases Prefix+"...": on a shared server, those are dropped at
	// cleanup.
	Prefix string
}

// StartMongo returns a MongoDB-compatible server that answers pings, and a
// client connected to it.
//
// By default it is FerretDB (SQLite handler) embedded in the test process
// through mongostore.StartEmbedded, on a free port of 127.0.0.1, with its
// data in t.TempDir(), stopped at cleanup; FerretDB's limits are in
// DESIGN.md. When CHRONOS_TEST_MONGO_URI is set, it returns that server (a
// real MongoDB) instead, and drops the databases whose names start with
// Prefix at cleanup.
func StartMongo(t testing.TB) *Mongo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	m := &Mongo{Prefix: "t" + randomHex(6) + "_"}
	external := os.Getenv("CHRONOS_TEST_MONGO_URI")
	if external != "" {
		m.URI = external
	} else {
		begin := time.Now()
		e, err := mongostore.StartEmbedded(ctx, mongostore.EmbeddedOptions{Dir: t.TempDir()})
		if err != nil {
			t.Fatalf("testenv: start embedded FerretDB: %v", err)
		}
		t.Cleanup(func() { _ = e.Close() })
		t.Logf("testenv: FerretDB ready at %s in %s", e.URI(), time.Since(begin).Round(time.Millisecond))
		m.URI = e.URI()
	}

	client, err := mongo.Connect(ctx, options.Client().ApplyURI(m.URI).
		SetServerSelectionTimeout(30*time.Second))
	if err != nil {
		t.Fatalf("testenv: connect to mongo at %s: %v", redactURI(m.URI), err)
	}
	m.Client = client
	// Registered after the server's stop, so it runs before it.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if external != "" {
			m.dropPrefixed(ctx, t)
		}
		if err := client.Disconnect(ctx); err != nil {
			t.Errorf("testenv: disconnect from mongo: %v", err)
		}
	})
	if err := client.Ping(ctx, nil); err != nil {
		t.Fatalf("testenv: mongo at %s does not answer: %v", redactURI(m.URI), err)
	}
	return m
}

// dropPrefixed drops the databases whose names start with m.Prefix.
func (m *Mongo) dropPrefixed(ctx context.Context, t testing.TB) {
	names, err := m.Client.ListDatabaseNames(ctx, bson.D{})
	if err != nil {
		t.Errorf("testenv: list databases to drop %s*: %v", m.Prefix, err)
		return
	}
	for _, name := range names {
		if !strings.HasPrefix(name, m.Prefix) {
			continue
		}
		if err := m.Client.Database(name).Drop(ctx); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	}
}

// redactURI hides the password of a connection string in messages.
func redactURI(uri string) string {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return uri
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return uri
	}
	user, _, hasPass := strings.Cut(userinfo, ":")
	if !hasPass {
		return uri
	}
	return scheme + "://" + user + ":xxxxx@" + host
}
