// Package events owns the Chronos event envelope (version 1), its codec, the
// subject naming of the log and the validation of every token and payload that
// reaches it.
//
// An event is one immutable fact about one item: its operation, the item's new
// object version (ov), when and by whom it was written, and the complete new
// state of the item. Because enrich and restore are materialised at ingest and
// the system fields that outlive one write (insertedAt, creator, the accumulated
// functionIds, lineage) are carried forward by ingest, every event is
// self-contained: a projection is a pure function of the events, which is what
// makes replay and redelivery safe.
//
// Subjects follow DESIGN.md:
//
//	chronos.evt.<part>.<dbType>.<tier>.<scope>.<collection>.<itemId>
//
// where part = fnv32a("<dbType>.<tier>.<scope>.<collection>") % P, so every
// event of a collection lives in one partition stream.
//
// This package imports nothing of Chronos; everything else imports it.
package events
