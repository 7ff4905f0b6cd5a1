// Package projection owns the read model: the small Store interface the
// projector writes through and the query service reads through, the projector
// worker that applies the log to it, counter rules (CounterRule, evaluated
// by every store alike), rebuild generations (GenerationRegistry,
// GenerationRunner, SwitchingStore) and the retention janitor (Janitor).
//
// Implementations live in sub-packages and pass one conformance suite,
// projection/storetest:
//
//   - projection/mongostore: MongoDB, the production store.
//   - projection/sqlitestore: SQLite, the embedded default of `chronos dev`.
//
// # Idempotency
//
// Store.Apply receives events of one partition in stream order. Applying any
// prefix of the log any number of times, in batches of any size, leaves the
// same documents: versions are keyed by (item, ov), a head only moves forward
// in ov, and counters remember the last sequence they counted.
//
// # Generations
//
// A rebuild projects the whole log again, by other durable consumers
// (DurableOf) into other databases, while the current generation serves.
// The generation document (NATS KV CHRONOS_SYSTEM, see generation.go for
// why there) says which generations are building, active or retired; a
// GenerationRunner projects the active and building ones and keeps a
// SwitchingStore on the active one, so a switch needs no restart.
package projection
