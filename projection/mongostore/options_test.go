package mongostore

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/events"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr error
	}{
		{"zero means defaults", Options{}, nil},
		{"all set", Options{DatabasePrefix: "prod-eu_1", InlineLimit: 1, ChunkSize: 1, Owner: true}, nil},
		{"upper-case prefix", Options{DatabasePrefix: "Chronos"}, ErrInvalidOptions},
		{"prefix with a dot", Options{DatabasePrefix: "a.b"}, ErrInvalidOptions},
		{"prefix starting with _", Options{DatabasePrefix: "_x"}, ErrInvalidOptions},
		{"prefix too long", Options{DatabasePrefix: strings.Repeat("a", 21)}, ErrInvalidOptions},
		{"negative inline limit", Options{InlineLimit: -1}, ErrInvalidOptions},
		{"inline limit too large", Options{InlineLimit: MaxInlineLimit + 1}, ErrInvalidOptions},
		{"negative chunk", Options{ChunkSize: -1}, ErrInvalidOptions},
		{"chunk over maxWriteBatchSize", Options{ChunkSize: 100_001}, ErrInvalidOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Validate() = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestDefaultDatabaseNames(t *testing.T) {
	long := strings.Repeat("s", events.MaxTokenLen)
	tests := []struct {
		c    events.Collection
		want string
	}{
		{events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "o"}, "chronos_runtime_tenant_acme"},
		{events.Collection{DBType: events.DBMetadata, Tier: events.TierDomain, Scope: "health", Name: "o"}, "chronos_metadata_domain_health"},
		{events.Collection{DBType: events.DBLogs, Tier: events.TierGeneric, Scope: "_", Name: "o"}, "chronos_logs_generic"},
		{events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "Acme-1", Name: "o"}, "chronos_runtime_tenantx_-acme--1"},
		{events.Collection{DBType: events.DBKnowledge, Tier: events.TierTenant, Scope: long, Name: "o"}, ""},
	}
	var o Options
	o.setDefaults()
	valid := regexp.MustCompile(`^[a-z0-9_-]{1,63}$`) // FerretDB's rule, lower case for MongoDB's
	for _, tt := range tests {
		got := o.Database(tt.c)
		if tt.want != "" && got != tt.want {
			t.Errorf("Database(%s) = %q, want %q", tt.c, got, tt.want)
		}
		analytics := o.AnalyticsDatabase(tt.c)
		for _, name := range []string{got, analytics} {
			if !valid.MatchString(name) {
				t.Errorf("name %q for %s is not a valid database name", name, tt.c)
			}
		}
		if len(got)+len("_analytics") <= MaxDatabaseName && analytics != got+"_analytics" {
			t.Errorf("AnalyticsDatabase(%s) = %q, want %q", tt.c, analytics, got+"_analytics")
		}
	}
	if got := o.Database(tests[4].c); !strings.HasPrefix(got, "chronos_knowledge_tenanth_sss") || len(got) != MaxDatabaseName {
		t.Errorf("long scope gives %q, want a 63-byte chronos_knowledge_tenanth_sss…_<hash>", got)
	}
}

// TestDefaultDatabaseNamesAreDistinct checks the default rule against
// scopes built to collide: case, the escape characters, the tier words and
// long scopes sharing a start.
func TestDefaultDatabaseNamesAreDistinct(t *testing.T) {
	scopes := []string{
		"acme", "Acme", "ACME", "aCME", "-acme", "--acme", "x_acme", "xacme", "h_acme", "hacme",
		"a-b", "a--b", "A-b", "a-B", "tenant_x", strings.Repeat("s", 100), strings.Repeat("s", 100) + "t",
		strings.Repeat("S", 100), strings.Repeat("s", 128),
	}
	var o Options
	o.setDefaults()
	seen := make(map[string]events.Collection)
	for _, dbt := range []events.DBType{events.DBRuntime, events.DBMetadata, events.DBKnowledge, events.DBLogs} {
		for _, tier := range []events.Tier{events.TierTenant, events.TierDomain} {
			for _, scope := range scopes {
				c := events.Collection{DBType: dbt, Tier: tier, Scope: scope, Name: "o"}
				for _, name := range []string{o.Database(c), "analytics:" + o.AnalyticsDatabase(c)} {
					key := strings.ToLower(name) // MongoDB ignores case
					if prev, dup := seen[key]; dup {
						t.Errorf("%s and %s share %q", prev, c, name)
					}
					seen[key] = c
				}
			}
		}
		c := events.Collection{DBType: dbt, Tier: events.TierGeneric, Scope: "_", Name: "o"}
		if prev, dup := seen[o.Database(c)]; dup {
			t.Errorf("%s and %s share %q", prev, c, o.Database(c))
		}
		seen[o.Database(c)] = c
	}
}

func TestCheckDatabaseName(t *testing.T) {
	for _, name := range []string{"", "a.b", "a b", "a/b", `a\b`, "a$b", `a"b`, strings.Repeat("a", 64)} {
		if err := checkDatabaseName("Database", name); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("checkDatabaseName(%q) = %v, want ErrInvalidOptions", name, err)
		}
	}
	if err := checkDatabaseName("Database", "chronos_runtime_tenant_acme"); err != nil {
		t.Errorf("a default name was refused: %v", err)
	}
}
