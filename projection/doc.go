// Package projection owns the read model: the small Store interface the
// projector writes through and the query service reads through, the projector
// worker that applies the log to it, and (later) counter rules and rebuild.
//
// Implementations live in sub-packages and pass one conformance suite,
// projection/storetest:
//
//   - projection/mongostore: MongoDB, the production store.
//   - projection/sqlitestore: SQLite, the embedded default (a later issue).
//
// # Idempotency
//
// Store.Apply receives events of one partition in stream order. Applying any
// prefix of the log any number of times, in batches of any size, leaves the
// same documents: versions are keyed by (item, ov), a head only moves forward
// in ov, and counters remember the last sequence they counted.
package projection
