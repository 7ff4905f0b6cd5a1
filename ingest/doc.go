// Package ingest is the write service: it validates a write, turns it into
// the next event of its item and appends it to the log with optimistic
// concurrency. It never touches the read model: the projector and the
// offloader build everything else from the log.
//
// Versioning rules (DESIGN.md): an item's ov is 0 on create and +1 per
// write, assigned here from the item's last event (read by direct get); the
// append expects that event's sequence, so of two racing writers exactly one
// succeeds and the other gets a ConflictError (409) carrying the current ov.
// Nothing is locked and nothing is read from MongoDB.
//
// Every event carries the item's whole new state and the system fields that
// outlive one write (insertedAt, creator, functionIds, lineage), copied
// forward from the previous event. Event times are UTC at millisecond
// precision and strictly increase within an item (at = max(now, previous
// at + 1ms)), so "as of T" is well defined and each version has its own time.
package ingest
