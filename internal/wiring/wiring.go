// Package wiring turns a tenancy configuration into the parts every
// service runs on: the log settings, one MongoDB read model per
// deployment, blob stores per route, and the authorizer. It is the one
// place where cmd/* and `chronos dev` get their dependencies, so that no
// other package reads the environment or builds clients of its own.
package wiring

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/fallbackq"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/offload/azure"
	"github.com/chronos-go/chronos/offload/s3"
	"github.com/chronos-go/chronos/offload/wrap"
	"github.com/chronos-go/chronos/projection"
	"github.com/chronos-go/chronos/projection/mongostore"
	"github.com/chronos-go/chronos/projection/sqlitestore"
	"github.com/chronos-go/chronos/query"
	"github.com/chronos-go/chronos/tenancy"
)

// Deps are the shared dependencies of one process, built from a Config.
type Deps struct {
	Config  *tenancy.Config
	Router  *tenancy.Router
	Pool    *tenancy.Pool[offload.Store]
	metrics prometheus.Registerer
	// presign serves the presigned URLs of local buckets (presign.go).
	presign *presigner
}

// Options tune Open.
type Options struct {
	// Metrics, when set, counts blob operations per backend.
	Metrics prometheus.Registerer
	// PresignBaseURL is where this process serves presigned local blob URLs
	// (Deps.ServePresigned, mounted below PresignPath): the externally
	// reachable base of the API followed by "/v1/blobs", e.g.
	// "https://query.example.com/v1/blobs". "" disables presigning of
	// local blobs.
	PresignBaseURL string
	// PresignSecret signs local presigned URLs, at least
	// local.MinPresignSecret bytes; every process that serves the URLs of
	// another (replicas behind one address) needs the same. Empty: random
	// per Open.
	PresignSecret []byte
	// PresignHelp, when PresignBaseURL is empty, is added to the error of
	// a presign of a local blob: what the operator sets to enable it
	// (e.g. "start the query service with --public-url").
	PresignHelp string
}

// Open builds the router and the connection pool of cfg. Nothing connects
// until first use.
func Open(cfg *tenancy.Config, o Options) (*Deps, error) {
	d := &Deps{Config: cfg, metrics: o.Metrics}
	var err error
	if d.presign, err = newPresigner(o); err != nil {
		return nil, err
	}
	d.Pool = tenancy.NewPool[offload.Store](d.blobOpener(o), tenancy.PoolOptions{})
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
	return d.bucketResolver("blob", func(b tenancy.Buckets) string { return b.Versions })
}

// bucketResolver returns the resolver of the bucket pick chooses among a
// collection's route's buckets, keys prefixed with the route's scope
// prefix. pick returning "" resolves a nil Store: the collection has no
// such bucket of its own. role names the store in errors.
func (d *Deps) bucketResolver(role string, pick func(tenancy.Buckets) string) offload.Resolver {
	return func(c events.Collection) (offload.Store, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rt, err := d.Router.RouteContext(ctx, c)
		if err != nil {
			return nil, err
		}
		name := pick(rt.Buckets)
		if name == "" {
			return nil, nil
		}
		st, err := d.Pool.Bucket(ctx, rt, name)
		if err != nil {
			return nil, fmt.Errorf("chronos: %s store of %s: %w", role, c, err)
		}
		return wrap.Prefix(st, rt.KeyPrefix), nil
	}
}

// ErrSeveralDeployments: the configuration spreads scopes over several
// MongoDB deployments, which this build's read model does not route yet.
var ErrSeveralDeployments = errors.New("chronos: scopes on several MongoDB deployments are not supported by this build's read model yet")

// ReadModel opens the MongoDB read model: databases named by the router.
// With uri set, that deployment is used instead of the configured one
// (chronos dev's embedded server). It is generation 1's read model (see
// ReadModelGeneration).
func (d *Deps) ReadModel(ctx context.Context, uri string) (*mongostore.Store, error) {
	return d.ReadModelGeneration(ctx, uri, 1)
}

// ReadModelGeneration opens the read model of projection generation n:
// generation 1 uses the router's database names, generation n > 1 the
// same names with GenerationDatabase's prefix, so that a rebuild never
// touches the databases being served.
func (d *Deps) ReadModelGeneration(ctx context.Context, uri string, n int) (*mongostore.Store, error) {
	client, err := d.mongoClient(ctx, uri)
	if err != nil {
		return nil, err
	}
	rules, err := projection.CompileRules(d.Config.CounterRules)
	if err != nil {
		return nil, err
	}
	route := d.storeRoute
	return mongostore.New(ctx, client, mongostore.Options{
		// An unroutable scope gets no name, which the store refuses: the
		// write that made it was validated by ingest, so this only happens
		// after the configuration dropped a scope that has events.
		Database: func(c events.Collection) string {
			rt, ok := route(c)
			if !ok {
				return ""
			}
			return GenerationDatabase(rt.DBName, n)
		},
		AnalyticsDatabase: func(c events.Collection) string {
			rt, ok := route(c)
			if !ok {
				return ""
			}
			return GenerationDatabase(rt.AnalyticsDBName, n)
		},
		// Counter documents name the served database in every generation.
		CountersName: func(c events.Collection) string {
			rt, _ := route(c)
			return rt.DBName
		},
		IndexedProps: d.IndexedProps(),
		CounterRules: rules,
	})
}

// storeRoute is the route of c that names a read model's databases. A
// store calls it several times per read: it costs no timer (discovery, if
// any, is bounded by tenancy.DefaultRouteTimeout), and the router caches
// dynamic routes that need no discovery.
func (d *Deps) storeRoute(c events.Collection) (tenancy.Route, bool) {
	rt, err := d.Router.RouteContext(context.Background(), c)
	return rt, err == nil
}

// GenerationDatabase returns the name of database name in projection
// generation n: name itself for generation 1, "g<n>_<name>" after (with
// the end of a name past mongostore.MaxDatabaseName replaced by a hash).
func GenerationDatabase(name string, n int) string {
	if n <= 1 || name == "" {
		return name
	}
	out := GenerationPrefix(n) + name
	if len(out) <= mongostore.MaxDatabaseName {
		return out
	}
	sum := sha256.Sum256([]byte(out))
	return out[:mongostore.MaxDatabaseName-17] + "_" + hex.EncodeToString(sum[:8])
}

// GenerationPrefix is the database name prefix of generation n > 1.
func GenerationPrefix(n int) string { return "g" + strconv.Itoa(n) + "_" }

// DropGeneration deletes the databases of generation n from the read
// model's deployment: for n > 1 every database named with its prefix;
// for generation 1 every database without a generation prefix that holds
// a read model collection (*_head, *_ver, cnt_total, cnt_unique). It
// returns the names dropped. The caller removes n from the generation
// document first, so nothing serves or projects it meanwhile.
func (d *Deps) DropGeneration(ctx context.Context, uri string, n int) ([]string, error) {
	client, err := d.mongoClient(ctx, uri)
	if err != nil {
		return nil, err
	}
	return DropGenerationDatabases(ctx, client, n)
}

// DropGenerationDatabases is DropGeneration on a connected client.
func DropGenerationDatabases(ctx context.Context, client *mongo.Client, n int) ([]string, error) {
	names, err := client.ListDatabaseNames(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("chronos: list databases: %w", err)
	}
	var dropped []string
	for _, name := range names {
		if !inGeneration(name, n) {
			continue
		}
		if n <= 1 {
			colls, err := client.Database(name).ListCollectionNames(ctx, bson.D{})
			if err != nil {
				return dropped, fmt.Errorf("chronos: list collections of %s: %w", name, err)
			}
			if !slices.ContainsFunc(colls, func(c string) bool {
				return strings.HasSuffix(c, "_head") || strings.HasSuffix(c, "_ver") || c == "cnt_total" || c == "cnt_unique"
			}) {
				continue
			}
		}
		if err := client.Database(name).Drop(ctx); err != nil {
			return dropped, fmt.Errorf("chronos: drop database %s: %w", name, err)
		}
		dropped = append(dropped, name)
	}
	return dropped, nil
}

// inGeneration reports whether database name is named as generation n's.
func inGeneration(name string, n int) bool {
	switch name {
	case "admin", "local", "config":
		return false
	}
	if n > 1 {
		return strings.HasPrefix(name, GenerationPrefix(n))
	}
	return !generationPrefixRe.MatchString(name)
}

var generationPrefixRe = regexp.MustCompile(`^g[0-9]+_`)

func (d *Deps) mongoClient(ctx context.Context, uri string) (*mongo.Client, error) {
	if uri == "" {
		uris := d.Router.MongoURIs()
		if len(uris) != 1 {
			return nil, fmt.Errorf("%w (%d configured)", ErrSeveralDeployments, len(uris))
		}
		uri = uris[0].Reveal()
	}
	return d.Pool.Mongo(ctx, tenancy.ConnString(uri))
}

// SQLiteFile returns the file of projection generation n's embedded read
// model in dir: read.db for generation 1, read-g<n>.db after it, so that a
// rebuild never touches the file being served.
func SQLiteFile(dir string, n int) string {
	if n <= 1 {
		return filepath.Join(dir, "read.db")
	}
	return filepath.Join(dir, fmt.Sprintf("read-g%d.db", n))
}

// SQLiteReadModel opens the embedded read model of projection generation
// n (chronos dev's default store) in SQLiteFile(dir, n), with the
// router's database names: each scope's heads, versions and counters are
// tables of their own, as each scope has databases of its own in MongoDB.
func (d *Deps) SQLiteReadModel(ctx context.Context, dir string, n int) (*sqlitestore.Store, error) {
	rules, err := projection.CompileRules(d.Config.CounterRules)
	if err != nil {
		return nil, err
	}
	route := d.storeRoute
	return sqlitestore.Open(ctx, SQLiteFile(dir, n), sqlitestore.Options{
		// An unroutable scope gets no name, which the store refuses (see
		// ReadModelGeneration).
		Database: func(c events.Collection) string {
			rt, _ := route(c)
			return rt.DBName
		},
		AnalyticsDatabase: func(c events.Collection) string {
			rt, _ := route(c)
			return rt.AnalyticsDBName
		},
		IndexedProps: d.IndexedProps(),
		CounterRules: rules,
	})
}

// Close closes every connection the pool opened.
func (d *Deps) Close(ctx context.Context) error { return d.Pool.Close(ctx) }

// blobOpener opens one client per spaces connection; each bucket becomes an
// offload.Store (with metrics when configured).
func (d *Deps) blobOpener(o Options) tenancy.BlobOpener[offload.Store] {
	return func(ctx context.Context, ref string, sc tenancy.SpacesConnection) (tenancy.BlobClient[offload.Store], error) {
		return &blobClient{sc: sc, o: o, ref: ref, presign: d.presign}, nil
	}
}

type blobClient struct {
	sc      tenancy.SpacesConnection
	o       Options
	ref     string
	presign *presigner
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
		st, err = b.presign.open(b.ref, filepath.Join(b.sc.BasePath, name), name)
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

func (b *blobClient) Close(context.Context) error { return nil }

// QueryMaps returns the collection maps of the config in the query
// service's terms.
func (d *Deps) QueryMaps() func(events.Collection) query.CollectionMap {
	return func(c events.Collection) query.CollectionMap {
		cm, ok := d.Config.CollectionMaps[c.Name]
		if !ok {
			return query.CollectionMap{}
		}
		out := query.CollectionMap{IndexedProps: cm.IndexedProps, HiddenFields: cm.HiddenFields, Base64Props: contentProps(cm.Base64Props)}
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

// RetryConfig returns the workers' retry policy from the config's fallback
// block. With fallback disabled, failed events are retried (at the
// maximum delay) instead of ever being dead-lettered.
func (d *Deps) RetryConfig() fallbackq.Config {
	f := d.Config.Fallback
	c := fallbackq.Config{RetryDelayMs: f.RetryDelayMs, MaxDelayMs: f.MaxDelayMs}
	if f.MaxRetries != nil {
		c.MaxRetries = *f.MaxRetries
		if c.MaxRetries == 0 {
			c.MaxRetries = -1 // zero retries: the first failure is dead-lettered
		}
	}
	if f.Enabled != nil && !*f.Enabled {
		c.MaxRetries = 1 << 30
	}
	return c
}

// VerRetention returns the config's retention.ver policy.
func (d *Deps) VerRetention() projection.VerRetention {
	r := d.Config.Retention.Ver
	return projection.VerRetention{Days: r.Days, MaxPerItem: r.MaxPerItem}
}

// DeleteVersionBlobs returns the retention janitor's blob deleter: every
// object under "<collection>/<itemId>/v<ov>/" in the collection's
// versions bucket (the offloaded payload, whatever its codec) and in its
// content bucket (the version's base64 content).
func (d *Deps) DeleteVersionBlobs() func(ctx context.Context, ref events.ItemRef, ov uint64) error {
	resolvers := []offload.Resolver{d.Blobs(), d.ContentBlobs()}
	return func(ctx context.Context, ref events.ItemRef, ov uint64) error {
		prefix := ref.Name + "/" + ref.ID + "/v" + strconv.FormatUint(ov, 10) + "/"
		for _, blobs := range resolvers {
			st, err := blobs(ref.Collection)
			if err != nil {
				return err
			}
			if err := deletePrefix(ctx, st, prefix); err != nil {
				return err
			}
		}
		return nil
	}
}

// deletePrefix deletes every object of st whose key begins with prefix.
func deletePrefix(ctx context.Context, st offload.Store, prefix string) error {
	for after := ""; ; {
		page, err := st.List(ctx, offload.ListOptions{Prefix: prefix, StartAfter: after})
		if err != nil {
			return err
		}
		for _, o := range page.Objects {
			if err := st.Delete(ctx, o.Key); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		after = page.Next
	}
}

// ReadModels opens the read model of generation n over every configured
// MongoDB deployment: one store per URI, each collection sent to the
// store of its route's URI (projection.Routed). With one deployment it is
// that deployment's store.
func (d *Deps) ReadModels(ctx context.Context, n int) (projection.Store, error) {
	uris := d.Router.MongoURIs()
	if len(uris) <= 1 {
		return d.ReadModelGeneration(ctx, "", n)
	}
	stores := make(map[tenancy.ConnString]projection.Store, len(uris))
	all := make([]projection.Store, 0, len(uris))
	for _, u := range uris {
		st, err := d.ReadModelGeneration(ctx, u.Reveal(), n)
		if err != nil {
			for _, s := range all {
				_ = s.Close(ctx)
			}
			return nil, err
		}
		stores[u] = st
		all = append(all, st)
	}
	route := func(c events.Collection) (projection.Store, error) {
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rt, err := d.Router.RouteContext(rctx, c)
		if err != nil {
			return nil, err
		}
		st, ok := stores[rt.MongoURI]
		if !ok {
			return nil, fmt.Errorf("chronos: %s routes to a MongoDB deployment (%s) the read model did not open", c, rt.DBConnRef)
		}
		return st, nil
	}
	return projection.NewRouted(route, all), nil
}
