// Package wiring turns a tenancy configuration into the parts every
// service runs on: the log settings, one MongoDB read model per
// deployment, blob stores per route, and the authorizer. It is the one
// place where cmd/* and `chronos dev` get their dependencies, so that no
// other package reads the environment or builds clients of its own.
package wiring

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chronos-go/chronos/events"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/offload/azure"
	"github.com/chronos-go/chronos/offload/local"
	"github.com/chronos-go/chronos/offload/s3"
	"github.com/chronos-go/chronos/offload/wrap"
	"github.com/chronos-go/chronos/projection/mongostore"
	"github.com/chronos-go/chronos/query"
	"github.com/chronos-go/chronos/tenancy"
)

// Deps are the shared dependencies of one process, built from a Config.
type Deps struct {
	Config  *tenancy.Config
	Router  *tenancy.Router
	Pool    *tenancy.Pool[offload.Store]
	metrics prometheus.Registerer
}

// Options tune Open.
type Options struct {
	// Metrics, when set, counts blob operations per backend.
	Metrics prometheus.Registerer
	// PresignBaseURL is where this process serves presigned local blob URLs
	// ("" disables presigning of local blobs).
	PresignBaseURL string
	// PresignSecret signs local presigned URLs; empty = random per process.
	PresignSecret []byte
}

// Open builds the router and the connection pool of cfg. Nothing connects
// until first use.
func Open(cfg *tenancy.Config, o Options) (*Deps, error) {
	d := &Deps{Config: cfg, metrics: o.Metrics}
	d.Pool = tenancy.NewPool[offload.Store](blobOpener(o), tenancy.PoolOptions{})
	r, err := tenancy.NewRouter(cfg, tenancy.RouterOptions{ListDatabases: d.Pool.ListDatabaseNames})
	if err != nil {
		return nil, err
	}
	d.Router = r
	return d, nil
}

// LogConfig returns the partition stream settings of the config.
func (d *Deps) LogConfig() clog.Config {
	n := d.Config.NATS
	return clog.Config{Partitions: n.Partitions, Replicas: n.Replicas, DuplicateWindow: time.Duration(n.DuplicateWindow)}
}

// NATSURL returns the configured NATS URL (credentials included).
func (d *Deps) NATSURL() string { return d.Config.NATS.URL.Reveal() }

// Blobs returns the resolver of the versions bucket of each collection,
// keys prefixed with the route's scope prefix so that scopes sharing a
// bucket never collide.
func (d *Deps) Blobs() offload.Resolver {
	return func(c events.Collection) (offload.Store, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rt, err := d.Router.RouteContext(ctx, c)
		if err != nil {
			return nil, err
		}
		st, err := d.Pool.Bucket(ctx, rt, rt.Buckets.Versions)
		if err != nil {
			return nil, fmt.Errorf("chronos: blob store of %s: %w", c, err)
		}
		return wrap.Prefix(st, rt.KeyPrefix), nil
	}
}

// ErrSeveralDeployments: the configuration spreads scopes over several
// MongoDB deployments, which this build's read model does not route yet.
var ErrSeveralDeployments = errors.New("chronos: scopes on several MongoDB deployments are not supported by this build's read model yet")

// ReadModel opens the MongoDB read model: databases named by the router.
// With uri set, that deployment is used instead of the configured one
// (chronos dev's embedded server).
func (d *Deps) ReadModel(ctx context.Context, uri string) (*mongostore.Store, error) {
	if uri == "" {
		uris := d.Router.MongoURIs()
		if len(uris) != 1 {
			return nil, fmt.Errorf("%w (%d configured)", ErrSeveralDeployments, len(uris))
		}
		uri = uris[0].Reveal()
	}
	client, err := d.Pool.Mongo(ctx, tenancy.ConnString(uri))
	if err != nil {
		return nil, err
	}
	route := func(c events.Collection) (tenancy.Route, bool) {
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rt, err := d.Router.RouteContext(rctx, c)
		return rt, err == nil
	}
	return mongostore.New(ctx, client, mongostore.Options{
		// An unroutable scope gets no name, which the store refuses: the
		// write that made it was validated by ingest, so this only happens
		// after the configuration dropped a scope that has events.
		Database: func(c events.Collection) string {
			rt, _ := route(c)
			return rt.DBName
		},
		AnalyticsDatabase: func(c events.Collection) string {
			rt, _ := route(c)
			return rt.AnalyticsDBName
		},
		IndexedProps: d.IndexedProps(),
	})
}

// Close closes every connection the pool opened.
func (d *Deps) Close(ctx context.Context) error { return d.Pool.Close(ctx) }

// blobOpener opens one client per spaces connection; each bucket becomes an
// offload.Store (with metrics when configured).
func blobOpener(o Options) tenancy.BlobOpener[offload.Store] {
	return func(ctx context.Context, ref string, sc tenancy.SpacesConnection) (tenancy.BlobClient[offload.Store], error) {
		return &blobClient{sc: sc, o: o}, nil
	}
}

type blobClient struct {
	sc tenancy.SpacesConnection
	o  Options
}

func (b *blobClient) Bucket(ctx context.Context, name string) (offload.Store, error) {
	var st offload.Store
	var err error
	switch b.sc.Type {
	case "s3":
		st, err = s3.New(ctx, s3.Config{
			Endpoint: b.sc.Endpoint, Region: b.sc.Region, Bucket: name,
			AccessKey: b.sc.AccessKey.Reveal(), SecretKey: b.sc.SecretKey.Reveal(),
			ForcePathStyle: b.sc.ForcePathStyle, CreateBucket: true,
		})
	case "azure":
		st, err = azure.New(ctx, azure.Config{
			Endpoint: b.sc.Endpoint, Account: b.sc.AccessKey.Reveal(), Key: b.sc.SecretKey.Reveal(),
			Container: name, CreateContainer: true,
		})
	case "local":
		st, err = local.OpenWith(filepath.Join(b.sc.BasePath, name), local.Options{PresignBaseURL: presignBase(b.o.PresignBaseURL, name), PresignSecret: b.o.PresignSecret})
	default:
		return nil, fmt.Errorf("chronos: spaces connection type %q is not s3, azure or local", b.sc.Type)
	}
	if err != nil {
		return nil, err
	}
	if b.o.Metrics != nil {
		st = wrap.Metrics(st, b.o.Metrics, b.sc.Type)
	}
	return st, nil
}

func presignBase(base, bucket string) string {
	if base == "" {
		return ""
	}
	return base + "/" + bucket
}

func (b *blobClient) Close(context.Context) error { return nil }

// QueryMaps returns the collection maps of the config in the query
// service's terms.
func (d *Deps) QueryMaps() func(events.Collection) query.CollectionMap {
	return func(c events.Collection) query.CollectionMap {
		cm, ok := d.Config.CollectionMaps[c.Name]
		if !ok {
			return query.CollectionMap{}
		}
		out := query.CollectionMap{IndexedProps: cm.IndexedProps, HiddenFields: cm.HiddenFields}
		for name, spec := range cm.Projection {
			if out.Projections == nil {
				out.Projections, out.Excludes = map[string][]string{}, map[string][]string{}
			}
			var fields []string
			if !spec.Include.All {
				fields = append([]string{}, spec.Include.Fields...)
			}
			out.Projections[name] = fields
			out.Excludes[name] = spec.Exclude
		}
		return out
	}
}

// IndexedProps returns each collection's indexed props, for the read
// model's indexes.
func (d *Deps) IndexedProps() func(events.Collection) []string {
	return func(c events.Collection) []string { return d.Config.CollectionMaps[c.Name].IndexedProps }
}
