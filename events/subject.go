package events

import (
	"hash/fnv"
	"strconv"
	"strings"
)

// SubjectPrefix is the first two tokens of every event subject.
const SubjectPrefix = "chronos.evt"

// MaxTokenLen is the longest dbType, tier, scope, collection or item id.
const MaxTokenLen = 128

// GenericScope is the scope token of the generic tier.
const GenericScope = "_"

// DBType is the kind of database a collection lives in.
type DBType string

// The database types of DESIGN.md.
const (
	DBRuntime   DBType = "runtime"
	DBMetadata  DBType = "metadata"
	DBKnowledge DBType = "knowledge"
	DBLogs      DBType = "logs"
)

// Tier says whose data a collection holds: one tenant's, one domain's or
// everyone's (generic).
type Tier string

// The tiers of DESIGN.md.
const (
	TierTenant  Tier = "tenant"
	TierDomain  Tier = "domain"
	TierGeneric Tier = "generic"
)

// Collection names one collection of one scope. It is the unit of
// partitioning: all of a collection's events share a partition stream.
type Collection struct {
	DBType DBType `json:"dbType"`
	Tier   Tier   `json:"tier"`
	// Scope is the tenant id, the domain, or GenericScope for the generic tier.
	Scope string `json:"scope"`
	Name  string `json:"collection"`
}

// ItemRef names one item of a collection.
type ItemRef struct {
	Collection
	ID string `json:"id"`
}

// Item returns the reference to item id of c.
func (c Collection) Item(id string) ItemRef { return ItemRef{Collection: c, ID: id} }

// String returns "dbType.tier.scope.collection", the partition key.
func (c Collection) String() string {
	return string(c.DBType) + "." + string(c.Tier) + "." + c.Scope + "." + c.Name
}

// String returns "dbType.tier.scope.collection.id".
func (r ItemRef) String() string { return r.Collection.String() + "." + r.ID }

// Validate checks every token of c.
func (c Collection) Validate() error {
	switch c.DBType {
	case DBRuntime, DBMetadata, DBKnowledge, DBLogs:
	default:
		return invalid("dbType", "%q is not one of runtime, metadata, knowledge, logs", c.DBType)
	}
	switch c.Tier {
	case TierTenant, TierDomain:
		if c.Scope == GenericScope {
			return invalid("scope", "%q is reserved for the generic tier; a %s tier needs a %s id", GenericScope, c.Tier, c.Tier)
		}
		if err := ValidateToken("scope", c.Scope); err != nil {
			return err
		}
	case TierGeneric:
		if c.Scope != GenericScope {
			return invalid("scope", "the generic tier has no scope: use %q, not %q", GenericScope, c.Scope)
		}
	default:
		return invalid("tier", "%q is not one of tenant, domain, generic", c.Tier)
	}
	return ValidateToken("collection", c.Name)
}

// Validate checks every token of r.
func (r ItemRef) Validate() error {
	if err := r.Collection.Validate(); err != nil {
		return err
	}
	return ValidateToken("itemId", r.ID)
}

// ValidateToken reports whether s may be used as a subject token: 1 to
// MaxTokenLen characters of [A-Za-z0-9_-]. field names it in the error.
func ValidateToken(field, s string) error {
	if s == "" {
		return invalid(field, "must not be empty")
	}
	if len(s) > MaxTokenLen {
		return invalid(field, "is %d characters long; the limit is %d", len(s), MaxTokenLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			continue
		}
		return invalid(field, "%q has %q at byte %d; only letters, digits, '_' and '-' are allowed", truncate(s), c, i)
	}
	return nil
}

// Partition returns the partition of c among p partitions:
// fnv32a("dbType.tier.scope.collection") % p. It panics if p < 1.
func Partition(c Collection, p int) int {
	if p < 1 {
		panic("events: partition count must be positive")
	}
	h := fnv.New32a()
	h.Write([]byte(c.String()))
	return int(h.Sum32() % uint32(p))
}

// Subject returns the log subject of item r among p partitions. r must be valid.
func Subject(r ItemRef, p int) string {
	return partitionPrefix(Partition(r.Collection, p)) + r.String()
}

// CollectionFilter returns the subject filter matching every item of c.
func CollectionFilter(c Collection, p int) string {
	return partitionPrefix(Partition(c, p)) + c.String() + ".*"
}

// PartitionFilter returns the subject filter of partition k: "chronos.evt.<k>.>".
func PartitionFilter(k int) string { return partitionPrefix(k) + ">" }

func partitionPrefix(k int) string { return SubjectPrefix + "." + strconv.Itoa(k) + "." }

// ParseSubject splits an event subject into its partition and item. It
// validates every token, so a subject that parses is one Subject could build.
func ParseSubject(subject string) (part int, ref ItemRef, err error) {
	rest, ok := strings.CutPrefix(subject, SubjectPrefix+".")
	if !ok {
		return 0, ItemRef{}, invalid("subject", "%q does not start with %q", truncate(subject), SubjectPrefix+".")
	}
	tok := strings.Split(rest, ".")
	if len(tok) != 6 {
		return 0, ItemRef{}, invalid("subject", "%q has %d tokens after %q; want 6 (part.dbType.tier.scope.collection.itemId)", truncate(subject), len(tok), SubjectPrefix)
	}
	part, perr := strconv.Atoi(tok[0])
	if perr != nil || part < 0 || tok[0] != strconv.Itoa(part) {
		return 0, ItemRef{}, invalid("subject", "partition token %q is not a non-negative integer", truncate(tok[0]))
	}
	ref = ItemRef{Collection: Collection{DBType: DBType(tok[1]), Tier: Tier(tok[2]), Scope: tok[3], Name: tok[4]}, ID: tok[5]}
	if err := ref.Validate(); err != nil {
		return 0, ItemRef{}, err
	}
	return part, ref, nil
}

// truncate keeps error messages readable when the input is huge.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
