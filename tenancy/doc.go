// Package tenancy owns the Chronos configuration file and what follows from
// it: where each tenant's data lives, which connections are shared, and who
// may reach what.
//
// # The file
//
// The file keeps the shape and key names of chronos-db / xronox
// (dbConnections, spacesConnections, databases with metadata, knowledge,
// runtime, logs, messaging and identities, localStorage, routing,
// retention, collectionMaps, counterRules, fallback, writeOptimization,
// logicalDelete, versioning) and adds nats, auth and dynamicTenants.
// docs/configuration.md lists every key and its default.
//
// Discover finds the file (--config, CHRONOS_CONFIG, chronos.config.json or
// .chronos.json in the working directory); Load and Parse read it strictly
// (an unknown key is an error with its JSON path), replace ENV.NAME tokens
// from the environment, fill in defaults and Validate, which reports every
// problem at once. DevDefault is the configuration of `chronos dev` without
// a file.
//
// # Secrets
//
// Access keys, secret keys, key hashes (Secret) and the passwords inside
// connection strings (ConnString) mask themselves when printed, logged or
// marshaled to JSON; Config.Masked is what `chronos config show` prints.
// No error of this package contains a secret.
//
// # Routing and connections
//
// A Router maps an events.Collection to its Route: MongoDB connection,
// database, analytics database, blob backend, buckets and key prefix. A
// scope the file does not list is resolved by dynamicTenants (patterns, a
// hash over several backends, optional discovery of existing databases), or
// is an *UnknownTenantError (HTTP 404). A Pool opens one mongo.Client per
// distinct URI and one blob client per spaces ref, lazily, and closes them
// all. This package does not know the blob backends: the caller gives the
// Pool a BlobOpener.
//
// # Access control
//
// An Authorizer checks `Authorization: Bearer <key>` against the SHA-256
// hashes of auth.keys (constant-time), then the key's scopes and rights:
// *AuthError maps to 401 or 403. DevAuthorizer serves loopback clients
// without a key; InsecureAuthorizer serves everyone (--insecure-no-auth).
//
// # Wiring a service
//
//	path, err := tenancy.Discover(*configFlag, os.Getenv, wd)
//	cfg := tenancy.DevDefault(dataDir)            // chronos dev, when path == ""
//	if path != "" { cfg, err = tenancy.Load(path) }
//	pool := tenancy.NewPool[offload.Store](openBlob, tenancy.PoolOptions{})
//	defer pool.Close(ctx)
//	router, err := tenancy.NewRouter(cfg, tenancy.RouterOptions{ListDatabases: pool.ListDatabaseNames})
//	auth, err := tenancy.NewAuthorizer(cfg.Auth)  // or DevAuthorizer / InsecureAuthorizer
//	handler := auth.Middleware(mux, tenancy.MiddlewareOptions{Public: []string{"/healthz"}})
//
// and per request or event: route, err := router.Route(c); then
// pool.Mongo(ctx, route.MongoURI) with route.DBName, and
// pool.Bucket(ctx, route, route.Buckets.Versions) with route.KeyPrefix.
//
// This package imports nothing of Chronos but events.
package tenancy
