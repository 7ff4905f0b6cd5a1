package tenancy

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/chronos-go/chronos/events"
)

// fakeBlobs is a BlobOpener that counts what it opens and closes.
type fakeBlobs struct {
	mu      sync.Mutex
	opens   map[string]int // spaces ref → opens
	buckets map[string]int // ref/bucket → Bucket calls
	closed  map[string]int
}

type fakeClient struct {
	f   *fakeBlobs
	ref string
	sc  SpacesConnection
}

type fakeBucket struct{ ref, name, kind string }

func (c *fakeClient) Bucket(ctx context.Context, name string) (fakeBucket, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.buckets[c.ref+"/"+name]++
	return fakeBucket{c.ref, name, kindOf(c.sc)}, nil
}

func (c *fakeClient) Close(ctx context.Context) error {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.closed[c.ref]++
	return nil
}

func (f *fakeBlobs) open(ctx context.Context, ref string, sc SpacesConnection) (BlobClient[fakeBucket], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens[ref]++
	return &fakeClient{f: f, ref: ref, sc: sc}, nil
}

func TestPoolSharesConnections(t *testing.T) {
	ctx := context.Background()
	r := newTestRouter(t, routingConfig)
	f := &fakeBlobs{opens: map[string]int{}, buckets: map[string]int{}, closed: map[string]int{}}
	var connects atomic.Int64
	pool := NewPool[fakeBucket](f.open, PoolOptions{ConnectMongo: func(ctx context.Context, uri ConnString) (*mongo.Client, error) {
		connects.Add(1)
		// The driver connects lazily: no server is needed here.
		return mongo.Connect(ctx, options.Client().ApplyURI(uri.Reveal()))
	}})

	var routes []Route
	for _, db := range AllDBTypes {
		for _, c := range []events.Collection{
			{DBType: db, Tier: events.TierTenant, Scope: "acme", Name: "a"},
			{DBType: db, Tier: events.TierDomain, Scope: "fin", Name: "b"},
			{DBType: db, Tier: events.TierGeneric, Scope: "_", Name: "c"},
			{DBType: db, Tier: events.TierTenant, Scope: "acme", Name: "other-collection"},
		} {
			rt, err := r.Route(c)
			if err != nil {
				t.Fatal(err)
			}
			routes = append(routes, rt)
		}
	}
	clients := map[ConnString]*mongo.Client{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ { // concurrent first uses
		for _, rt := range routes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := pool.Mongo(ctx, rt.MongoURI)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := pool.Bucket(ctx, rt, rt.Buckets.Versions); err != nil {
					t.Error(err)
				}
				mu.Lock()
				defer mu.Unlock()
				if prev, ok := clients[rt.MongoURI]; ok && prev != c {
					t.Errorf("two clients for %s", rt.MongoURI)
				}
				clients[rt.MongoURI] = c
			}()
		}
	}
	wg.Wait()
	// main and dup share a URI: two distinct URIs, two clients.
	if got := connects.Load(); got != 2 || len(clients) != 2 {
		t.Errorf("%d connects, %d clients for 2 distinct URIs", got, len(clients))
	}
	for ref, n := range f.opens {
		if n != 1 {
			t.Errorf("spaces ref %q opened %d times", ref, n)
		}
	}
	if len(f.opens) != 3 { // s3, az, "" (localStorage)
		t.Errorf("opened spaces refs %v, want s3, az and localStorage", f.opens)
	}
	for b, n := range f.buckets {
		if n != 1 {
			t.Errorf("bucket %q opened %d times", b, n)
		}
	}
	b, err := pool.Bucket(ctx, routes[0], routes[0].Buckets.Versions)
	if err != nil || b.name != "run-acme" || b.kind != BackendLocal || b.ref != "" {
		t.Errorf("Bucket = %+v, %v", b, err)
	}
	m, _ := r.Messaging()
	if _, err := pool.Bucket(ctx, m, "x"); err == nil {
		t.Error("Bucket of a MongoDB-only route succeeded")
	}

	if err := pool.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for ref := range f.opens {
		if f.closed[ref] != 1 {
			t.Errorf("spaces ref %q closed %d times, want 1", ref, f.closed[ref])
		}
	}
	if _, err := pool.Mongo(ctx, routes[0].MongoURI); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("Mongo after Close = %v, want ErrPoolClosed", err)
	}
	if _, err := pool.Bucket(ctx, routes[0], "x"); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("Bucket after Close = %v, want ErrPoolClosed", err)
	}
}

func TestPoolDoesNotCacheFailures(t *testing.T) {
	var calls atomic.Int64
	boom := errors.New("boom")
	pool := NewPool[any](nil, PoolOptions{ConnectMongo: func(ctx context.Context, uri ConnString) (*mongo.Client, error) {
		if calls.Add(1) == 1 {
			return nil, boom
		}
		return mongo.Connect(ctx, options.Client().ApplyURI(uri.Reveal()))
	}})
	ctx := context.Background()
	if _, err := pool.Mongo(ctx, "mongodb://127.0.0.1:1"); !errors.Is(err, boom) {
		t.Fatalf("first Mongo = %v, want boom", err)
	}
	if _, err := pool.Mongo(ctx, "mongodb://127.0.0.1:1"); err != nil {
		t.Fatalf("second Mongo = %v, want a retry that works", err)
	}
	if err := pool.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
