// Package sqlitestore is the embedded read model: a projection.Store on
// one SQLite file, the default of `chronos dev`. It passes the same
// conformance suite (projection/storetest) as projection/mongostore.
//
// # Driver
//
// github.com/ncruces/go-sqlite3 (SQLite compiled to WebAssembly, run by
// wazero: pure Go, no cgo), chosen by measurement against
// modernc.org/sqlite v1.32.0 on the projector's write batch and the read
// paths (see docs/benchmarks.md).
//
// # Layout
//
// One file, in WAL mode, written through one connection (SQLite has one
// writer anyway; a pool of readers reads concurrently with it). Every
// Apply is one transaction, whatever collections and scopes its batch
// touches, so a batch is applied whole or not at all.
//
// Scopes are separated as MongoDB separates them: Options.Database routes
// a collection to a database name (the tenancy route's dbName) and
// Options.AnalyticsDatabase to the database of its counters. Each
// (database, collection) gets its own pair of tables, each analytics
// database its own counters table. SQLite identifiers ignore case and
// database names need not be identifiers, so the table names are numbers
// held in a catalog table (kind, database, collection) → n:
//
//   - t<n>_head: one row per item: id, ov, seq, deleted, the times at
//     millisecond precision (inserted_ms, updated_ms, deleted_ms) for
//     filters and order, data (the payload as the event's bytes when it is
//     inline: at most Options.InlineLimit bytes and not claim-checked),
//     meta (the event's indexed props, JSON), fdoc (the JSON object
//     filters on other props see, when it is not data itself: data's top
//     level with meta's props set, or meta alone; NULL in the usual case
//     where every meta prop is one of Options.IndexedProps), sys
//     (projection.System as JSON, times exact to the nanosecond). Indexed
//     unique on id, on updated_ms, and on (json_type, json_extract) of
//     each of Options.IndexedProps, read from meta when meta holds it
//     (a few bytes instead of the payload) and from the payload otherwise.
//   - t<n>_ver: one row per version, primary key (item, ov), with at_ns
//     (the event time, exact), meta and sys; never the payload. Indexed
//     on (item, at_ns) for AsOf.
//   - c<n>_cnt: one row per (database, collection): created, updated,
//     deleted, last_seq, last_ns; c<n>_rules and c<n>_uniq its rule
//     counts and distinct values.
//   - c<n>_bkt, c<n>_brules, c<n>_buniq: the same per period bucket,
//     keyed by (database, collection, period, start_ns), with the
//     bucket's own last_seq. Open creates them in files written before
//     they existed.
//
// A separate file per database would make a batch that spans scopes
// several transactions (or ATTACHes, at most 125), and the process would
// hold a writer per file; a catalog in one file keeps one writer and
// atomic batches, and a scope's data is still its own tables.
//
// # Idempotent apply
//
// As in mongostore: a version is inserted once per (item, ov) (a second
// insert does nothing), a head is upserted only when the event's ov is
// greater than the stored one, and a counter row counts only events past
// its last_seq, in the same transaction.
//
// # Lists
//
// A List is one SELECT (limit+1) and a COUNT when asked. Clauses become
// SQL with projection.ListQuery's semantics: a user prop's value is read
// with json_type/json_extract (from meta first for indexed props, then
// from coalesce(fdoc, data), the same value either way), each comparison
// checks the JSON type of the operand's class (numbers, strings,
// booleans), arrays match by element through json_each, null and missing
// are alike except for $exists, and $ne/$nin are the negations of
// $eq/$in. The order ranks types (null/missing < numbers < strings <
// booleans < times, arrays and objects last) and ends with id; keyset
// cursors become "after on key i, equal on the keys before it". Each
// indexed prop has two indexes: one on (json type, value) for filters, one
// on (type rank, value), the expressions ORDER BY uses, so a page sorted
// by an indexed prop walks the index and stops after the page (2.4 ms at
// 1M items instead of 4.2 s). A sort on a prop that is not indexed sorts
// every matching head: meant for small result sets. The writer runs
// PRAGMA optimize as the tables grow, so the planner knows how selective
// each index is.
//
// Times: the *_ms columns serve filters and orders (millisecond
// precision, as projection.ListQuery specifies); sys and at_ns keep the
// exact nanoseconds that reads return and AsOf compares.
package sqlitestore
