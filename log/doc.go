// Package log is Chronos' write-ahead log on NATS JetStream: partition
// streams, appends with optimistic concurrency and deduplication, reads of
// an item's last event by direct get, reads by sequence, consumers, and the
// embedded nats-server used by `chronos dev` and tests.
//
// # Streams
//
// There is one stream per partition, CHRONOS_P<k> with subjects
// chronos.evt.<k>.>, k in 0..P-1 (see DESIGN.md for why not one stream). P
// is fixed when the streams are created and recorded in each stream's
// metadata under "chronos.partitions"; Open reads it back, so every service
// agrees on the partition of a collection without configuration.
//
// # Concurrency control
//
// The log is the only arbiter of an item's versions: Append with an expected
// sequence sets Nats-Expected-Last-Subject-Sequence, so of two writers that
// read the same last event exactly one appends and the other gets
// ErrConflict. Expecting sequence 0 means "the item has no event yet".
//
// # Durability
//
// An append is acknowledged once the stream has stored it. With the default
// file store a single node fsyncs every two minutes: an acknowledged write
// survives the process being killed, not a power loss. Production runs three
// replicas (an ack means a quorum has it) or sets sync_interval: always.
package log
