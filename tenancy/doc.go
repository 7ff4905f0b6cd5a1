// Package tenancy will own the configuration file (the seed's shape:
// dbConnections, spacesConnections, databases, collectionMaps, ...), its
// ENV.VAR tokens, strict decoding and validation, secret masking, routing a
// scope and collection to a MongoDB database and blob bucket, connection
// reuse, dynamic tenants and API-key access control.
//
// Not built yet (see the tenancy issue). Until then the services take
// their wiring from flags, and the read model and blob store use fixed
// per-scope database and directory names.
package tenancy
