package tenancy

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// ErrPoolClosed is returned by a Pool after Close.
var ErrPoolClosed = errors.New("chronos: connection pool closed")

// BlobClient is one open connection to a blob service (an S3 endpoint, an
// Azure account, a local base directory), from which bucket handles of type
// B are made. Implementations live with the blob backends (offload); this
// package only caches them.
type BlobClient[B any] interface {
	// Bucket returns the handle of one bucket. The Pool calls it once per
	// (spaces ref, bucket) and caches the result.
	Bucket(ctx context.Context, name string) (B, error)
	// Close releases the client. The Pool calls it once, from Close.
	Close(ctx context.Context) error
}

// BlobOpener opens the client of one spaces connection. The Pool calls it
// at most once per spaces ref at a time (again only after a failure).
// ref is "" for localStorage, whose settings come as type local with its
// basePath.
type BlobOpener[B any] func(ctx context.Context, ref string, sc SpacesConnection) (BlobClient[B], error)

// PoolOptions configure a Pool. The zero value is valid.
type PoolOptions struct {
	// ConnectMongo makes the client of one URI; default mongo.Connect with
	// the URI applied. It is called once per distinct URI (again only
	// after a failure).
	ConnectMongo func(ctx context.Context, uri ConnString) (*mongo.Client, error)
}

// Pool shares connections across scopes: ONE mongo.Client per distinct
// MongoDB URI and ONE BlobClient per spaces ref, each opened lazily on
// first use, and one bucket handle per (spaces ref, bucket). It is safe for
// concurrent use; concurrent first uses of a key wait for one open. An open
// that fails is not cached. Close closes everything it opened.
type Pool[B any] struct {
	openBlob BlobOpener[B]
	connect  func(ctx context.Context, uri ConnString) (*mongo.Client, error)

	mu struct {
		sync.Mutex
		closed  bool
		mongo   map[ConnString]*lazy[*mongo.Client]
		clients map[string]*lazy[BlobClient[B]]
		buckets map[[2]string]*lazy[B]
	}
}

// lazy is a value opened once, shared by concurrent callers.
type lazy[T any] struct {
	ready chan struct{}
	v     T
	err   error
}

// NewPool returns an empty pool that opens blob clients with openBlob (nil
// if the pool serves MongoDB only).
func NewPool[B any](openBlob BlobOpener[B], o PoolOptions) *Pool[B] {
	p := &Pool[B]{openBlob: openBlob, connect: o.ConnectMongo}
	if p.connect == nil {
		p.connect = func(ctx context.Context, uri ConnString) (*mongo.Client, error) {
			return mongo.Connect(ctx, options.Client().ApplyURI(uri.Reveal()))
		}
	}
	p.mu.mongo = map[ConnString]*lazy[*mongo.Client]{}
	p.mu.clients = map[string]*lazy[BlobClient[B]]{}
	p.mu.buckets = map[[2]string]*lazy[B]{}
	return p
}

// get returns the value of m[key], opening it with open if absent. The
// lock is not held while opening.
func get[K comparable, T any](ctx context.Context, mu *sync.Mutex, closed *bool, m map[K]*lazy[T], key K, open func() (T, error)) (T, error) {
	var zero T
	mu.Lock()
	if *closed {
		mu.Unlock()
		return zero, ErrPoolClosed
	}
	l, ok := m[key]
	if !ok {
		l = &lazy[T]{ready: make(chan struct{})}
		m[key] = l
		mu.Unlock()
		l.v, l.err = open()
		if l.err != nil {
			mu.Lock()
			if m[key] == l {
				delete(m, key)
			}
			mu.Unlock()
		}
		close(l.ready)
		return l.v, l.err
	}
	mu.Unlock()
	select {
	case <-l.ready:
		return l.v, l.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Mongo returns the shared client of uri, connecting on first use. Errors
// never contain the URI's password.
func (p *Pool[B]) Mongo(ctx context.Context, uri ConnString) (*mongo.Client, error) {
	return get(ctx, &p.mu.Mutex, &p.mu.closed, p.mu.mongo, uri, func() (*mongo.Client, error) {
		c, err := p.connect(ctx, uri)
		if err != nil {
			return nil, fmt.Errorf("chronos: connect to mongodb %s: %w", uri, scrub(err, uri.Reveal()))
		}
		return c, nil
	})
}

// ListDatabaseNames lists the databases at uri through the shared client.
// It is a DatabaseLister for RouterOptions.
func (p *Pool[B]) ListDatabaseNames(ctx context.Context, uri ConnString) ([]string, error) {
	c, err := p.Mongo(ctx, uri)
	if err != nil {
		return nil, err
	}
	names, err := c.ListDatabaseNames(ctx, bson.D{}, options.ListDatabases().SetNameOnly(true))
	if err != nil {
		return nil, fmt.Errorf("chronos: list databases of %s: %w", uri, scrub(err, uri.Reveal()))
	}
	return names, nil
}

// Bucket returns the shared handle of bucket name in r's blob store,
// opening the store's client on first use. Errors never contain a key.
func (p *Pool[B]) Bucket(ctx context.Context, r Route, name string) (B, error) {
	var zero B
	if p.openBlob == nil {
		return zero, errors.New("chronos: the pool has no BlobOpener")
	}
	if r.Backend == "" {
		return zero, fmt.Errorf("chronos: route of %s has no blob store", r.Collection)
	}
	client, err := get(ctx, &p.mu.Mutex, &p.mu.closed, p.mu.clients, r.SpaceConnRef, func() (BlobClient[B], error) {
		c, err := p.openBlob(ctx, r.SpaceConnRef, r.Spaces)
		if err != nil {
			return nil, fmt.Errorf("chronos: open blob store %q: %w", r.SpaceConnRef, scrub(err, r.Spaces.AccessKey.Reveal(), r.Spaces.SecretKey.Reveal()))
		}
		return c, nil
	})
	if err != nil {
		return zero, err
	}
	return get(ctx, &p.mu.Mutex, &p.mu.closed, p.mu.buckets, [2]string{r.SpaceConnRef, name}, func() (B, error) {
		b, err := client.Bucket(ctx, name)
		if err != nil {
			return zero, fmt.Errorf("chronos: open bucket %q of %q: %w", name, r.SpaceConnRef, scrub(err, r.Spaces.AccessKey.Reveal(), r.Spaces.SecretKey.Reveal()))
		}
		return b, nil
	})
}

// Close disconnects every MongoDB client and closes every blob client the
// pool opened, waiting for opens in flight, all within ctx. Later calls of
// Mongo and Bucket return ErrPoolClosed. It returns every failure, joined.
func (p *Pool[B]) Close(ctx context.Context) error {
	p.mu.Lock()
	p.mu.closed = true
	mongos := p.mu.mongo
	clients := p.mu.clients
	p.mu.mongo, p.mu.clients, p.mu.buckets = map[ConnString]*lazy[*mongo.Client]{}, map[string]*lazy[BlobClient[B]]{}, map[[2]string]*lazy[B]{}
	p.mu.Unlock()

	var errs []error
	for uri, l := range mongos {
		select {
		case <-l.ready:
		case <-ctx.Done():
			return errors.Join(append(errs, ctx.Err())...)
		}
		if l.err == nil && l.v != nil {
			if err := l.v.Disconnect(ctx); err != nil {
				errs = append(errs, fmt.Errorf("chronos: disconnect from mongodb %s: %w", uri, scrub(err, uri.Reveal())))
			}
		}
	}
	for ref, l := range clients {
		select {
		case <-l.ready:
		case <-ctx.Done():
			return errors.Join(append(errs, ctx.Err())...)
		}
		if l.err == nil && l.v != nil {
			if err := l.v.Close(ctx); err != nil {
				errs = append(errs, fmt.Errorf("chronos: close blob store %q: %w", ref, err))
			}
		}
	}
	return errors.Join(errs...)
}
