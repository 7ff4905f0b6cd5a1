package tenancy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chronos-go/chronos/events"
)

// Route is where one collection's data lives. Its secrets (the MongoDB
// password, the blob keys) are typed so that printing or logging a Route
// masks them.
type Route struct {
	// Collection is the collection routed.
	Collection events.Collection `json:"collection"`
	// DBConnRef names the MongoDB connection; MongoURI is its URI.
	DBConnRef string     `json:"dbConnRef"`
	MongoURI  ConnString `json:"mongoUri"`
	// DBName holds <collection>_head and <collection>_ver.
	DBName string `json:"dbName"`
	// AnalyticsDBName holds cnt_total.
	AnalyticsDBName string `json:"analyticsDbName"`
	// SpaceConnRef names the blob connection; "" means localStorage.
	SpaceConnRef string `json:"spaceConnRef"`
	// Backend is BackendS3, BackendAzure or BackendLocal.
	Backend string `json:"backend"`
	// Spaces are the blob connection's settings (for localStorage: type
	// local with its basePath).
	Spaces SpacesConnection `json:"spaces"`
	// Buckets holds the bucket of each kind of blob; always all four set.
	Buckets Buckets `json:"buckets"`
	// KeyPrefix starts every blob key of this scope:
	// "<dbType>/<tier>/<scope>/". Scopes may share a bucket; their keys
	// never collide.
	KeyPrefix string `json:"keyPrefix"`
	// Dynamic is set when dynamicTenants resolved the scope.
	Dynamic bool `json:"dynamic,omitempty"`
}

// String describes r with its secrets masked.
func (r Route) String() string {
	return fmt.Sprintf("%s → mongo %s (%s) db %s, analytics %s; %s %q buckets %s/%s/%s/%s, prefix %s",
		r.Collection, r.DBConnRef, r.MongoURI, r.DBName, r.AnalyticsDBName, r.Backend, r.SpaceConnRef,
		r.Buckets.Records, r.Buckets.Versions, r.Buckets.Content, r.Buckets.Backups, r.KeyPrefix)
}

// KeyPrefixOf returns the blob key prefix of c's scope: "<dbType>/<tier>/<scope>/".
func KeyPrefixOf(c events.Collection) string {
	return string(c.DBType) + "/" + string(c.Tier) + "/" + c.Scope + "/"
}

// DatabaseLister lists the database names of the MongoDB deployment at uri
// (Pool.ListDatabaseNames is one). Dynamic discovery uses it.
type DatabaseLister func(ctx context.Context, uri ConnString) ([]string, error)

// DefaultRouteTimeout bounds Route's database discovery when the caller's
// context has no deadline.
const DefaultRouteTimeout = 10 * time.Second

// RouterOptions configure a Router. The zero value is valid unless
// dynamicTenants.discover is prefer or require, which need ListDatabases.
type RouterOptions struct {
	// ListDatabases lists a backend's databases for dynamic discovery.
	ListDatabases DatabaseLister
	// Now is the clock of the discovery cache; default time.Now.
	Now func() time.Time
}

// Router maps a collection to its Route. It is safe for concurrent use.
// Static entries of the file win over dynamic resolution; a scope that is
// neither listed nor resolvable is an *UnknownTenantError.
type Router struct {
	cfg        *Config
	static     map[staticKey]Route
	used       map[dbKey]string // static databases → path, to keep dynamic scopes off them
	dyn        *dynamic
	messaging  *Route
	identities *Route
}

type staticKey struct {
	db    events.DBType
	tier  events.Tier
	scope string
}

// NewRouter validates cfg and builds its Router. cfg must not change
// afterwards.
func NewRouter(cfg *Config, o RouterOptions) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Router{cfg: cfg, static: map[staticKey]Route{}, used: map[dbKey]string{}}
	for _, e := range cfg.entries() {
		c := events.Collection{DBType: e.db, Tier: e.tier, Scope: e.scope}
		rt := r.newRoute(c, e.p.DBConnRef, e.p.SpaceConnRef)
		rt.DBName = e.p.DBName
		rt.AnalyticsDBName = e.p.AnalyticsDBName
		if rt.AnalyticsDBName == "" {
			rt.AnalyticsDBName = shortenDBName(e.p.DBName + AnalyticsSuffix)
		}
		rt.Buckets = e.p.buckets()
		r.static[staticKey{e.db, e.tier, e.scope}] = rt
		r.used[cfg.dbKeyOf(e.p.DBConnRef, e.p.DBName)] = e.path
	}
	if m := cfg.Databases.Messaging; m != nil {
		rt := r.newRoute(events.Collection{}, m.DBConnRef, "")
		rt.DBName, rt.Backend, rt.Spaces = m.DBName, "", SpacesConnection{}
		r.messaging = &rt
		r.used[cfg.dbKeyOf(m.DBConnRef, m.DBName)] = "databases.messaging"
	}
	if id := cfg.Databases.Identities; id != nil {
		rt := r.newRoute(events.Collection{}, id.DBConnRef, "")
		rt.DBName, rt.Backend, rt.Spaces = id.DBName, "", SpacesConnection{}
		r.identities = &rt
		r.used[cfg.dbKeyOf(id.DBConnRef, id.DBName)] = "databases.identities"
	}
	if cfg.DynamicTenants.Enabled {
		d, err := newDynamic(r, o)
		if err != nil {
			return nil, err
		}
		r.dyn = d
	}
	return r, nil
}

// newRoute fills the connection part of a route.
func (r *Router) newRoute(c events.Collection, dbRef, spaceRef string) Route {
	rt := Route{Collection: c, DBConnRef: dbRef, MongoURI: r.cfg.DBConnections[dbRef].MongoURI, SpaceConnRef: spaceRef}
	if spaceRef == "" {
		rt.Spaces = SpacesConnection{Type: BackendLocal, BasePath: r.cfg.LocalStorage.BasePath}
	} else {
		rt.Spaces = r.cfg.SpacesConnections[spaceRef]
	}
	rt.Backend = kindOf(rt.Spaces)
	if c.DBType != "" {
		rt.KeyPrefix = KeyPrefixOf(c)
	}
	return rt
}

// Config returns the configuration the router was built from.
func (r *Router) Config() *Config { return r.cfg }

// Route returns where c lives; see RouteContext. Discovery, if any, is
// bounded by DefaultRouteTimeout.
func (r *Router) Route(c events.Collection) (Route, error) {
	return r.RouteContext(context.Background(), c)
}

// RouteContext returns where c lives, for every dbType × tier:
//
//   - a collection with invalid tokens: an error matching events.ErrInvalid;
//   - a scope listed in databases: its entry;
//   - otherwise, for a tier and dbType that dynamicTenants covers, the
//     scope resolved from its patterns (an id that fails idPattern, or that
//     gives an invalid database or bucket name, is an error matching
//     events.ErrInvalid, HTTP 400);
//   - otherwise an *UnknownTenantError (HTTP 404).
//
// The same collection gets the same route every time as long as the
// configuration (and, with discovery, the backends' databases) stay as
// they are. Discovery I/O is bounded by ctx, or by DefaultRouteTimeout when
// ctx has no deadline.
func (r *Router) RouteContext(ctx context.Context, c events.Collection) (Route, error) {
	if err := c.Validate(); err != nil {
		return Route{}, err
	}
	key := staticKey{c.DBType, c.Tier, c.Scope}
	if rt, ok := r.static[key]; ok {
		rt.Collection = c
		return rt, nil
	}
	unknown := &UnknownTenantError{DBType: c.DBType, Tier: c.Tier, Scope: c.Scope}
	if r.dyn == nil || !r.dyn.covers(c) {
		return Route{}, unknown
	}
	return r.dyn.resolve(ctx, c)
}

// Messaging returns the route of databases.messaging (MongoDB only: no
// buckets, no collection), or ErrNotConfigured.
func (r *Router) Messaging() (Route, error) {
	if r.messaging == nil {
		return Route{}, fmt.Errorf("%w: databases.messaging", ErrNotConfigured)
	}
	return *r.messaging, nil
}

// Identities returns the route of databases.identities (MongoDB only), or
// ErrNotConfigured.
func (r *Router) Identities() (Route, error) {
	if r.identities == nil {
		return Route{}, fmt.Errorf("%w: databases.identities", ErrNotConfigured)
	}
	return *r.identities, nil
}

// MongoURIs returns every MongoDB URI a route may use (static entries,
// messaging, identities, dynamic backends), each once, sorted by the name of
// the first connection that uses it. A service that keeps one read-model
// store per deployment opens one per URI.
func (r *Router) MongoURIs() []ConnString {
	refs := map[string]bool{}
	for _, rt := range r.static {
		refs[rt.DBConnRef] = true
	}
	if r.messaging != nil {
		refs[r.messaging.DBConnRef] = true
	}
	if r.identities != nil {
		refs[r.identities.DBConnRef] = true
	}
	if r.dyn != nil {
		for _, b := range r.dyn.backends {
			refs[b.dbRef] = true
		}
	}
	names := sortedKeys(refs)
	var out []ConnString
	for _, ref := range names {
		uri := r.cfg.DBConnections[ref].MongoURI
		if !slices.Contains(out, uri) {
			out = append(out, uri)
		}
	}
	return out
}

// Refresh drops the discovery cache, so that the next dynamic route lists
// the backends' databases again (call it after creating a tenant's
// database, to see it before dynamicTenants.cacheTtl passes).
func (r *Router) Refresh() {
	if r.dyn != nil {
		r.dyn.refresh()
	}
}

// ErrAmbiguousTenant is returned (wrapped) by Route when a dynamic scope's
// database exists on more than one backend: routing it either way could
// hide data, so an operator must keep one. It is a server-side problem
// (HTTP 500), not the client's.
var ErrAmbiguousTenant = errors.New("chronos: tenant database on several backends")
