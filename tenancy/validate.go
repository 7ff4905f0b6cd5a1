package tenancy

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/chronos-go/chronos/events"
)

// Validate reports every problem of c at once, as a *ConfigError whose
// problems each name a JSON path and why: dangling dbConnRef and
// spaceConnRef, duplicate tenants and domains, two scopes sharing a
// database, bad bucket and database names, invalid tokens, unknown enum
// values (hashAlgo, rights, ...), bad URLs, negative numbers and durations,
// and the rest listed in docs/configuration.md. Unset fields count as their
// defaults. Messages never contain a secret.
func (c *Config) Validate() error {
	var ps problems
	c.validateConnections(&ps)
	c.validateDatabases(&ps)
	c.validateRouting(&ps)
	c.validateCollectionMaps(&ps)
	c.validateCounterRules(&ps)
	c.validateTuning(&ps)
	c.NATS.validate(&ps)
	c.validateAuth(&ps)
	c.validateDynamic(&ps)
	return ps.err()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (c *Config) validateConnections(ps *problems) {
	for _, ref := range sortedKeys(c.DBConnections) {
		path := join("dbConnections", ref)
		if ref == "" {
			ps.add(path, "a connection needs a name")
		}
		if msg := mongoURIProblem(c.DBConnections[ref].MongoURI.Reveal()); msg != "" {
			ps.add(path+".mongoUri", msg)
		}
	}
	for _, ref := range sortedKeys(c.SpacesConnections) {
		path := join("spacesConnections", ref)
		if ref == "" {
			ps.add(path, "a connection needs a name")
		}
		c.SpacesConnections[ref].validate(path, ps)
	}
	if c.LocalStorage.Enabled && c.LocalStorage.BasePath == "" {
		ps.add("localStorage.basePath", "required when localStorage is enabled")
	}
}

// mongoURIProblem checks a connection string without ever quoting it.
func mongoURIProblem(uri string) string {
	if uri == "" {
		return "required"
	}
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok || (scheme != "mongodb" && scheme != "mongodb+srv") {
		return "must start with mongodb:// or mongodb+srv://"
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = rest[at+1:]
	}
	if host, _, _ := strings.Cut(rest, "/"); host == "" || strings.HasPrefix(host, "?") {
		return "has no host"
	}
	return ""
}

func (sc SpacesConnection) validate(path string, ps *problems) {
	switch sc.Type {
	case "", BackendS3, BackendAzure, BackendLocal:
	default:
		ps.add(path+".type", quote(sc.Type)+" is not one of s3, azure, local")
		return
	}
	kind := kindOf(sc)
	if sc.Endpoint != "" {
		if kind == BackendLocal {
			ps.add(path+".endpoint", "not used by type local")
		} else if u, err := url.Parse(sc.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.add(path+".endpoint", "must be an http:// or https:// URL")
		} else if u.User != nil {
			ps.add(path+".endpoint", "must not carry credentials; use accessKey and secretKey")
		}
	} else if kind == BackendAzure {
		ps.add(path+".endpoint", "required for type azure (https://<account>.blob.core.windows.net)")
	}
	if kind == BackendLocal {
		if sc.BasePath == "" {
			ps.add(path+".basePath", "required for type local")
		}
		if sc.AccessKey != "" || sc.SecretKey != "" {
			ps.add(path, "accessKey and secretKey are not used by type local")
		}
		if sc.Region != "" {
			ps.add(path+".region", "not used by type local")
		}
	} else {
		if sc.BasePath != "" {
			ps.add(path+".basePath", "only for type local")
		}
		if (sc.AccessKey == "") != (sc.SecretKey == "") {
			ps.add(path, "set both accessKey and secretKey, or neither (the SDK's default credentials)")
		}
	}
	if sc.ForcePathStyle && kind != BackendS3 {
		ps.add(path+".forcePathStyle", "only for type s3")
	}
}

// dbKey identifies a database: the connection's URI (or ref, if dangling)
// and the name, lower-cased as MongoDB compares names.
type dbKey struct{ conn, name string }

func (c *Config) dbKeyOf(ref, name string) dbKey {
	conn := "ref:" + ref
	if dc, ok := c.DBConnections[ref]; ok {
		conn = dc.MongoURI.Reveal()
	}
	return dbKey{conn, strings.ToLower(name)}
}

func (c *Config) validateDatabases(ps *problems) {
	scopes := map[[3]string]string{} // dbType, tier, scope → path
	used := map[dbKey]string{}       // database → path of its user
	claim := func(path, ref, name string) {
		if ref == "" || name == "" {
			return
		}
		k := c.dbKeyOf(ref, name)
		if other, ok := used[k]; ok {
			ps.add(path+".dbName", "database "+quote(name)+" on dbConnRef "+quote(ref)+" is already used by "+other+"; two scopes never share a database")
			return
		}
		used[k] = path
	}
	for _, e := range c.entries() {
		switch e.tier {
		case events.TierTenant, events.TierDomain:
			field := "tenantId"
			if e.tier == events.TierDomain {
				field = "domain"
			}
			if msg := scopeProblem(e.scope); msg != "" {
				ps.add(e.path+"."+field, msg)
			} else {
				k := [3]string{string(e.db), string(e.tier), e.scope}
				if other, dup := scopes[k]; dup {
					ps.add(e.path+"."+field, "duplicate "+string(e.tier)+" "+quote(e.scope)+": also at "+other)
				} else {
					scopes[k] = e.path
				}
			}
		}
		c.validatePlacement(e.path, e.p, ps)
		claim(e.path, e.p.DBConnRef, e.p.DBName)
	}
	type mongoOnly struct{ path, ref, name string }
	var simple []mongoOnly
	if m := c.Databases.Messaging; m != nil {
		simple = append(simple, mongoOnly{"databases.messaging", m.DBConnRef, m.DBName})
	}
	if d := c.Databases.Identities; d != nil {
		simple = append(simple, mongoOnly{"databases.identities", d.DBConnRef, d.DBName})
	}
	for _, s := range simple {
		c.validateDBConnRef(s.path+".dbConnRef", s.ref, ps)
		if msg := dbNameProblem(s.name); msg != "" {
			ps.add(s.path+".dbName", msg)
		}
		claim(s.path, s.ref, s.name)
	}
}

func (c *Config) validateDBConnRef(path, ref string, ps *problems) {
	if ref == "" {
		ps.add(path, "required")
	} else if _, ok := c.DBConnections[ref]; !ok {
		ps.add(path, quote(ref)+" is not defined in dbConnections")
	}
}

// spacesKind returns the backend kind behind a spaceConnRef ("" = local
// storage), reporting a dangling or missing ref. ok is false when the kind
// is unknown.
func (c *Config) spacesKind(path, ref string, ps *problems) (kind string, ok bool) {
	if ref == "" {
		if !c.LocalStorage.Enabled {
			ps.add(path, "required (or enable localStorage)")
			return "", false
		}
		return BackendLocal, true
	}
	sc, found := c.SpacesConnections[ref]
	if !found {
		ps.add(path, quote(ref)+" is not defined in spacesConnections")
		return "", false
	}
	return kindOf(sc), true
}

func (c *Config) validatePlacement(path string, p *Placement, ps *problems) {
	c.validateDBConnRef(path+".dbConnRef", p.DBConnRef, ps)
	if msg := dbNameProblem(p.DBName); msg != "" {
		ps.add(path+".dbName", msg)
	}
	if p.AnalyticsDBName != "" {
		if msg := dbNameProblem(p.AnalyticsDBName); msg != "" {
			ps.add(path+".analyticsDbName", msg)
		}
	}
	kind, kindOK := c.spacesKind(path+".spaceConnRef", p.SpaceConnRef, ps)
	multi := p.RecordsBucket != "" || p.VersionsBucket != "" || p.ContentBucket != "" || p.BackupsBucket != ""
	switch {
	case p.Bucket != "" && multi:
		ps.add(path+".bucket", "set either bucket or the multi-bucket set (recordsBucket, versionsBucket, contentBucket, backupsBucket), not both")
		return
	case p.Bucket == "" && !multi:
		ps.add(path+".bucket", "required (or the multi-bucket set recordsBucket, versionsBucket, contentBucket, backupsBucket)")
		return
	case multi && p.RecordsBucket == "":
		ps.add(path+".recordsBucket", "required with the multi-bucket set")
	}
	if !kindOK {
		return
	}
	for _, b := range []struct{ key, name string }{
		{"bucket", p.Bucket}, {"recordsBucket", p.RecordsBucket}, {"versionsBucket", p.VersionsBucket},
		{"contentBucket", p.ContentBucket}, {"backupsBucket", p.BackupsBucket},
	} {
		if b.name == "" {
			continue
		}
		if msg := bucketProblem(kind, b.name); msg != "" {
			ps.add(path+"."+b.key, msg)
		}
	}
}

func (c *Config) validateRouting(ps *problems) {
	switch c.Routing.HashAlgo {
	case "", HashRendezvous, HashJump:
	default:
		ps.add("routing.hashAlgo", quote(c.Routing.HashAlgo)+" is not one of rendezvous, jump")
	}
}

func (n NATS) validate(ps *problems) {
	if n.URL != "" {
		for _, part := range strings.Split(n.URL.Reveal(), ",") {
			u, err := url.Parse(strings.TrimSpace(part))
			if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss") {
				ps.add("nats.url", "must be nats://, tls://, ws:// or wss:// URLs, comma-separated")
				break
			}
		}
	}
	if n.Stream != "" {
		if len(n.Stream) > 32 || strings.IndexFunc(n.Stream, func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-')
		}) >= 0 {
			ps.add("nats.stream", quote(n.Stream)+" must be 1 to 32 letters, digits, '_' or '-'")
		}
	}
	if n.Replicas != 0 && (n.Replicas < 1 || n.Replicas > 5) {
		ps.add("nats.replicas", "must be between 1 and 5, got "+strconv.Itoa(n.Replicas))
	}
	if n.Partitions != 0 && (n.Partitions < 1 || n.Partitions > 1024) {
		ps.add("nats.partitions", "must be between 1 and 1024, got "+strconv.Itoa(n.Partitions))
	}
	if d := n.DuplicateWindow.D(); d < 0 {
		ps.add("nats.duplicateWindow", "must not be negative")
	} else if d != 0 && d.Seconds() < 1 {
		ps.add("nats.duplicateWindow", "must be at least 1s, got "+d.String())
	}
}

func nonNegative(ps *problems, path string, v int) {
	if v < 0 {
		ps.add(path, "must not be negative, got "+strconv.Itoa(v))
	}
}
