package mongostore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// ErrInvalidOptions is matched (errors.Is) by every error about Options,
// including a database name that a Database or AnalyticsDatabase function
// returned and MongoDB would refuse.
var ErrInvalidOptions = errors.New("chronos: invalid mongostore options")

// Defaults of Options.
const (
	// DefaultDatabasePrefix starts every default database name.
	DefaultDatabasePrefix = "chronos"
	// DefaultInlineLimit is the largest payload kept inline in a head
	// document, in bytes of the event's JSON.
	DefaultInlineLimit = 64 << 10
	// MaxInlineLimit bounds InlineLimit: MongoDB documents are at most
	// 16 MiB of BSON, which a JSON payload can exceed several times over.
	MaxInlineLimit = 8 << 20
	// DefaultChunkSize is the number of writes sent in one bulkWrite.
	DefaultChunkSize = 500
	// FerretDBChunkSize caps ChunkSize when the server is FerretDB: FerretDB
	// v1.24 hangs for good on a bulk of 100 or more upserts that match
	// existing documents.
	FerretDBChunkSize = 40
	// MaxDatabaseName is the longest database name the store produces or
	// accepts, in bytes (MongoDB's limit is 64, FerretDB's 63).
	MaxDatabaseName = 63
)

// Options configure a Store. The zero value is valid and means every
// default.
type Options struct {
	// DatabasePrefix starts the default database names (see Database).
	// Default DefaultDatabasePrefix. At most 20 characters of [a-z0-9_-],
	// starting with a letter or digit: database names are compared without
	// regard to case by MongoDB, and FerretDB accepts only [A-Za-z0-9_-].
	DatabasePrefix string

	// Database routes a collection to the database holding its
	// <collection>_head and <collection>_ver collections. Default:
	//
	//	<prefix>_<dbType>_tenant_<scope>   tenant tier
	//	<prefix>_<dbType>_domain_<scope>   domain tier
	//	<prefix>_<dbType>_generic          generic tier
	//
	// e.g. "chronos_runtime_tenant_acme". The default is collision-free:
	//   - a scope with upper-case letters (MongoDB database names ignore
	//     case) is written with tier word "tenantx"/"domainx" and each
	//     upper-case letter as '-' + its lower case, each '-' doubled:
	//     scope "Acme-1" gives "chronos_runtime_tenantx_-acme--1";
	//   - a name longer than MaxDatabaseName bytes is shortened to
	//     "<prefix>_<dbType>_<tier>h_<start of scope>_<16 hex digits of the
	//     SHA-256 of the long name>".
	//
	// A custom function must return valid names (checked on use): 1 to
	// MaxDatabaseName bytes without any of / \ . " $ * < > : | ? or NUL, and
	// two collections of different scopes must not share a name unless
	// they may see each other's data.
	Database func(events.Collection) string

	// AnalyticsDatabase routes a collection to the database holding its
	// counters (collection cnt_total). Default: Database(c) + "_analytics",
	// shortened with a hash as above when that passes MaxDatabaseName.
	// Data and analytics databases never hold a collection of the same name
	// (cnt_total against <coll>_head and <coll>_ver), so a default
	// analytics name equal to another scope's data database name is
	// harmless.
	AnalyticsDatabase func(events.Collection) string

	// InlineLimit is the largest payload, in bytes of the event's JSON,
	// kept inline in a head document. Larger ones, and payloads MongoDB
	// cannot hold as a document (see the package doc), are left out: the
	// head has Data nil and readers fetch the payload elsewhere. Default
	// DefaultInlineLimit; at most MaxInlineLimit.
	InlineLimit int

	// ChunkSize is the most writes sent in one bulkWrite. Default
	// DefaultChunkSize; capped at FerretDBChunkSize when the server is
	// FerretDB (buildInfo reports ferretdbVersion).
	ChunkSize int

	// Owner makes Close disconnect the client.
	Owner bool

	// IndexedProps returns a collection's indexed props (its collection
	// map's indexedProps): each gets an ascending index on the head
	// collection, created with the other indexes the first time this
	// process writes to the collection (so a prop added to a running
	// process is indexed after its restart). Names that cannot be fields
	// are skipped. Default: none. Lists filter on any prop either way;
	// indexes only make them fast.
	IndexedProps func(events.Collection) []string

	// CounterRules are counted for every collection (see
	// projection.CounterRule), compiled by projection.CompileRules.
	// Totals go to the collection's cnt_total document under
	// rules.<name>; distinct values to cnt_unique (see the package doc).
	// A rule added later counts from then on; a rebuild counts it over the
	// whole log. Default: none.
	CounterRules []projection.CounterRule

	// CountersName returns the database name that counter documents
	// record (in _id and dbName) for a collection. Default: Database(c).
	// A rebuild generation writing to other databases sets it to the
	// served names, so its counters equal the live ones document for
	// document.
	CountersName func(events.Collection) string
}

var prefixRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,19}$`)

// Validate reports the first field of o that is out of range, naming it;
// the error matches ErrInvalidOptions. Zero values are valid (defaults).
func (o Options) Validate() error {
	if o.DatabasePrefix != "" && !prefixRe.MatchString(o.DatabasePrefix) {
		return fmt.Errorf("%w: DatabasePrefix %q must be 1 to 20 characters of [a-z0-9_-] starting with a letter or digit",
			ErrInvalidOptions, o.DatabasePrefix)
	}
	if o.InlineLimit < 0 || o.InlineLimit > MaxInlineLimit {
		return fmt.Errorf("%w: InlineLimit is %d; it must be between 0 (default %d) and %d bytes",
			ErrInvalidOptions, o.InlineLimit, DefaultInlineLimit, MaxInlineLimit)
	}
	if o.ChunkSize < 0 || o.ChunkSize > 100_000 {
		return fmt.Errorf("%w: ChunkSize is %d; it must be between 0 (default %d) and 100000 (MongoDB's maxWriteBatchSize)",
			ErrInvalidOptions, o.ChunkSize, DefaultChunkSize)
	}
	return nil
}

// setDefaults fills every zero field of o.
func (o *Options) setDefaults() {
	if o.DatabasePrefix == "" {
		o.DatabasePrefix = DefaultDatabasePrefix
	}
	if o.Database == nil {
		prefix := o.DatabasePrefix
		o.Database = func(c events.Collection) string { return databaseName(prefix, c) }
	}
	if o.AnalyticsDatabase == nil {
		db := o.Database
		o.AnalyticsDatabase = func(c events.Collection) string { return withSuffix(db(c), "_analytics") }
	}
	if o.InlineLimit == 0 {
		o.InlineLimit = DefaultInlineLimit
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
}

// databaseName is the default Database rule (see Options.Database).
func databaseName(prefix string, c events.Collection) string {
	head := prefix + "_" + string(c.DBType) + "_"
	if c.Tier == events.TierGeneric {
		return head + "generic"
	}
	word, scope := string(c.Tier), c.Scope
	if strings.ContainsFunc(scope, isUpper) {
		word, scope = word+"x", foldCase(scope)
	}
	name := head + word + "_" + scope
	if len(name) <= MaxDatabaseName {
		return name
	}
	head += string(c.Tier) + "h_"
	keep := max(MaxDatabaseName-len(head)-1-16, 0)
	return head + scope[:min(keep, len(scope))] + "_" + shortHash(name)
}

// withSuffix returns name+suffix, or a hash-shortened form of it when that
// is longer than MaxDatabaseName bytes.
func withSuffix(name, suffix string) string {
	full := name + suffix
	if len(full) <= MaxDatabaseName {
		return full
	}
	keep := max(MaxDatabaseName-len(suffix)-1-16, 0)
	// Names are ASCII when they come from databaseName; cut on a rune
	// boundary anyway for custom ones.
	for keep > 0 && keep < len(name) && name[keep]&0xC0 == 0x80 {
		keep--
	}
	return name[:min(keep, len(name))] + "_" + shortHash(full) + suffix
}

func isUpper(r rune) bool { return r >= 'A' && r <= 'Z' }

// foldCase maps a token to [a-z0-9_-] one-to-one: 'X' becomes "-x" and
// '-' becomes "--", so no two scopes that differ in case share a name.
func foldCase(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z':
			b.WriteByte('-')
			b.WriteByte(c + 'a' - 'A')
		case c == '-':
			b.WriteString("--")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// checkDatabaseName returns an error matching ErrInvalidOptions when
// MongoDB would refuse name as a database name.
func checkDatabaseName(field, name string) error {
	if name == "" || len(name) > MaxDatabaseName || strings.ContainsAny(name, "/\\. \"$*<>:|?\x00") {
		return fmt.Errorf("%w: %s returned %q: a database name is 1 to %d bytes without / \\ . space \" $ * < > : | ? or NUL",
			ErrInvalidOptions, field, name, MaxDatabaseName)
	}
	return nil
}
