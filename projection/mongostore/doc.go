// Package mongostore is the MongoDB read model, the production
// projection.Store. It keeps the seed's (chronos-db) layout, so documents
// look as its users expect, and it passes projection/storetest against a
// real MongoDB and against FerretDB (see StartEmbedded).
//
// # Layout
//
// Options.Database routes each collection to a database; there:
//
//   - <coll>_head: one document per item, _id = itemId. The user's payload
//     is at the root, keys in the payload's order, when it can be inline
//     (below); the indexed props (Event.Meta) are at the root always; and
//     `_system` holds every field of projection.System in the seed's names
//     (ov, cv, seq, insertedAt, updatedAt, deletedAt (null unless deleted),
//     deleted, functionIds, parentId, parentCollection, originId,
//     originCollection, creator, updater, op, reason, restoredFrom,
//     payloadRef, size, sha256) plus payloadInline, metaKeys (the root
//     fields that are indexed props), metaOnlyKeys (those of them the
//     inline payload lacks) and metaExtra (below). Indexed on
//     _system.updatedAt, _system.deleted and each indexed prop that
//     Options.IndexedProps names (one single-field index each). Lists
//     filter and sort on any prop; props without an index are scanned.
//   - <coll>_ver: one document per version, _id "<itemId>:<ov>", with
//     itemId, ov, at, meta (the indexed props) and `_system`; never the
//     payload. Indexed unique on (itemId, ov), and on (itemId, at).
//
// and Options.AnalyticsDatabase routes it to a database holding cnt_total:
// one document per collection, _id "tenant:<scope>|db:<dbName>|coll:<coll>"
// ("domain:<domain>|…", "generic|…" for the other tiers), with created,
// updated, deleted, lastAt and lastSeq; cnt_day, cnt_week and cnt_month:
// one document per collection and period of event time (projection.Period),
// _id the cnt_total _id + "|day:2026-11-22", "|week:2026-W47" or
// "|month:2026-11", with cnt_total's fields plus totalId (the cnt_total
// _id), period, key and start (a date), indexed on (totalId, start), which
// reads and pruning filter on; and cnt_unique: one document per distinct
// value of a rule's countUnique prop per counter document (total or
// bucket), indexed on (counterId, rule, field). Indexes are created the
// first time a process writes to a collection.
//
// A payload is inline when it is at most Options.InlineLimit bytes, every
// key in it can be a field (no '.', no leading '$', not empty: FerretDB
// refuses such keys and MongoDB cannot query them), every number fits a
// double, each indexed prop it also holds at its root has the same value
// there, and the document stays under 16 MiB. Otherwise the head has
// Data nil and the reader fetches the payload by payloadRef, from the blob
// store or from the log at seq. Indexed props whose key or value cannot be
// a field are kept as JSON text in _system.metaExtra, and actor metadata
// as JSON text, so every valid event can be applied.
//
// JSON becomes BSON with object key order kept. Numbers: an integer
// literal (no fraction, no exponent) that fits in 32 bits is an int32, in
// 64 bits an int64; every other number is a double. Data comes back as
// compact JSON with the same meaning, not the same bytes: 1.0 reads 1,
// 1E2 reads 100, integers past int64 keep 17 significant digits. Size and
// SHA256 always describe the exact bytes of the event.
//
// Times are exact. The date fields (at, _system.insertedAt, updatedAt,
// deletedAt, cnt_total lastAt) are BSON dates, milliseconds, for indexes,
// queries and people; _system.insertedAtNs, updatedAtNs, deletedAtNs and
// lastAtNs hold the same times in Unix nanoseconds, which reads return and
// AsOf compares (ingest stamps nanoseconds, and several versions of an
// item can share a millisecond).
//
// # Idempotent apply
//
// Apply may see any event any number of times (redelivery, replay, a crash
// between writing and acking), so every write is keyed or conditional:
//
//   - versions: an insert keyed by _id "<itemId>:<ov>". The same event
//     always produces the same document, so a duplicate key means the
//     version is there already and is ignored (inserts cost no _id lookup,
//     which FerretDB does by scanning; upserts did, and made the projector
//     three times slower than a raw bulkWrite there). After a duplicate,
//     the chunk's versions are read back and the missing ones sent again,
//     because FerretDB stops a write command at its first error even when
//     unordered.
//   - heads: for each item, the batch's highest-ov event. Heads are read
//     first (one find on _id) and those at or past ov are not sent; a
//     missing head is inserted, one behind is replaced with a filter on
//     {_id, _system.ov: {$lt: ov}}, so a head only moves forward. A
//     duplicate key on insert (a head appeared meanwhile) makes the chunk
//     read again and the heads still behind sent again. On FerretDB the
//     replace filters on _id alone (a nested-field filter makes it decode
//     the whole collection per write): there the forward-only guarantee
//     rests on the read just before and on one writer per partition.
//   - counters: each touched counter document's lastSeq is read (one
//     find for the totals, one per bucket collection), only events past
//     it are counted, and the update is a compare-and-set on the lastSeq
//     read (a new bucket is inserted: a duplicate key is a conflict).
//     With one writer per partition it always matches; if it does not,
//     Apply returns ErrCounterConflict and the batch is applied again,
//     counting nothing twice. Distinct values are written first, read
//     before they are inserted (most are there already).
//
// Writes go in that order (every collection's versions, then heads, then
// counters), so a crash anywhere leaves a state that applying the batch
// again completes: a head never points at a missing version, and counters
// lag, never lead.
//
// # Lists
//
// List is one find per page (filter, sort with _id last, limit+1) and a
// countDocuments when asked for a total. projection.ListQuery's semantics
// are MongoDB's own, so clauses map one to one, except that `_system`
// fields that do not apply are null or absent alike ($exists becomes a
// null test) and time operands become dates. The keyset position of a
// cursor becomes an $or over the sort keys; MongoDB compares with $gt and
// $lt only within a type, so each key's "after" also names the later type
// brackets with $type (numbers, strings, objects, arrays, booleans,
// dates), and null or missing values with an equality on null.
//
// # FerretDB
//
// Tests run on FerretDB v1.24 (SQLite). What this package does for it:
// bulk writes go in chunks of at most FerretDBChunkSize (a bulk of 100+
// upserts matching existing documents hangs forever); the head write
// handles update commands that stop at their first error; no transactions
// are used, and no aggregation beyond the $match/$group that
// countDocuments sends. Every _id lookup there is a full scan, so tests
// keep data small; finds with sort, skip and limit work.
package mongostore
