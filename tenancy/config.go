package tenancy

import (
	"encoding/json"

	"github.com/chronos-go/chronos/events"
)

// Config is the Chronos configuration file: the seed's (chronos-db / xronox)
// shape and key names, plus nats, auth and dynamicTenants. Every field has a
// documented default; docs/configuration.md lists them all.
//
// A Config from Parse, Load or DevDefault has its defaults filled in and has
// passed Validate. Treat it as read-only once a Router or Authorizer is
// built from it: they keep references into it.
type Config struct {
	// DBConnections names MongoDB connections; databases refer to them by
	// key (dbConnRef). One client is opened per distinct URI.
	DBConnections map[string]DBConnection `json:"dbConnections"`
	// SpacesConnections names blob stores (S3, Azure Blob, local disk);
	// databases refer to them by key (spaceConnRef).
	SpacesConnections map[string]SpacesConnection `json:"spacesConnections"`
	// Databases places every scope's data: a MongoDB database and buckets.
	Databases Databases `json:"databases"`
	// LocalStorage is the blob store of databases without a spaceConnRef.
	LocalStorage LocalStorage `json:"localStorage"`
	// Routing chooses among several backends (dynamicTenants.backends).
	Routing Routing `json:"routing"`
	// Retention bounds how long versions and counters are kept.
	Retention Retention `json:"retention"`
	// CollectionMaps describes collections by name (in every scope).
	CollectionMaps map[string]CollectionMap `json:"collectionMaps,omitempty"`
	// CounterRules adds named, conditional counters to the totals.
	CounterRules CounterRules `json:"counterRules"`
	// Fallback is the retry and dead-letter policy of the workers.
	Fallback Fallback `json:"fallback"`
	// WriteOptimization tunes batching and compression.
	WriteOptimization WriteOptimization `json:"writeOptimization"`
	// LogicalDelete keeps deleted items (marked deleted) instead of erasing them.
	LogicalDelete Switch `json:"logicalDelete"`
	// Versioning keeps every version of every item.
	Versioning Switch `json:"versioning"`
	// NATS is the event log.
	NATS NATS `json:"nats"`
	// Auth lists the API keys. Nil means the file has no auth section:
	// standalone services then refuse to start unless told to run insecure.
	Auth *Auth `json:"auth,omitempty"`
	// DynamicTenants resolves tenants (and domains) that Databases does not
	// list, from name patterns.
	DynamicTenants DynamicTenants `json:"dynamicTenants"`
}

// DBConnection is one MongoDB deployment.
type DBConnection struct {
	// MongoURI is a mongodb:// or mongodb+srv:// connection string. Its
	// password never appears in output (see ConnString).
	MongoURI ConnString `json:"mongoUri"`
}

// Backend kinds of a SpacesConnection.
const (
	BackendS3    = "s3"
	BackendAzure = "azure"
	BackendLocal = "local"
)

// SpacesConnection is one blob service: an S3-compatible endpoint, an Azure
// Blob account, or a local directory.
type SpacesConnection struct {
	// Type is "s3", "azure" or "local". Default: "azure" when the endpoint's
	// host ends in .blob.core.windows.net, otherwise "s3".
	Type string `json:"type,omitempty"`
	// Endpoint is the service URL (http or https). S3: optional (the AWS
	// default for Region when empty). Azure: required, the account's blob
	// endpoint. Local: not allowed.
	Endpoint string `json:"endpoint,omitempty"`
	// Region of an S3 service; default "us-east-1" for type s3.
	Region string `json:"region,omitempty"`
	// AccessKey is the S3 access key id, or the Azure account name.
	AccessKey Secret `json:"accessKey,omitempty"`
	// SecretKey is the S3 secret key, or the Azure account key.
	SecretKey Secret `json:"secretKey,omitempty"`
	// ForcePathStyle addresses S3 buckets as endpoint/bucket instead of
	// bucket.endpoint (most self-hosted S3 servers need it). Default false.
	ForcePathStyle bool `json:"forcePathStyle,omitempty"`
	// BasePath is the directory of a local store (type local only).
	BasePath string `json:"basePath,omitempty"`
}

// Databases holds the database of every dbType and tier.
type Databases struct {
	Metadata  *TieredDatabases `json:"metadata,omitempty"`
	Knowledge *TieredDatabases `json:"knowledge,omitempty"`
	// Runtime takes tenantDatabases (the seed's shape) and, beyond the
	// seed, genericDatabase and domainsDatabases.
	Runtime *TieredDatabases `json:"runtime,omitempty"`
	// Logs is the single database of logs data (generic tier). Logs of a
	// tenant or domain resolve only through dynamicTenants.
	Logs *GenericDatabase `json:"logs,omitempty"`
	// Messaging is the seed's Chronow messaging database (MongoDB only).
	Messaging *MessagingDatabase `json:"messaging,omitempty"`
	// Identities is the seed's users/accounts database (MongoDB only).
	Identities *IdentitiesDatabase `json:"identities,omitempty"`
}

// TieredDatabases are the databases of one dbType, by tier.
type TieredDatabases struct {
	GenericDatabase  *GenericDatabase `json:"genericDatabase,omitempty"`
	DomainsDatabases []DomainDatabase `json:"domainsDatabases,omitempty"`
	TenantDatabases  []TenantDatabase `json:"tenantDatabases,omitempty"`
}

// Placement says where one scope's data lives: a MongoDB database (and its
// analytics database) and the bucket(s) of a blob store. It is the part
// every database entry shares.
type Placement struct {
	// DBConnRef names the entry of dbConnections. Required.
	DBConnRef string `json:"dbConnRef"`
	// SpaceConnRef names the entry of spacesConnections. Required unless
	// localStorage is enabled, which then holds the buckets.
	SpaceConnRef string `json:"spaceConnRef,omitempty"`
	// DBName is the MongoDB database of the heads and versions. Required;
	// two scopes never share one.
	DBName string `json:"dbName"`
	// AnalyticsDBName holds the counters; default DBName + "_analytics"
	// (shortened with a hash when that passes 63 bytes).
	AnalyticsDBName string `json:"analyticsDbName,omitempty"`
	// Bucket holds every kind of blob. Set it, or the multi-bucket set
	// below, not both.
	Bucket string `json:"bucket,omitempty"`
	// RecordsBucket is required with the multi-bucket set; a member of the
	// set left empty defaults to it.
	RecordsBucket  string `json:"recordsBucket,omitempty"`
	VersionsBucket string `json:"versionsBucket,omitempty"`
	ContentBucket  string `json:"contentBucket,omitempty"`
	BackupsBucket  string `json:"backupsBucket,omitempty"`
}

// GenericDatabase is the database of the generic tier of a dbType.
type GenericDatabase struct {
	Placement
}

// DomainDatabase is the database of one domain.
type DomainDatabase struct {
	Domain string `json:"domain"`
	Placement
}

// TenantDatabase is the database of one tenant.
type TenantDatabase struct {
	TenantID string `json:"tenantId"`
	Placement
}

// MessagingDatabase is the seed's messaging database: MongoDB only.
type MessagingDatabase struct {
	DBConnRef string `json:"dbConnRef"`
	DBName    string `json:"dbName"`
	// CaptureDeliveries records delivery attempts. Default false.
	CaptureDeliveries bool `json:"captureDeliveries,omitempty"`
}

// IdentitiesDatabase is the seed's identities database: MongoDB only.
type IdentitiesDatabase struct {
	DBConnRef string `json:"dbConnRef"`
	DBName    string `json:"dbName"`
}

// LocalStorage is the seed's local-disk blob store.
type LocalStorage struct {
	// Enabled makes BasePath the blob store of every database without a
	// spaceConnRef. Default false.
	Enabled bool `json:"enabled"`
	// BasePath is the directory; a bucket is a subdirectory of it.
	BasePath string `json:"basePath,omitempty"`
}

// Hash algorithms of Routing.HashAlgo.
const (
	HashRendezvous = "rendezvous"
	HashJump       = "jump"
)

// Routing configures how a tenant is placed on one of several backends.
type Routing struct {
	// HashAlgo is "rendezvous" (default) or "jump".
	HashAlgo string `json:"hashAlgo"`
}

// Retention bounds how long old data is kept. Zero keeps it forever.
type Retention struct {
	Ver      VerRetention     `json:"ver"`
	Counters CounterRetention `json:"counters"`
}

// VerRetention bounds old versions.
type VerRetention struct {
	// Days keeps versions younger than this many days; 0: forever.
	Days int `json:"days"`
	// MaxPerItem keeps at most this many versions per item; 0: no limit.
	MaxPerItem int `json:"maxPerItem"`
}

// CounterRetention bounds periodic counter documents.
type CounterRetention struct {
	Days   int `json:"days"`
	Weeks  int `json:"weeks"`
	Months int `json:"months"`
}

// CollectionMap describes one collection (by name, in every scope).
type CollectionMap struct {
	// IndexedProps are the filterable, indexed top-level properties. An
	// empty list (or no entry for the collection) makes every top-level
	// property filterable, none indexed.
	IndexedProps []string `json:"indexedProps"`
	// Base64Props are properties holding base64 content, by name.
	Base64Props map[string]Base64Prop `json:"base64Props,omitempty"`
	// Validation lists required properties.
	Validation *CollectionValidation `json:"validation,omitempty"`
	// HiddenFields are left out of reads unless asked for.
	HiddenFields []string `json:"hiddenFields,omitempty"`
	// Projection names reusable field selections ("minimal", ...).
	Projection map[string]ProjectionSpec `json:"projection,omitempty"`
}

// Base64Prop describes a top-level property holding base64-encoded
// content. The offloader stores the decoded content of each version at
// <collection>/<itemId>/v<ov>/<prop>/blob.bin (text.txt with
// PreferredText) in the route's content bucket, and the query service
// serves it; the property's name is that key segment, so it must not
// contain '/' nor begin with "item.json" (see validation).
type Base64Prop struct {
	// ContentType is the MIME type of the decoded bytes. Required.
	ContentType string `json:"contentType"`
	// PreferredText stores and serves the content as UTF-8 text
	// (text.txt), transcoded from TextCharset, instead of the bytes.
	PreferredText bool `json:"preferredText,omitempty"`
	// TextCharset is the charset of the decoded bytes of a PreferredText
	// property, one of TextCharsets; default utf-8. Ignored without
	// PreferredText.
	TextCharset string `json:"textCharset,omitempty"`
}

// CollectionValidation lists the properties a write must carry.
type CollectionValidation struct {
	// RequiredIndexed must each be one of IndexedProps (when it is not empty).
	RequiredIndexed []string `json:"requiredIndexed"`
}

// ProjectionSpec selects fields: Include (a list, or "*" for all) minus Exclude.
type ProjectionSpec struct {
	Include FieldSet `json:"include"`
	Exclude []string `json:"exclude,omitempty"`
}

// CounterRules holds the conditional counters.
type CounterRules struct {
	Rules []CounterRule `json:"rules,omitempty"`
}

// CounterRule counts the events that match When, under Name.
type CounterRule struct {
	// Name is unique, of [A-Za-z0-9_-].
	Name string `json:"name"`
	// On lists the operations counted: CREATE, UPDATE, DELETE. Default all.
	On []string `json:"on,omitempty"`
	// Scope is what When matches: "meta" (indexed props, default) or "payload".
	Scope string `json:"scope,omitempty"`
	// When is a filter object (property → value or operator object). Required.
	When map[string]json.RawMessage `json:"when"`
	// CountUnique counts distinct values of these properties.
	CountUnique []string `json:"countUnique,omitempty"`
}

// Fallback is the retry and dead-letter policy of the workers.
type Fallback struct {
	// Enabled dead-letters an event after MaxRetries failed retries.
	// Default true.
	Enabled *bool `json:"enabled"`
	// MaxRetries is the number of retries after the first failure. Default 5.
	MaxRetries *int `json:"maxRetries"`
	// RetryDelayMs is the first retry's delay; doubled per retry. Default 1000.
	RetryDelayMs int `json:"retryDelayMs"`
	// MaxDelayMs caps the delay. Default 60000.
	MaxDelayMs int `json:"maxDelayMs"`
}

// WriteOptimization tunes batching and compression.
type WriteOptimization struct {
	// BatchSize is the most events applied in one bulk write. Default 500.
	BatchSize int `json:"batchSize"`
	// DebounceMs is how long a worker waits to fill a batch. Default 0.
	DebounceMs int `json:"debounceMs"`
	// CompressionEnabled compresses offloaded payloads. Default true.
	CompressionEnabled *bool `json:"compressionEnabled"`
}

// Switch is an on/off section such as logicalDelete and versioning.
type Switch struct {
	// Enabled; default true.
	Enabled *bool `json:"enabled"`
}

// On reports whether s is enabled; an unset switch is on.
func (s Switch) On() bool { return s.Enabled == nil || *s.Enabled }

// NATS is the event log's server and stream layout.
type NATS struct {
	// URL of the server(s), comma-separated; default nats://127.0.0.1:4222.
	// Credentials may be in the URL (nats://user:password@host:4222).
	URL ConnString `json:"url"`
	// Stream is the prefix of the stream names: <stream>_P<k> and
	// <stream>_DLQ. Default "CHRONOS".
	Stream string `json:"stream"`
	// Replicas per stream, 1 to 5; default 1. Production runs 3.
	Replicas int `json:"replicas"`
	// Partitions is the number of partition streams, 1 to 1024; default 8.
	// Fixed once the streams exist.
	Partitions int `json:"partitions"`
	// DuplicateWindow is how long a Nats-Msg-Id deduplicates; default 2m.
	DuplicateWindow Duration `json:"duplicateWindow"`
}

// Auth lists the API keys.
type Auth struct {
	Keys []APIKey `json:"keys"`
}

// APIKey is one API key: its SHA-256, what it may reach and do.
type APIKey struct {
	// Name identifies the key in logs and errors. Required, unique.
	Name string `json:"name"`
	// SHA256 is the hex SHA-256 of the key (see HashKey). The key itself is
	// never in the file.
	SHA256 Secret `json:"sha256"`
	// Tenants the key reaches: tenant ids, or "*" for every tenant.
	Tenants []string `json:"tenants,omitempty"`
	// Domains the key reaches: domains, or "*" for every domain.
	Domains []string `json:"domains,omitempty"`
	// Generic lets the key reach the generic tier.
	Generic bool `json:"generic,omitempty"`
	// DBTypes limits the key to these dbTypes; default all.
	DBTypes []events.DBType `json:"dbTypes,omitempty"`
	// Rights are read, write, admin (admin implies read and write).
	Rights []Right `json:"rights"`
}

// Discovery modes of DynamicTenants.Discover.
const (
	DiscoverOff     = "off"
	DiscoverPrefer  = "prefer"
	DiscoverRequire = "require"
)

// DynamicTenants resolves a tenant (or domain) absent from Databases from
// name patterns. Patterns take {tenantId} (the tenant id, or the domain),
// {scope} (the same), {dbType} and {tier}; analyticsDbNamePattern also
// takes {dbName}.
type DynamicTenants struct {
	// Enabled turns dynamic resolution on. Default false.
	Enabled bool `json:"enabled"`
	// Tiers resolved dynamically: "tenant", "domain". Default ["tenant"].
	Tiers []events.Tier `json:"tiers,omitempty"`
	// DBTypes resolved dynamically. Default all four.
	DBTypes []events.DBType `json:"dbTypes,omitempty"`
	// IDPattern is the regular expression an id must match (anchor it).
	// Default ^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$.
	IDPattern string `json:"idPattern,omitempty"`
	// DBNamePattern names the database. Default chronos_{dbType}_{tier}_{tenantId}.
	DBNamePattern string `json:"dbNamePattern,omitempty"`
	// AnalyticsDBNamePattern names the analytics database. Default {dbName}_analytics.
	AnalyticsDBNamePattern string `json:"analyticsDbNamePattern,omitempty"`
	// BucketPattern names the bucket (all four kinds). Default chronos-{dbType}.
	BucketPattern string `json:"bucketPattern,omitempty"`
	// Backends a dynamic scope is placed on, by routing.hashAlgo. At least one.
	Backends []Backend `json:"backends,omitempty"`
	// Discover is "off" (default: place by hash), "prefer" (a backend that
	// already holds the database wins, else place by hash) or "require"
	// (only scopes whose database exists resolve).
	Discover string `json:"discover,omitempty"`
	// CacheTTL is how long a listing of a backend's databases is reused.
	// Default 1m.
	CacheTTL Duration `json:"cacheTtl"`
}

// Backend is one place a dynamic tenant may land.
type Backend struct {
	DBConnRef    string `json:"dbConnRef"`
	SpaceConnRef string `json:"spaceConnRef,omitempty"`
}
