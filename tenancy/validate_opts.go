package tenancy

import (
	"encoding/hex"
	"fmt"
	"mime"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/chronos-go/chronos/events"
)

// propProblem checks a property name of a collection map.
func propProblem(p string) string {
	switch {
	case p == "":
		return "must not be empty"
	case strings.HasPrefix(p, "$"):
		return quote(p) + " must not start with '$'"
	case p == "_id" || p == "_system" || strings.HasPrefix(p, "_system."):
		return quote(p) + " is a system field"
	}
	return ""
}

// TextCharsets are the names textCharset accepts, in any case: utf-8 (the
// default; also utf8), us-ascii (ascii) and iso-8859-1 (latin1). The
// offloader transcodes a preferredText property's content from it to
// UTF-8 (offload.ParseCharset holds the same list; a test there keeps the
// two equal, as tenancy does not import offload).
var TextCharsets = []string{"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin1"}

// contentSegmentProblem checks a base64Props name as the key segment it
// becomes in the content layout, <collection>/<itemId>/v<ov>/<prop>/blob.bin:
// the rules of one segment of offload.ValidateKey (duplicated here, as
// tenancy does not import offload), and not a name beginning with
// "item.json", the version payload's object in the same directory (a
// directory and an object of one name cannot coexist on a file system).
func contentSegmentProblem(p string) string {
	switch {
	case len(p) > 255:
		return "is " + strconv.Itoa(len(p)) + " bytes long; a base64 property name becomes a blob key segment, at most 255 bytes"
	case p == "." || p == "..":
		return quote(p) + " cannot be a blob key segment"
	case strings.ContainsAny(p, "/\\"):
		return quote(p) + " must not contain '/' or '\\': a base64 property name becomes one blob key segment"
	case strings.HasPrefix(p, "item.json"):
		return quote(p) + " must not begin with \"item.json\": the version payload's blob has that name in the same directory"
	}
	for _, r := range p {
		if unicode.IsControl(r) {
			return quote(p) + " contains the control character " + fmt.Sprintf("%U", r)
		}
	}
	return ""
}

// props checks a list of property names: each valid, none twice.
func props(ps *problems, path string, list []string) {
	seen := map[string]bool{}
	for i, p := range list {
		if msg := propProblem(p); msg != "" {
			ps.add(index(path, i), msg)
		} else if seen[p] {
			ps.add(index(path, i), "duplicate "+quote(p))
		}
		seen[p] = true
	}
}

func (c *Config) validateCollectionMaps(ps *problems) {
	for _, name := range sortedKeys(c.CollectionMaps) {
		path := join("collectionMaps", name)
		if msg := tokenProblem(name); msg != "" {
			ps.add(path, "collection name "+msg)
		}
		m := c.CollectionMaps[name]
		props(ps, path+".indexedProps", m.IndexedProps)
		if m.Validation != nil {
			props(ps, path+".validation.requiredIndexed", m.Validation.RequiredIndexed)
			if len(m.IndexedProps) > 0 {
				for i, r := range m.Validation.RequiredIndexed {
					if r != "" && !slices.Contains(m.IndexedProps, r) {
						ps.add(index(path+".validation.requiredIndexed", i), quote(r)+" is not one of indexedProps")
					}
				}
			}
		}
		for _, prop := range sortedKeys(m.Base64Props) {
			p := join(path+".base64Props", prop)
			if msg := propProblem(prop); msg != "" {
				ps.add(p, msg)
			} else if msg := contentSegmentProblem(prop); msg != "" {
				ps.add(p, msg)
			}
			bp := m.Base64Props[prop]
			if bp.ContentType == "" {
				ps.add(p+".contentType", "required")
			} else if _, _, err := mime.ParseMediaType(bp.ContentType); err != nil {
				ps.add(p+".contentType", quote(bp.ContentType)+" is not a MIME type such as application/pdf or text/plain")
			}
			if bp.TextCharset != "" && !slices.Contains(TextCharsets, strings.ToLower(bp.TextCharset)) {
				ps.add(p+".textCharset", quote(bp.TextCharset)+" is not one of utf-8, us-ascii, iso-8859-1 (latin1)")
			}
		}
		props(ps, path+".hiddenFields", m.HiddenFields)
		for _, pn := range sortedKeys(m.Projection) {
			p := join(path+".projection", pn)
			if pn == "" {
				ps.add(p, "a projection needs a name")
			}
			spec := m.Projection[pn]
			props(ps, p+".include", spec.Include.Fields)
			props(ps, p+".exclude", spec.Exclude)
		}
	}
}

func (c *Config) validateCounterRules(ps *problems) {
	names := map[string]string{}
	for i, r := range c.CounterRules.Rules {
		path := index("counterRules.rules", i)
		if msg := tokenProblem(r.Name); msg != "" {
			ps.add(path+".name", msg)
		} else if other, dup := names[r.Name]; dup {
			ps.add(path+".name", "duplicate rule "+quote(r.Name)+": also at "+other)
		} else {
			names[r.Name] = path
		}
		for j, on := range r.On {
			switch on {
			case "CREATE", "UPDATE", "DELETE":
			default:
				ps.add(index(path+".on", j), quote(on)+" is not one of CREATE, UPDATE, DELETE")
			}
		}
		switch r.Scope {
		case "", "meta", "payload":
		default:
			ps.add(path+".scope", quote(r.Scope)+" is not one of meta, payload")
		}
		if r.When == nil {
			ps.add(path+".when", "required (an object of conditions)")
		}
		props(ps, path+".countUnique", r.CountUnique)
	}
}

func (c *Config) validateTuning(ps *problems) {
	r := c.Retention
	nonNegative(ps, "retention.ver.days", r.Ver.Days)
	nonNegative(ps, "retention.ver.maxPerItem", r.Ver.MaxPerItem)
	nonNegative(ps, "retention.counters.days", r.Counters.Days)
	nonNegative(ps, "retention.counters.weeks", r.Counters.Weeks)
	nonNegative(ps, "retention.counters.months", r.Counters.Months)

	f := c.Fallback
	if f.MaxRetries != nil {
		nonNegative(ps, "fallback.maxRetries", *f.MaxRetries)
	}
	nonNegative(ps, "fallback.retryDelayMs", f.RetryDelayMs)
	nonNegative(ps, "fallback.maxDelayMs", f.MaxDelayMs)
	first, max := f.RetryDelayMs, f.MaxDelayMs
	if first == 0 {
		first = DefaultRetryDelayMs
	}
	if max == 0 {
		max = DefaultMaxDelayMs
	}
	if first > 0 && max > 0 && max < first {
		ps.add("fallback.maxDelayMs", "must be at least retryDelayMs ("+strconv.Itoa(first)+"), got "+strconv.Itoa(max))
	}

	w := c.WriteOptimization
	if w.BatchSize < 0 || w.BatchSize > 10000 {
		ps.add("writeOptimization.batchSize", "must be between 1 and 10000, got "+strconv.Itoa(w.BatchSize))
	}
	nonNegative(ps, "writeOptimization.debounceMs", w.DebounceMs)
}

// scopeList checks the tenants or domains of a key: ids, or "*".
func scopeList(ps *problems, path string, list []string) {
	for i, s := range list {
		if s == "*" {
			continue
		}
		if msg := scopeProblem(s); msg != "" {
			ps.add(index(path, i), msg)
		}
	}
}

func dbTypeList(ps *problems, path string, list []events.DBType) {
	seen := map[events.DBType]bool{}
	for i, t := range list {
		if !slices.Contains(AllDBTypes, t) {
			ps.add(index(path, i), quote(string(t))+" is not one of runtime, metadata, knowledge, logs")
		} else if seen[t] {
			ps.add(index(path, i), "duplicate "+quote(string(t)))
		}
		seen[t] = true
	}
}

func (c *Config) validateAuth(ps *problems) {
	if c.Auth == nil {
		return
	}
	if len(c.Auth.Keys) == 0 {
		ps.add("auth.keys", "at least one key is required (or remove auth)")
	}
	names := map[string]string{}
	hashes := map[string]string{}
	for i, k := range c.Auth.Keys {
		path := index("auth.keys", i)
		if k.Name == "" {
			ps.add(path+".name", "required")
		} else if other, dup := names[k.Name]; dup {
			ps.add(path+".name", "duplicate key name "+quote(k.Name)+": also at "+other)
		} else {
			names[k.Name] = path
		}
		h := strings.ToLower(k.SHA256.Reveal())
		if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
			ps.add(path+".sha256", "must be the 64 hex digits of the key's SHA-256 (see HashKey)")
		} else if other, dup := hashes[h]; dup {
			ps.add(path+".sha256", "the same key as "+other)
		} else {
			hashes[h] = path
		}
		if len(k.Rights) == 0 {
			ps.add(path+".rights", "required: read, write and/or admin")
		}
		for j, r := range k.Rights {
			if !r.valid() {
				ps.add(index(path+".rights", j), quote(string(r))+" is not one of read, write, admin")
			}
		}
		scopeList(ps, path+".tenants", k.Tenants)
		scopeList(ps, path+".domains", k.Domains)
		dbTypeList(ps, path+".dbTypes", k.DBTypes)
		if len(k.Tenants) == 0 && len(k.Domains) == 0 && !k.Generic {
			ps.add(path, "grants no scope: set tenants, domains or generic")
		}
	}
}

// placeholders of the dynamic name patterns.
var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

func patternProblem(pattern string, allowed ...string) string {
	for _, ph := range placeholder.FindAllString(pattern, -1) {
		if !slices.Contains(allowed, ph) {
			return "unknown placeholder " + ph + "; use " + strings.Join(allowed, ", ")
		}
	}
	if strings.ContainsAny(placeholder.ReplaceAllString(pattern, ""), "{}") {
		return "has an unbalanced '{' or '}'"
	}
	return ""
}

func (c *Config) validateDynamic(ps *problems) {
	d := c.DynamicTenants
	if !d.Enabled {
		return
	}
	d.setDefaults() // a copy: Validate does not change c
	const p = "dynamicTenants"
	for i, t := range d.Tiers {
		if t != events.TierTenant && t != events.TierDomain {
			ps.add(index(p+".tiers", i), quote(string(t))+" is not one of tenant, domain (the generic tier is never dynamic)")
		}
	}
	dbTypeList(ps, p+".dbTypes", d.DBTypes)
	if _, err := regexp.Compile(d.IDPattern); err != nil {
		ps.add(p+".idPattern", "does not compile: "+err.Error())
	}
	names := []string{"{tenantId}", "{scope}", "{dbType}", "{tier}"}
	if msg := patternProblem(d.DBNamePattern, names...); msg != "" {
		ps.add(p+".dbNamePattern", msg)
	} else {
		has := func(ph string) bool { return strings.Contains(d.DBNamePattern, ph) }
		switch {
		case !has("{tenantId}") && !has("{scope}"):
			ps.add(p+".dbNamePattern", "must contain {tenantId}: two tenants never share a database")
		case len(d.DBTypes) > 1 && !has("{dbType}"):
			ps.add(p+".dbNamePattern", "must contain {dbType} when dbTypes has more than one entry")
		case len(d.Tiers) > 1 && !has("{tier}"):
			ps.add(p+".dbNamePattern", "must contain {tier} when tiers has more than one entry")
		default:
			if msg := dbNameProblem(expand(d.DBNamePattern, sampleVars)); msg != "" {
				ps.add(p+".dbNamePattern", "gives invalid names: "+msg)
			}
		}
	}
	if msg := patternProblem(d.AnalyticsDBNamePattern, append(names, "{dbName}")...); msg != "" {
		ps.add(p+".analyticsDbNamePattern", msg)
	} else if !strings.Contains(d.AnalyticsDBNamePattern, "{dbName}") && !strings.Contains(d.AnalyticsDBNamePattern, "{tenantId}") && !strings.Contains(d.AnalyticsDBNamePattern, "{scope}") {
		ps.add(p+".analyticsDbNamePattern", "must contain {dbName} or {tenantId}")
	}
	bucketOK := patternProblem(d.BucketPattern, names...)
	if bucketOK != "" {
		ps.add(p+".bucketPattern", bucketOK)
	}
	if len(d.Backends) == 0 {
		ps.add(p+".backends", "at least one backend is required")
	}
	refs := map[string]string{}
	checkedKinds := map[string]bool{}
	for i, b := range d.Backends {
		bp := index(p+".backends", i)
		c.validateDBConnRef(bp+".dbConnRef", b.DBConnRef, ps)
		if other, dup := refs[b.DBConnRef]; dup && b.DBConnRef != "" {
			ps.add(bp+".dbConnRef", quote(b.DBConnRef)+" is already the backend at "+other)
		}
		refs[b.DBConnRef] = bp
		kind, ok := c.spacesKind(bp+".spaceConnRef", b.SpaceConnRef, ps)
		if ok && bucketOK == "" && !checkedKinds[kind] {
			checkedKinds[kind] = true
			if msg := bucketProblem(kind, expand(d.BucketPattern, sampleVars)); msg != "" {
				ps.add(p+".bucketPattern", "gives invalid names: "+msg)
			}
		}
	}
	switch d.Discover {
	case DiscoverOff, DiscoverPrefer, DiscoverRequire:
	default:
		ps.add(p+".discover", quote(d.Discover)+" is not one of off, prefer, require")
	}
	if d.CacheTTL < 0 {
		ps.add(p+".cacheTtl", "must not be negative")
	}
}

// sampleVars fill the patterns when checking their literal parts.
var sampleVars = map[string]string{"{tenantId}": "x1", "{scope}": "x1", "{dbType}": "runtime", "{tier}": "tenant", "{dbName}": "db"}

// expand replaces the placeholders of pattern with vars.
func expand(pattern string, vars map[string]string) string {
	return placeholder.ReplaceAllStringFunc(pattern, func(ph string) string {
		if v, ok := vars[ph]; ok {
			return v
		}
		return ph
	})
}
