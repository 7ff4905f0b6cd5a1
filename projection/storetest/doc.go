// Package storetest is the conformance suite of projection.Store: one Run
// that every store passes unchanged (MongoDB, SQLite, and any wrapper).
//
// The suite writes its events the way ingest does (valid v1 envelopes that
// went through the codec, with insertedAt, creator, lineage and
// functionIds carried forward, delete and restore materialised) and
// derives what every read must return from the events alone: a projection
// is a pure function of the log. What it checks:
//
//   - every read after each step of an item's life (create, update,
//     enrich, delete, restore): Head, Version, AsOf at and between event
//     times, History pages, Counters;
//   - idempotency: one log applied once, twice, as every prefix then
//     whole, and in random batches with redeliveries, all ending alike;
//   - a head never moves back to an older ov;
//   - projection.ErrNotFound for unknown items and versions, zero counters
//     for unknown collections;
//   - payloads over the store's inline limit (InlineLimiter) and
//     claim-checked payloads are not inline, with Size and SHA256 set;
//   - collections, tenants, domains, tiers and database types are isolated;
//   - two partitions applied concurrently while reads go on (run with
//     -race);
//   - History newest first (HistoryQuery.Desc);
//   - counter rules (CounterRules, which every store under test is
//     configured with): `when` with $in and $gte, `on` filtering, meta and
//     payload scopes, totals and distinct counts against a brute-force
//     count, exact after random batches with redeliveries;
//   - List: every filter operator with the semantics of
//     projection.ListQuery (type mixing, null against missing, arrays,
//     `_system` fields, times at millisecond precision), order over mixed
//     types and ties with several keys, keyset pages of every size alike,
//     pages while items are created, updated and deleted between them,
//     deleted heads, Fields, Count, limits, and isolation.
//
// Event times have sub-millisecond parts and one item's versions may share
// a millisecond: stores keep times exactly. Data is compared by meaning (key order of the top level included), with
// integers exact and other numbers as float64. The suite keeps data small
// (tens of documents): stores are tested against real, sometimes slow,
// servers.
package storetest
