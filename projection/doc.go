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
// # Counters
//
// Every collection has its totals (Store.Counters) and, per Period, one
// bucket per UTC day, ISO 8601 week and UTC month of event time
// (Event.At, stamped at ingest), with the same fields over the period
// only (Store.CounterBuckets): counter rules and exact distinct counts
// included, a value counting once per bucket. Each counter document,
// total or bucket, remembers the last sequence it counted, so a replayed
// prefix changes none of them. Stores evaluate the rules once per event
// (Tally) and add each event to the totals and its three buckets
// (CounterDelta), aggregating a batch per document before writing. The
// Janitor deletes buckets past CounterRetention (tenancy's
// retention.counters) with Store.PruneCounterBuckets; totals are kept.
//
// # Generations
//
// A rebuild projects the whole log again, by other durable consumers
// (DurableOf) into other databases, while the current generation serves.
// The generation document (NATS KV CHRONOS_SYSTEM, see generation.go for
// why there) says which generations are building, active or retired; a
// GenerationRunner projects the active and building ones and keeps a
// SwitchingStore on the active one, so a switch needs no restart; with
// ServeOnly it projects nothing and only keeps the SwitchingStore there
// (the query service).
package projection
