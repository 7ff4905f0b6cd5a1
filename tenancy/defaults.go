package tenancy

import (
	"path/filepath"
	"time"

	"github.com/chronos-go/chronos/events"
)

// Defaults of Config. docs/configuration.md states the same values.
const (
	DefaultNATSURL                = "nats://127.0.0.1:4222"
	DefaultStream                 = "CHRONOS"
	DefaultReplicas               = 1
	DefaultPartitions             = 8
	DefaultDuplicateWindow        = 2 * time.Minute
	DefaultRegion                 = "us-east-1"
	DefaultHashAlgo               = HashRendezvous
	DefaultMaxRetries             = 5
	DefaultRetryDelayMs           = 1000
	DefaultMaxDelayMs             = 60000
	DefaultBatchSize              = 500
	DefaultIDPattern              = `^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$`
	DefaultDBNamePattern          = "chronos_{dbType}_{tier}_{tenantId}"
	DefaultAnalyticsDBNamePattern = "{dbName}_analytics"
	DefaultBucketPattern          = "chronos-{dbType}"
	DefaultCacheTTL               = time.Minute
	// AnalyticsSuffix makes the default analyticsDbName of a database
	// entry: dbName + AnalyticsSuffix, shortened with a hash past MaxDBName.
	AnalyticsSuffix = "_analytics"
)

// DevConnRef is the dbConnections key of DevDefault. `chronos dev` points
// it at its embedded MongoDB-compatible server:
//
//	cfg.DBConnections[tenancy.DevConnRef] = tenancy.DBConnection{MongoURI: tenancy.ConnString(uri)}
const DevConnRef = "dev"

// devIDPattern accepts the ids `chronos dev` users type: lower case, digits,
// '_' and '-', up to 40 characters (longer database names are shortened).
const devIDPattern = `^[a-z0-9][a-z0-9_-]{0,39}$`

// AllDBTypes are the dbTypes of events, in a fixed order.
var AllDBTypes = []events.DBType{events.DBRuntime, events.DBMetadata, events.DBKnowledge, events.DBLogs}

// DevDefault returns the built-in configuration of `chronos dev` when no
// file is given: every dbType has a generic database, and any tenant or
// domain whose id matches ^[a-z0-9][a-z0-9_-]{0,39}$ resolves dynamically to
// its own database chronos_<dbType>_<tier>_<id> (the read model's default
// names) on the DevConnRef connection, with blobs under
// <dataDir>/blobs/chronos-<dbType>. It has no auth section. The
// DevConnRef URI is a placeholder for the embedded server's.
func DevDefault(dataDir string) *Config {
	c := &Config{
		DBConnections:     map[string]DBConnection{DevConnRef: {MongoURI: "mongodb://127.0.0.1:27017"}},
		SpacesConnections: map[string]SpacesConnection{},
		LocalStorage:      LocalStorage{Enabled: true, BasePath: filepath.Join(dataDir, "blobs")},
		DynamicTenants: DynamicTenants{
			Enabled:       true,
			Tiers:         []events.Tier{events.TierTenant, events.TierDomain},
			DBTypes:       append([]events.DBType(nil), AllDBTypes...),
			IDPattern:     devIDPattern,
			DBNamePattern: DefaultDBNamePattern,
			BucketPattern: DefaultBucketPattern,
			Backends:      []Backend{{DBConnRef: DevConnRef}},
			Discover:      DiscoverOff,
		},
	}
	generic := func(t events.DBType) *GenericDatabase {
		return &GenericDatabase{Placement{
			DBConnRef: DevConnRef,
			DBName:    "chronos_" + string(t) + "_generic",
			Bucket:    "chronos-" + string(t),
		}}
	}
	c.Databases = Databases{
		Runtime:   &TieredDatabases{GenericDatabase: generic(events.DBRuntime)},
		Metadata:  &TieredDatabases{GenericDatabase: generic(events.DBMetadata)},
		Knowledge: &TieredDatabases{GenericDatabase: generic(events.DBKnowledge)},
		Logs:      generic(events.DBLogs),
	}
	c.setDefaults()
	return c
}

// setDefaults fills every unset field with its default. It is idempotent
// and leaves set fields alone.
func (c *Config) setDefaults() {
	if c.DBConnections == nil {
		c.DBConnections = map[string]DBConnection{}
	}
	if c.SpacesConnections == nil {
		c.SpacesConnections = map[string]SpacesConnection{}
	}
	for ref, sc := range c.SpacesConnections {
		if sc.Type == "" {
			sc.Type = detectKind(sc.Endpoint)
		}
		if sc.Type == BackendS3 && sc.Region == "" {
			sc.Region = DefaultRegion
		}
		c.SpacesConnections[ref] = sc
	}
	for _, p := range c.placements() {
		p.setDefaults()
	}
	if c.Routing.HashAlgo == "" {
		c.Routing.HashAlgo = DefaultHashAlgo
	}
	c.Fallback.setDefaults()
	c.WriteOptimization.setDefaults()
	c.LogicalDelete.setDefaults()
	c.Versioning.setDefaults()
	c.NATS.setDefaults()
	c.DynamicTenants.setDefaults()
}

func (p *Placement) setDefaults() {
	if p.AnalyticsDBName == "" && dbNameProblem(p.DBName) == "" {
		p.AnalyticsDBName = shortenDBName(p.DBName + AnalyticsSuffix)
	}
}

func (f *Fallback) setDefaults() {
	if f.Enabled == nil {
		f.Enabled = ptr(true)
	}
	if f.MaxRetries == nil {
		f.MaxRetries = ptr(DefaultMaxRetries)
	}
	if f.RetryDelayMs == 0 {
		f.RetryDelayMs = DefaultRetryDelayMs
	}
	if f.MaxDelayMs == 0 {
		f.MaxDelayMs = DefaultMaxDelayMs
	}
}

func (w *WriteOptimization) setDefaults() {
	if w.BatchSize == 0 {
		w.BatchSize = DefaultBatchSize
	}
	if w.CompressionEnabled == nil {
		w.CompressionEnabled = ptr(true)
	}
}

func (s *Switch) setDefaults() {
	if s.Enabled == nil {
		s.Enabled = ptr(true)
	}
}

func (n *NATS) setDefaults() {
	if n.URL == "" {
		n.URL = DefaultNATSURL
	}
	if n.Stream == "" {
		n.Stream = DefaultStream
	}
	if n.Replicas == 0 {
		n.Replicas = DefaultReplicas
	}
	if n.Partitions == 0 {
		n.Partitions = DefaultPartitions
	}
	if n.DuplicateWindow == 0 {
		n.DuplicateWindow = Duration(DefaultDuplicateWindow)
	}
}

func (d *DynamicTenants) setDefaults() {
	if len(d.Tiers) == 0 {
		d.Tiers = []events.Tier{events.TierTenant}
	}
	if len(d.DBTypes) == 0 {
		d.DBTypes = append([]events.DBType(nil), AllDBTypes...)
	}
	if d.IDPattern == "" {
		d.IDPattern = DefaultIDPattern
	}
	if d.DBNamePattern == "" {
		d.DBNamePattern = DefaultDBNamePattern
	}
	if d.AnalyticsDBNamePattern == "" {
		d.AnalyticsDBNamePattern = DefaultAnalyticsDBNamePattern
	}
	if d.BucketPattern == "" {
		d.BucketPattern = DefaultBucketPattern
	}
	if d.Discover == "" {
		d.Discover = DiscoverOff
	}
	if d.CacheTTL == 0 {
		d.CacheTTL = Duration(DefaultCacheTTL)
	}
}

// placements returns every database entry's Placement, in a fixed order.
func (c *Config) placements() []*Placement {
	var out []*Placement
	for _, e := range c.entries() {
		out = append(out, e.p)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
