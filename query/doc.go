// Package query is the read service: an item's latest version, a version by
// ov, the version in force at a time, over HTTP. It reads the read model
// (projection.Store) only, and fetches payloads the read model does not hold
// inline from the blob store, or, when the offloader has not written the
// blob yet, from the log by sequence: a read never depends on offload lag.
//
// Documents are returned as the user's data plus "_id" and "_system", in the
// seed's shape.
package query
