package tenancy

import (
	"errors"
	"strings"
	"testing"
)

// head is the part of a test configuration that every case shares: one
// MongoDB connection "m" and local blob storage.
const head = `"dbConnections": {"m": {"mongoUri": "mongodb://h:27017"}}, "localStorage": {"enabled": true, "basePath": "/data/blobs"}`

// conf returns a configuration with head and the given top-level members.
func conf(members ...string) string {
	return "{" + strings.Join(append([]string{head}, members...), ",") + "}"
}

// tenant returns a runtime tenantDatabases entry of tenant id with extra
// members replacing the defaults (same key given later wins in JSON? no:
// duplicates are errors, so extra must not repeat a default key).
func runtimeTenants(entries ...string) string {
	return `"databases": {"runtime": {"tenantDatabases": [` + strings.Join(entries, ",") + `]}}`
}

const okTenantA = `{"tenantId": "a", "dbConnRef": "m", "dbName": "db_a", "bucket": "bucket-a"}`

func testEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// TestParseErrors asserts the exact message of every kind of configuration
// error, each with its JSON path.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		env     map[string]string
		wantErr string
	}{
		// Syntax and decoding.
		{"syntax", "{\n  \"a\": 1,\n}", nil,
			`chronos: config: line 3, column 1: invalid character '}' looking for beginning of object key string`},
		{"truncated", `{"nats": `, nil, `chronos: config: line 1, column 10: unexpected end of file`},
		{"trailing data", `{} {}`, nil, `chronos: config: line 1, column 4: unexpected data after the top-level JSON value`},
		{"not an object", `[]`, nil, `chronos: config: the file must hold a JSON object, not a list`},
		{"duplicate key", `{"nats": {"replicas": 1, "replicas": 2}}`, nil, `chronos: config: nats.replicas: duplicate key`},
		{"unknown key with its path", conf(runtimeTenants(okTenantA, `{"tenantId": "b", "dbNam": "x"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[1].dbNam: unknown key`},
		{"keys match case exactly", `{"DBConnections": {}}`, nil, `chronos: config: DBConnections: unknown key`},
		{"seed key chronos drops", `{"transactions": {"enabled": true}}`, nil,
			`chronos: config: transactions: unknown key: chronos has no MongoDB transactions to configure (a write is one append to the log); remove it`},
		{"seed routing.chooseKey", `{"routing": {"chooseKey": "tenantId"}}`, nil,
			`chronos: config: routing.chooseKey: unknown key: chronos places a tenant by its id; remove it`},
		{"seed fallback.deadLetterCollection", `{"fallback": {"deadLetterCollection": "dead"}}`, nil,
			`chronos: config: fallback.deadLetterCollection: unknown key: chronos dead-letters failed events to the <nats.stream>_DLQ stream; remove it`},
		{"wrapped in xronox", `{"xronox": {"nats": {"replicaz": 3}}}`, nil, `chronos: config: xronox.nats.replicaz: unknown key`},
		{"string for an integer", `{"nats": {"replicas": "3"}}`, nil, `chronos: config: nats.replicas: must be an integer, not a string`},
		{"fraction for an integer", `{"nats": {"partitions": 1.5}}`, nil, `chronos: config: nats.partitions: must be an integer in range`},
		{"object for a list", `{"databases": {"runtime": {"tenantDatabases": {}}}}`, nil,
			`chronos: config: databases.runtime.tenantDatabases: must be a list, not an object`},
		{"number for a boolean", `{"localStorage": {"enabled": 1}}`, nil, `chronos: config: localStorage.enabled: must be true or false, not a number`},
		{"quoted map key in path", `{"dbConnections": {"a.b": {"mongoUri": 5}}}`, nil,
			`chronos: config: dbConnections["a.b"].mongoUri: must be a string, not a number`},
		{"bad duration", `{"nats": {"duplicateWindow": "2x"}}`, nil,
			`chronos: config: nats.duplicateWindow: must be a duration such as "90s" or "2m", got "2x"`},
		{"duration as a number", `{"nats": {"duplicateWindow": 120}}`, nil,
			`chronos: config: nats.duplicateWindow: must be a duration string such as "90s" or "2m"`},
		{"projection include", conf(`"collectionMaps": {"users": {"indexedProps": [], "projection": {"min": {"include": "email"}}}}`), nil,
			`chronos: config: collectionMaps.users.projection.min.include: must be "*" or a list of field names`},
		{"missing environment variable", `{"dbConnections": {"m": {"mongoUri": "ENV.MONGO_URI"}}}`, nil,
			`chronos: config: dbConnections.m.mongoUri: environment variable MONGO_URI is not set`},
		{"missing variable inside a string", `{"nats": {"url": "nats://svc:ENV.NATS_PW@h:4222"}}`, nil,
			`chronos: config: nats.url: environment variable NATS_PW is not set`},
		{"variable for an integer", `{"nats": {"replicas": "ENV.R"}}`, map[string]string{"R": "three"},
			`chronos: config: nats.replicas: must be an integer in range`},
		{"variable for a boolean", `{"localStorage": {"enabled": "ENV.B"}}`, map[string]string{"B": "yes"},
			`chronos: config: localStorage.enabled: must be true or false; the environment variable holds something else`},

		// Connections.
		{"mongoUri scheme", `{"dbConnections": {"m": {"mongoUri": "postgres://u:pw@h"}}}`, nil,
			`chronos: config: dbConnections.m.mongoUri: must start with mongodb:// or mongodb+srv://`},
		{"mongoUri host", `{"dbConnections": {"m": {"mongoUri": "mongodb://u:pw@/db"}}}`, nil,
			`chronos: config: dbConnections.m.mongoUri: has no host`},
		{"mongoUri required", `{"dbConnections": {"m": {}}}`, nil, `chronos: config: dbConnections.m.mongoUri: required`},
		{"spaces type", `{"spacesConnections": {"s": {"type": "gcs"}}}`, nil,
			`chronos: config: spacesConnections.s.type: "gcs" is not one of s3, azure, local`},
		{"spaces endpoint", `{"spacesConnections": {"s": {"endpoint": "s3.amazonaws.com"}}}`, nil,
			`chronos: config: spacesConnections.s.endpoint: must be an http:// or https:// URL`},
		{"azure needs an endpoint", `{"spacesConnections": {"s": {"type": "azure"}}}`, nil,
			`chronos: config: spacesConnections.s.endpoint: required for type azure (https://<account>.blob.core.windows.net)`},
		{"local needs a basePath", `{"spacesConnections": {"s": {"type": "local"}}}`, nil,
			`chronos: config: spacesConnections.s.basePath: required for type local`},
		{"half a key pair", `{"spacesConnections": {"s": {"endpoint": "https://s3.example.com", "accessKey": "AKIA"}}}`, nil,
			`chronos: config: spacesConnections.s: set both accessKey and secretKey, or neither (the SDK's default credentials)`},
		{"forcePathStyle on azure", `{"spacesConnections": {"s": {"endpoint": "https://a.blob.core.windows.net", "forcePathStyle": true}}}`, nil,
			`chronos: config: spacesConnections.s.forcePathStyle: only for type s3`},
		{"localStorage basePath", `{"localStorage": {"enabled": true}}`, nil, `chronos: config: localStorage.basePath: required when localStorage is enabled`},

		// Databases.
		{"dangling dbConnRef", conf(runtimeTenants(`{"tenantId": "a", "dbConnRef": "nope", "dbName": "db_a", "bucket": "bucket-a"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[0].dbConnRef: "nope" is not defined in dbConnections`},
		{"dangling spaceConnRef", conf(runtimeTenants(`{"tenantId": "a", "dbConnRef": "m", "spaceConnRef": "s3", "dbName": "db_a", "bucket": "bucket-a"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[0].spaceConnRef: "s3" is not defined in spacesConnections`},
		{"no blob store", `{"dbConnections": {"m": {"mongoUri": "mongodb://h"}}, "databases": {"logs": {"dbConnRef": "m", "dbName": "logs", "bucket": "logs-bucket"}}}`, nil,
			`chronos: config: databases.logs.spaceConnRef: required (or enable localStorage)`},
		{"duplicate tenant", conf(runtimeTenants(okTenantA, `{"tenantId": "a", "dbConnRef": "m", "dbName": "db_a2", "bucket": "bucket-a"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[1].tenantId: duplicate tenant "a": also at databases.runtime.tenantDatabases[0]`},
		{"duplicate domain", conf(`"databases": {"knowledge": {"domainsDatabases": [{"domain": "fin", "dbConnRef": "m", "dbName": "k1", "bucket": "kkk"}, {"domain": "fin", "dbConnRef": "m", "dbName": "k2", "bucket": "kkk"}]}}`), nil,
			`chronos: config: databases.knowledge.domainsDatabases[1].domain: duplicate domain "fin": also at databases.knowledge.domainsDatabases[0]`},
		{"bad tenant id", conf(runtimeTenants(`{"tenantId": "a.b", "dbConnRef": "m", "dbName": "db_a", "bucket": "bucket-a"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[0].tenantId: "a.b" has '.' at byte 1; only letters, digits, '_' and '-' are allowed`},
		{"empty tenant id", conf(runtimeTenants(`{"dbConnRef": "m", "dbName": "db_a", "bucket": "bucket-a"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[0].tenantId: must not be empty`},
		{"reserved tenant id", conf(runtimeTenants(`{"tenantId": "_", "dbConnRef": "m", "dbName": "db_a", "bucket": "bucket-a"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[0].tenantId: "_" is reserved for the generic tier`},
		{"shared database", conf(runtimeTenants(okTenantA, `{"tenantId": "b", "dbConnRef": "m", "dbName": "DB_A", "bucket": "bucket-a"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[1].dbName: database "DB_A" on dbConnRef "m" is already used by databases.runtime.tenantDatabases[0]; two scopes never share a database`},
		{"database name", conf(runtimeTenants(`{"tenantId": "a", "dbConnRef": "m", "dbName": "db.a", "bucket": "bucket-a"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[0].dbName: "db.a" has '.'; a MongoDB database name may not contain / \ . space " $ * < > : | ? or NUL`},
		{"database name length", conf(runtimeTenants(`{"tenantId": "a", "dbConnRef": "m", "dbName": "` + strings.Repeat("d", 64) + `", "bucket": "bucket-a"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[0].dbName: "` + strings.Repeat("d", 64) + `" is 64 bytes long; the limit is 63`},
		{"bucket characters", conf(runtimeTenants(`{"tenantId": "a", "dbConnRef": "m", "dbName": "db_a", "bucket": "Bad_Bucket"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[0].bucket: "Bad_Bucket" is not a valid S3 bucket name: only lower-case letters, digits, '.' and '-' are allowed`},
		{"bucket length", conf(runtimeTenants(`{"tenantId": "a", "dbConnRef": "m", "dbName": "db_a", "bucket": "ab"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[0].bucket: "ab" is not a valid S3 bucket name: it must be 3 to 63 characters long`},
		{"bucket edge", conf(runtimeTenants(`{"tenantId": "a", "dbConnRef": "m", "dbName": "db_a", "bucket": "-abc"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[0].bucket: "-abc" is not a valid S3 bucket name: it must begin and end with a letter or digit`},
		{"bucket periods", conf(runtimeTenants(`{"tenantId": "a", "dbConnRef": "m", "dbName": "db_a", "bucket": "a..b"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[0].bucket: "a..b" is not a valid S3 bucket name: it must not contain two adjacent periods`},
		{"bucket IP", conf(runtimeTenants(`{"tenantId": "a", "dbConnRef": "m", "dbName": "db_a", "bucket": "192.168.5.4"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[0].bucket: "192.168.5.4" is not a valid S3 bucket name: it must not look like an IP address`},
		{"bucket prefix", conf(runtimeTenants(`{"tenantId": "a", "dbConnRef": "m", "dbName": "db_a", "bucket": "xn--abc"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[0].bucket: "xn--abc" is not a valid S3 bucket name: the prefix "xn--" is reserved`},
		{"azure container", `{"dbConnections": {"m": {"mongoUri": "mongodb://h"}}, "spacesConnections": {"az": {"endpoint": "https://acct.blob.core.windows.net"}}, ` +
			`"databases": {"logs": {"dbConnRef": "m", "spaceConnRef": "az", "dbName": "logs", "bucket": "logs.bucket"}}}`, nil,
			`chronos: config: databases.logs.bucket: "logs.bucket" is not a valid Azure container name: only lower-case letters, digits and '-' are allowed`},
		{"bucket and multi-bucket set", conf(runtimeTenants(`{"tenantId": "a", "dbConnRef": "m", "dbName": "db_a", "bucket": "bucket-a", "versionsBucket": "v-a"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[0].bucket: set either bucket or the multi-bucket set (recordsBucket, versionsBucket, contentBucket, backupsBucket), not both`},
		{"no bucket", conf(runtimeTenants(`{"tenantId": "a", "dbConnRef": "m", "dbName": "db_a"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[0].bucket: required (or the multi-bucket set recordsBucket, versionsBucket, contentBucket, backupsBucket)`},
		{"multi-bucket set without records", conf(runtimeTenants(`{"tenantId": "a", "dbConnRef": "m", "dbName": "db_a", "versionsBucket": "v-a"}`)), nil,
			`chronos: config: databases.runtime.tenantDatabases[0].recordsBucket: required with the multi-bucket set`},
		{"messaging", conf(`"databases": {"messaging": {"dbConnRef": "x", "dbName": "msg"}}`), nil,
			`chronos: config: databases.messaging.dbConnRef: "x" is not defined in dbConnections`},

		// Options.
		{"hashAlgo", conf(`"routing": {"hashAlgo": "md5"}`), nil, `chronos: config: routing.hashAlgo: "md5" is not one of rendezvous, jump`},
		{"nats url", conf(`"nats": {"url": "http://h:4222"}`), nil, `chronos: config: nats.url: must be nats://, tls://, ws:// or wss:// URLs, comma-separated`},
		{"nats stream", conf(`"nats": {"stream": "A.B"}`), nil, `chronos: config: nats.stream: "A.B" must be 1 to 32 letters, digits, '_' or '-'`},
		{"nats replicas", conf(`"nats": {"replicas": 7}`), nil, `chronos: config: nats.replicas: must be between 1 and 5, got 7`},
		{"nats partitions", conf(`"nats": {"partitions": -1}`), nil, `chronos: config: nats.partitions: must be between 1 and 1024, got -1`},
		{"negative duration", conf(`"nats": {"duplicateWindow": "-1s"}`), nil, `chronos: config: nats.duplicateWindow: must not be negative`},
		{"short duration", conf(`"nats": {"duplicateWindow": "500ms"}`), nil, `chronos: config: nats.duplicateWindow: must be at least 1s, got 500ms`},
		{"retention", conf(`"retention": {"ver": {"days": -1}}`), nil, `chronos: config: retention.ver.days: must not be negative, got -1`},
		{"fallback delays", conf(`"fallback": {"retryDelayMs": 5000, "maxDelayMs": 1000}`), nil,
			`chronos: config: fallback.maxDelayMs: must be at least retryDelayMs (5000), got 1000`},
		{"fallback retries", conf(`"fallback": {"maxRetries": -2}`), nil, `chronos: config: fallback.maxRetries: must not be negative, got -2`},
		{"batch size", conf(`"writeOptimization": {"batchSize": -5}`), nil, `chronos: config: writeOptimization.batchSize: must be between 1 and 10000, got -5`},
		{"collection name", conf(`"collectionMaps": {"a.b": {"indexedProps": []}}`), nil,
			`chronos: config: collectionMaps["a.b"]: collection name "a.b" has '.' at byte 1; only letters, digits, '_' and '-' are allowed`},
		{"required not indexed", conf(`"collectionMaps": {"users": {"indexedProps": ["email"], "validation": {"requiredIndexed": ["name"]}}}`), nil,
			`chronos: config: collectionMaps.users.validation.requiredIndexed[0]: "name" is not one of indexedProps`},
		{"indexed operator", conf(`"collectionMaps": {"users": {"indexedProps": ["$where"]}}`), nil,
			`chronos: config: collectionMaps.users.indexedProps[0]: "$where" must not start with '$'`},
		{"base64 content type", conf(`"collectionMaps": {"docs": {"indexedProps": [], "base64Props": {"file": {}}}}`), nil,
			`chronos: config: collectionMaps.docs.base64Props.file.contentType: required`},
		{"base64 content type syntax", conf(`"collectionMaps": {"docs": {"indexedProps": [], "base64Props": {"file": {"contentType": "pdf/"}}}}`), nil,
			`chronos: config: collectionMaps.docs.base64Props.file.contentType: "pdf/" is not a MIME type such as application/pdf or text/plain`},
		{"base64 prop with a slash", conf(`"collectionMaps": {"docs": {"indexedProps": [], "base64Props": {"a/b": {"contentType": "image/png"}}}}`), nil,
			`chronos: config: collectionMaps.docs.base64Props["a/b"]: "a/b" must not contain '/' or '\': a base64 property name becomes one blob key segment`},
		{"base64 prop with a backslash", conf(`"collectionMaps": {"docs": {"indexedProps": [], "base64Props": {"a\\b": {"contentType": "image/png"}}}}`), nil,
			`chronos: config: collectionMaps.docs.base64Props["a\\b"]: "a\\b" must not contain '/' or '\': a base64 property name becomes one blob key segment`},
		{"base64 prop dot-dot", conf(`"collectionMaps": {"docs": {"indexedProps": [], "base64Props": {"..": {"contentType": "image/png"}}}}`), nil,
			`chronos: config: collectionMaps.docs.base64Props[".."]: ".." cannot be a blob key segment`},
		{"base64 prop dot", conf(`"collectionMaps": {"docs": {"indexedProps": [], "base64Props": {".": {"contentType": "image/png"}}}}`), nil,
			`chronos: config: collectionMaps.docs.base64Props["."]: "." cannot be a blob key segment`},
		{"base64 prop control character", conf(`"collectionMaps": {"docs": {"indexedProps": [], "base64Props": {"a\u0007": {"contentType": "image/png"}}}}`), nil,
			`chronos: config: collectionMaps.docs.base64Props["a\a"]: "a\a" contains the control character U+0007`},
		{"base64 prop too long", conf(`"collectionMaps": {"docs": {"indexedProps": [], "base64Props": {"` + strings.Repeat("p", 256) + `": {"contentType": "image/png"}}}}`), nil,
			`chronos: config: collectionMaps.docs.base64Props.` + strings.Repeat("p", 256) + `: is 256 bytes long; a base64 property name becomes a blob key segment, at most 255 bytes`},
		{"base64 prop item.json", conf(`"collectionMaps": {"docs": {"indexedProps": [], "base64Props": {"item.json.zst": {"contentType": "image/png"}}}}`), nil,
			`chronos: config: collectionMaps.docs.base64Props["item.json.zst"]: "item.json.zst" must not begin with "item.json": the version payload's blob has that name in the same directory`},
		{"base64 prop system field", conf(`"collectionMaps": {"docs": {"indexedProps": [], "base64Props": {"_system": {"contentType": "image/png"}}}}`), nil,
			`chronos: config: collectionMaps.docs.base64Props._system: "_system" is a system field`},
		{"base64 text charset", conf(`"collectionMaps": {"docs": {"indexedProps": [], "base64Props": {"note": {"contentType": "text/plain", "preferredText": true, "textCharset": "koi8-r"}}}}`), nil,
			`chronos: config: collectionMaps.docs.base64Props.note.textCharset: "koi8-r" is not one of utf-8, us-ascii, iso-8859-1 (latin1)`},
		{"counter op", conf(`"counterRules": {"rules": [{"name": "c", "on": ["INSERT"], "when": {}}]}`), nil,
			`chronos: config: counterRules.rules[0].on[0]: "INSERT" is not one of CREATE, UPDATE, DELETE`},
		{"counter when", conf(`"counterRules": {"rules": [{"name": "c"}]}`), nil,
			`chronos: config: counterRules.rules[0].when: required (an object of conditions)`},
		{"counter names", conf(`"counterRules": {"rules": [{"name": "c", "when": {}}, {"name": "c", "when": {}}]}`), nil,
			`chronos: config: counterRules.rules[1].name: duplicate rule "c": also at counterRules.rules[0]`},

		// Auth.
		{"auth without keys", conf(`"auth": {"keys": []}`), nil, `chronos: config: auth.keys: at least one key is required (or remove auth)`},
		{"key hash", conf(`"auth": {"keys": [{"name": "k", "sha256": "abc", "tenants": ["a"], "rights": ["read"]}]}`), nil,
			`chronos: config: auth.keys[0].sha256: must be the 64 hex digits of the key's SHA-256 (see HashKey)`},
		{"key right", conf(`"auth": {"keys": [{"name": "k", "sha256": "` + HashKey("k") + `", "tenants": ["a"], "rights": ["rw"]}]}`), nil,
			`chronos: config: auth.keys[0].rights[0]: "rw" is not one of read, write, admin`},
		{"key scope", conf(`"auth": {"keys": [{"name": "k", "sha256": "` + HashKey("k") + `", "rights": ["read"]}]}`), nil,
			`chronos: config: auth.keys[0]: grants no scope: set tenants, domains or generic`},
		{"key tenant", conf(`"auth": {"keys": [{"name": "k", "sha256": "` + HashKey("k") + `", "tenants": ["a b"], "rights": ["read"]}]}`), nil,
			`chronos: config: auth.keys[0].tenants[0]: "a b" has ' ' at byte 1; only letters, digits, '_' and '-' are allowed`},
		{"same key twice", conf(`"auth": {"keys": [{"name": "k", "sha256": "` + HashKey("k") + `", "generic": true, "rights": ["read"]}, ` +
			`{"name": "j", "sha256": "` + strings.ToUpper(HashKey("k")) + `", "generic": true, "rights": ["read"]}]}`), nil,
			`chronos: config: auth.keys[1].sha256: the same key as auth.keys[0]`},

		// Dynamic tenants.
		{"dynamic without backends", conf(`"dynamicTenants": {"enabled": true}`), nil,
			`chronos: config: dynamicTenants.backends: at least one backend is required`},
		{"dynamic generic tier", conf(`"dynamicTenants": {"enabled": true, "tiers": ["generic"], "backends": [{"dbConnRef": "m"}]}`), nil,
			`chronos: config: dynamicTenants.tiers[0]: "generic" is not one of tenant, domain (the generic tier is never dynamic)`},
		{"dynamic shared database", conf(`"dynamicTenants": {"enabled": true, "dbNamePattern": "tenants_{dbType}", "backends": [{"dbConnRef": "m"}]}`), nil,
			`chronos: config: dynamicTenants.dbNamePattern: must contain {tenantId}: two tenants never share a database`},
		{"dynamic dbTypes share", conf(`"dynamicTenants": {"enabled": true, "dbNamePattern": "t_{tenantId}", "backends": [{"dbConnRef": "m"}]}`), nil,
			`chronos: config: dynamicTenants.dbNamePattern: must contain {dbType} when dbTypes has more than one entry`},
		{"dynamic placeholder", conf(`"dynamicTenants": {"enabled": true, "dbTypes": ["runtime"], "dbNamePattern": "t_{tenant}", "backends": [{"dbConnRef": "m"}]}`), nil,
			`chronos: config: dynamicTenants.dbNamePattern: unknown placeholder {tenant}; use {tenantId}, {scope}, {dbType}, {tier}`},
		{"dynamic literal", conf(`"dynamicTenants": {"enabled": true, "dbTypes": ["runtime"], "dbNamePattern": "t.{tenantId}", "backends": [{"dbConnRef": "m"}]}`), nil,
			`chronos: config: dynamicTenants.dbNamePattern: gives invalid names: "t.x1" has '.'; a MongoDB database name may not contain / \ . space " $ * < > : | ? or NUL`},
		{"dynamic bucket", conf(`"dynamicTenants": {"enabled": true, "bucketPattern": "Chronos_{dbType}", "backends": [{"dbConnRef": "m"}]}`), nil,
			`chronos: config: dynamicTenants.bucketPattern: gives invalid names: "Chronos_runtime" is not a valid S3 bucket name: only lower-case letters, digits, '.' and '-' are allowed`},
		{"dynamic idPattern", conf(`"dynamicTenants": {"enabled": true, "idPattern": "(", "backends": [{"dbConnRef": "m"}]}`), nil,
			"chronos: config: dynamicTenants.idPattern: does not compile: error parsing regexp: missing closing ): `(`"},
		{"dynamic discover", conf(`"dynamicTenants": {"enabled": true, "discover": "maybe", "backends": [{"dbConnRef": "m"}]}`), nil,
			`chronos: config: dynamicTenants.discover: "maybe" is not one of off, prefer, require`},
		{"dynamic backend twice", conf(`"dynamicTenants": {"enabled": true, "backends": [{"dbConnRef": "m"}, {"dbConnRef": "m"}]}`), nil,
			`chronos: config: dynamicTenants.backends[1].dbConnRef: "m" is already the backend at dynamicTenants.backends[0]`},
		{"dynamic cacheTtl", conf(`"dynamicTenants": {"enabled": true, "cacheTtl": "-5s", "backends": [{"dbConnRef": "m"}]}`), nil,
			`chronos: config: dynamicTenants.cacheTtl: must not be negative`},

		// Every problem at once, in file order.
		{"every problem at once", `{"dbConnections": {"m": {"mongoUri": "http://h"}}, "routing": {"hashAlgo": "crc"}, ` +
			`"databases": {"runtime": {"tenantDatabases": [{"tenantId": "a", "dbConnRef": "x", "dbName": "db_a", "bucket": "B"}]}}}`, nil,
			`chronos: config: dbConnections.m.mongoUri: must start with mongodb:// or mongodb+srv://` + "\n" +
				`chronos: config: databases.runtime.tenantDatabases[0].dbConnRef: "x" is not defined in dbConnections` + "\n" +
				`chronos: config: databases.runtime.tenantDatabases[0].spaceConnRef: required (or enable localStorage)` + "\n" +
				`chronos: config: routing.hashAlgo: "crc" is not one of rendezvous, jump`},
		{"every decoding problem at once", `{"nats": {"replicas": "x", "stream": 1}, "bogus": true, "dbConnections": {"m": {"mongoUri": "ENV.A"}}}`, nil,
			`chronos: config: dbConnections.m.mongoUri: environment variable A is not set` + "\n" +
				`chronos: config: nats.replicas: must be an integer, not a string` + "\n" +
				`chronos: config: nats.stream: must be a string, not a number` + "\n" +
				`chronos: config: bogus: unknown key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.json), testEnv(tt.env))
			if err == nil {
				t.Fatalf("Parse succeeded (%v); want error\n%s", cfg, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error does not match ErrInvalidConfig: %v", err)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Errorf("error is not a *ConfigError with problems: %T", err)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("error:\n got %s\nwant %s", err, tt.wantErr)
			}
		})
	}
}

// Every base64Props name and textCharset the rules allow parses: names
// with dots and non-ASCII letters, charsets in any case and alias.
func TestBase64PropsAccepted(t *testing.T) {
	for _, charset := range append([]string{"", "UTF-8", "Latin1", "US-ASCII"}, TextCharsets...) {
		props := `"photo.png": {"contentType": "image/png"}, "résumé": {"contentType": "application/pdf"}, ` +
			`"item-json": {"contentType": "application/json"}, "note": {"contentType": "text/plain; charset=latin1", "preferredText": true, "textCharset": "` + charset + `"}`
		cfg, err := Parse([]byte(conf(`"collectionMaps": {"docs": {"indexedProps": [], "base64Props": {`+props+`}}}`)), testEnv(nil))
		if err != nil {
			t.Fatalf("textCharset %q: %v", charset, err)
		}
		if got := cfg.CollectionMaps["docs"].Base64Props["note"]; got.TextCharset != charset || !got.PreferredText {
			t.Errorf("note = %+v, want textCharset %q", got, charset)
		}
	}
}
