package tenancy

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chronos-go/chronos/events"
)

// dynamic resolves scopes that the file does not list (xronox v2.8's
// dynamic tenants): names come from patterns, the backend from discovery
// and/or hashing.
type dynamic struct {
	r        *Router
	cfg      DynamicTenants // defaults filled in
	algo     string
	id       *regexp.Regexp
	dbName   pattern
	anName   pattern
	bucket   pattern
	backends []dynBackend
	names    []string // backend names, for rendezvous
	list     DatabaseLister
	now      func() time.Time

	mu struct {
		sync.Mutex
		lists map[ConnString]*listing
	}
	// cache holds resolved routes when discovery is off: they depend on
	// the configuration alone, and resolving one (a regexp match, name
	// expansions and checks) would otherwise run on every read and write,
	// several times. It is emptied when it reaches maxCachedRoutes.
	cache struct {
		sync.RWMutex
		routes map[staticKey]Route
	}
}

// maxCachedRoutes bounds dynamic.cache.
const maxCachedRoutes = 1 << 14

type dynBackend struct {
	name     string // dbConnRef + "|" + spaceConnRef: what rendezvous hashes
	dbRef    string
	spaceRef string
}

// listing is one backend's database names, shared by concurrent callers
// while it is fetched.
type listing struct {
	ready chan struct{}
	names map[string]bool
	err   error
	at    time.Time
}

func newDynamic(r *Router, o RouterOptions) (*dynamic, error) {
	cfg := r.cfg.DynamicTenants
	cfg.setDefaults()
	d := &dynamic{r: r, cfg: cfg, algo: r.cfg.Routing.HashAlgo, list: o.ListDatabases, now: o.Now}
	if d.algo == "" {
		d.algo = DefaultHashAlgo
	}
	if d.now == nil {
		d.now = time.Now
	}
	if cfg.Discover != DiscoverOff && d.list == nil {
		return nil, fmt.Errorf("chronos: dynamicTenants.discover is %q but the router has no RouterOptions.ListDatabases", cfg.Discover)
	}
	re, err := regexp.Compile(cfg.IDPattern)
	if err != nil {
		return nil, fmt.Errorf("chronos: dynamicTenants.idPattern: %w", err)
	}
	d.id = re
	d.dbName = compilePattern(cfg.DBNamePattern)
	d.anName = compilePattern(cfg.AnalyticsDBNamePattern)
	d.bucket = compilePattern(cfg.BucketPattern)
	for _, b := range cfg.Backends {
		name := b.DBConnRef + "|" + b.SpaceConnRef
		d.backends = append(d.backends, dynBackend{name: name, dbRef: b.DBConnRef, spaceRef: b.SpaceConnRef})
		d.names = append(d.names, name)
	}
	d.mu.lists = map[ConnString]*listing{}
	d.cache.routes = map[staticKey]Route{}
	return d, nil
}

func (d *dynamic) covers(c events.Collection) bool {
	return slices.Contains(d.cfg.Tiers, c.Tier) && slices.Contains(d.cfg.DBTypes, c.DBType)
}

// resolve routes a scope the file does not list. Every error but discovery
// I/O and a backend conflict is a 400 (events.ErrInvalid) or a 404.
func (d *dynamic) resolve(ctx context.Context, c events.Collection) (Route, error) {
	if d.cfg.Discover != DiscoverOff {
		return d.resolveScope(ctx, c)
	}
	key := staticKey{c.DBType, c.Tier, c.Scope}
	d.cache.RLock()
	rt, ok := d.cache.routes[key]
	d.cache.RUnlock()
	if ok {
		rt.Collection = c
		return rt, nil
	}
	rt, err := d.resolveScope(ctx, c)
	if err != nil {
		return rt, err
	}
	d.cache.Lock()
	if len(d.cache.routes) >= maxCachedRoutes {
		clear(d.cache.routes)
	}
	d.cache.routes[key] = rt
	d.cache.Unlock()
	return rt, nil
}

// resolveScope is resolve without the cache.
func (d *dynamic) resolveScope(ctx context.Context, c events.Collection) (Route, error) {
	if !d.id.MatchString(c.Scope) {
		return Route{}, invalidScope(c, "is not allowed: it must match dynamicTenants.idPattern "+d.cfg.IDPattern)
	}
	dbName := shortenDBName(d.dbName.expand(c, ""))
	analytics := shortenDBName(d.anName.expand(c, dbName))
	bucket := d.bucket.expand(c, "")
	for _, n := range []string{dbName, analytics} {
		if msg := dbNameProblem(n); msg != "" {
			return Route{}, invalidScope(c, "gives an invalid database name: "+msg)
		}
	}

	i, err := d.choose(ctx, c, dbName)
	if err != nil {
		return Route{}, err
	}
	b := d.backends[i]
	rt := d.r.newRoute(c, b.dbRef, b.spaceRef)
	if msg := bucketProblem(rt.Backend, bucket); msg != "" {
		return Route{}, invalidScope(c, "gives an invalid bucket name: "+msg)
	}
	rt.DBName, rt.AnalyticsDBName, rt.Dynamic = dbName, analytics, true
	rt.Buckets = Buckets{Records: bucket, Versions: bucket, Content: bucket, Backups: bucket}
	if other, taken := d.r.used[d.r.cfg.dbKeyOf(b.dbRef, dbName)]; taken {
		return Route{}, fmt.Errorf("chronos: %s %q would use database %q on dbConnRef %q, which %s already uses; rename one", c.Tier, c.Scope, dbName, b.dbRef, other)
	}
	return rt, nil
}

// choose returns the backend index of a dynamic scope: where its database
// already exists (discover prefer/require), else by hash (off/prefer).
func (d *dynamic) choose(ctx context.Context, c events.Collection, dbName string) (int, error) {
	hashed := place(d.algo, string(c.Tier)+"/"+c.Scope, d.names)
	if d.cfg.Discover == DiscoverOff {
		return hashed, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultRouteTimeout)
		defer cancel()
	}
	var found []int
	for i, b := range d.backends {
		names, err := d.databases(ctx, b)
		if err != nil {
			return 0, err
		}
		if names[dbName] {
			found = append(found, i)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		var refs []string
		for _, i := range found {
			refs = append(refs, quote(d.backends[i].dbRef))
		}
		return 0, fmt.Errorf("%w: %s %q has database %q on %s; keep one", ErrAmbiguousTenant, c.Tier, c.Scope, dbName, strings.Join(refs, " and "))
	case d.cfg.Discover == DiscoverRequire:
		return 0, &UnknownTenantError{DBType: c.DBType, Tier: c.Tier, Scope: c.Scope, Reason: "no backend has its database " + quote(dbName)}
	default:
		return hashed, nil
	}
}

// databases returns the database names on backend b, from the cache when
// it is younger than cacheTtl. Concurrent callers share one listing; a
// failed listing is not cached.
func (d *dynamic) databases(ctx context.Context, b dynBackend) (map[string]bool, error) {
	uri := d.r.cfg.DBConnections[b.dbRef].MongoURI
	d.mu.Lock()
	l, ok := d.mu.lists[uri]
	if ok {
		select {
		case <-l.ready:
			if d.now().Sub(l.at) >= d.cfg.CacheTTL.D() {
				ok = false // stale: fetch again below
			}
		default: // in flight
		}
	}
	if !ok {
		l = &listing{ready: make(chan struct{})}
		d.mu.lists[uri] = l
		d.mu.Unlock()
		names, err := d.list(ctx, uri)
		l.at = d.now()
		if err != nil {
			l.err = fmt.Errorf("chronos: list databases of dbConnRef %q: %w", b.dbRef, scrub(err, uri.Reveal()))
			d.mu.Lock()
			if d.mu.lists[uri] == l {
				delete(d.mu.lists, uri)
			}
			d.mu.Unlock()
		} else {
			l.names = make(map[string]bool, len(names))
			for _, n := range names {
				l.names[n] = true
			}
		}
		close(l.ready)
		return l.names, l.err
	}
	d.mu.Unlock()
	select {
	case <-l.ready:
		return l.names, l.err
	case <-ctx.Done():
		return nil, fmt.Errorf("chronos: wait for the database listing of dbConnRef %q: %w", b.dbRef, ctx.Err())
	}
}

func (d *dynamic) refresh() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for uri, l := range d.mu.lists {
		select {
		case <-l.ready:
			delete(d.mu.lists, uri)
		default: // in flight: its result is fresh
		}
	}
}

// pattern is a name pattern split into literals and placeholders, so that
// resolving a scope does no parsing.
type pattern []patternPart

type patternPart struct {
	lit string // a literal, or the placeholder when ph is set
	ph  bool
}

func compilePattern(p string) pattern {
	var out pattern
	rest := p
	for rest != "" {
		loc := placeholder.FindStringIndex(rest)
		if loc == nil {
			out = append(out, patternPart{lit: rest})
			break
		}
		if loc[0] > 0 {
			out = append(out, patternPart{lit: rest[:loc[0]]})
		}
		out = append(out, patternPart{lit: rest[loc[0]:loc[1]], ph: true})
		rest = rest[loc[1]:]
	}
	return out
}

// expand fills the placeholders with c's tokens (and dbName for {dbName}).
func (p pattern) expand(c events.Collection, dbName string) string {
	var b strings.Builder
	b.Grow(64)
	for _, part := range p {
		if !part.ph {
			b.WriteString(part.lit)
			continue
		}
		switch part.lit {
		case "{tenantId}", "{scope}":
			b.WriteString(c.Scope)
		case "{dbType}":
			b.WriteString(string(c.DBType))
		case "{tier}":
			b.WriteString(string(c.Tier))
		case "{dbName}":
			b.WriteString(dbName)
		default:
			b.WriteString(part.lit)
		}
	}
	return b.String()
}
