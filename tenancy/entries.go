package tenancy

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/chronos-go/chronos/events"
)

// entry is one database entry of the file, with where it sits.
type entry struct {
	path  string // "databases.runtime.tenantDatabases[0]"
	db    events.DBType
	tier  events.Tier
	scope string // tenant id, domain, or events.GenericScope
	p     *Placement
}

// entries lists every database entry of the four event dbTypes, in file
// order: metadata, knowledge, runtime, logs; generic, domains, tenants.
func (c *Config) entries() []entry {
	var out []entry
	tiered := []struct {
		name string
		db   events.DBType
		t    *TieredDatabases
	}{
		{"metadata", events.DBMetadata, c.Databases.Metadata},
		{"knowledge", events.DBKnowledge, c.Databases.Knowledge},
		{"runtime", events.DBRuntime, c.Databases.Runtime},
	}
	for _, td := range tiered {
		if td.t == nil {
			continue
		}
		base := "databases." + td.name
		if g := td.t.GenericDatabase; g != nil {
			out = append(out, entry{base + ".genericDatabase", td.db, events.TierGeneric, events.GenericScope, &g.Placement})
		}
		for i := range td.t.DomainsDatabases {
			d := &td.t.DomainsDatabases[i]
			out = append(out, entry{base + ".domainsDatabases[" + strconv.Itoa(i) + "]", td.db, events.TierDomain, d.Domain, &d.Placement})
		}
		for i := range td.t.TenantDatabases {
			d := &td.t.TenantDatabases[i]
			out = append(out, entry{base + ".tenantDatabases[" + strconv.Itoa(i) + "]", td.db, events.TierTenant, d.TenantID, &d.Placement})
		}
	}
	if l := c.Databases.Logs; l != nil {
		out = append(out, entry{"databases.logs", events.DBLogs, events.TierGeneric, events.GenericScope, &l.Placement})
	}
	return out
}

// detectKind returns the backend kind of a spaces connection without an
// explicit type: Azure for an endpoint on blob.core.windows.net, else S3.
func detectKind(endpoint string) string {
	if endpoint == "" {
		return BackendS3
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return BackendS3
	}
	if strings.HasSuffix(strings.ToLower(u.Hostname()), ".blob.core.windows.net") {
		return BackendAzure
	}
	return BackendS3
}

// kindOf returns the effective backend kind of sc.
func kindOf(sc SpacesConnection) string {
	if sc.Type != "" {
		return sc.Type
	}
	return detectKind(sc.Endpoint)
}

// Buckets are the buckets of one scope, by what they hold. A single
// `bucket` in the file fills all four.
type Buckets struct {
	// Records holds latest-state records (the seed's JSON bucket).
	Records string `json:"records"`
	// Versions holds version payloads (offloaded and claim-checked).
	Versions string `json:"versions"`
	// Content holds decoded base64Props content.
	Content string `json:"content"`
	// Backups holds backups.
	Backups string `json:"backups"`
}

// buckets resolves the bucket set of p: `bucket` fills all four; in the
// multi-bucket set an empty member defaults to recordsBucket.
func (p *Placement) buckets() Buckets {
	if p.Bucket != "" {
		return Buckets{Records: p.Bucket, Versions: p.Bucket, Content: p.Bucket, Backups: p.Bucket}
	}
	or := func(s string) string {
		if s == "" {
			return p.RecordsBucket
		}
		return s
	}
	return Buckets{Records: p.RecordsBucket, Versions: or(p.VersionsBucket), Content: or(p.ContentBucket), Backups: or(p.BackupsBucket)}
}

// All returns the distinct bucket names of b, in the order records,
// versions, content, backups.
func (b Buckets) All() []string {
	var out []string
	for _, n := range []string{b.Records, b.Versions, b.Content, b.Backups} {
		if n == "" {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || o == n
		}
		if !dup {
			out = append(out, n)
		}
	}
	return out
}
