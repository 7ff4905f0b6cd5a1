// Package client is the Go SDK of Chronos: a Client of the HTTP API
// (ingest and query), and a Producer that publishes writes straight to
// the JetStream log for writers that cannot afford an HTTP hop.
//
// # HTTP client
//
// New returns a Client of one API; Client.Collection a handle of one
// collection, with a typed, context-aware method per operation: Create,
// Update, Delete, Enrich, Restore and Batch write; Get, GetVersion and
// GetAsOf read, returning an *Item whose Data is the user's document and
// whose System is its "_system" block; List (one page of a Query) and
// ListAll (every page, as an iterator) select items by their indexed
// props; History and AllVersions page through an item's versions;
// Counters returns a collection's write totals; Client.Tiered fetches a
// knowledge or metadata record across the tenant, domain and generic
// tiers. Documents are json.RawMessage, []byte holding JSON, or anything
// json.Marshal encodes as an object.
//
// Errors are values: a stale expected version is a *ConflictError holding
// the item's current version; other API errors are *APIError with the
// server's status, code and message. Match them with errors.Is against
// ErrNotFound, ErrConflict, ErrExists, ErrInvalid and ErrTooLarge.
//
// Every write carries an idempotency key: the caller's (WithIdempotencyKey)
// or a ULID generated per call. The server stores a key once within its
// duplicate window (2 minutes by default) and answers a repeat with the
// first result (Result.Duplicate), so the client retries writes as safely
// as reads: on 5xx, 408, 429, timeouts and dropped connections, with
// exponential backoff (RetryPolicy). Three limits of the server's
// deduplication apply: keys are unique per partition stream, not per
// item, so a key of your own must be unique (WithIdempotencyKey); an
// atomic batch is not deduplicated (it is retried only when the
// connection was refused); and a retried create or conditional write
// whose first attempt landed but was followed by another write is
// answered ErrExists or a *ConflictError, not as a duplicate.
//
// A call whose context has no deadline gets one (WithTimeout, default 30
// seconds), covering its retries.
//
// Reads come from the read model, which follows the log asynchronously
// (milliseconds behind when healthy): a Get right after a write may not
// see it yet. To read your writes, give the read AfterWrite(result) (or
// MinSeq(result.Seq)): the server waits until the read model has applied
// that write, within a bound, and otherwise answers a *BehindError
// (ErrBehind) holding the position it reached.
//
// # Producer
//
// NewProducer opens the log on a JetStream context. Producer.Create and
// Producer.Update publish the same events ingest appends (envelope,
// subject, Nats-Msg-Id and expected-sequence headers, ov and time rules)
// asynchronously, up to a bounded window of unacknowledged writes, and
// return a *PendingWrite whose Ack reports the outcome; Flush waits for
// every write published before it. Updates are optimistic: the expected
// version is checked against the item's last event in the log, and the
// append expects that event to still be the last one.
//
// The Producer is for trusted producers: it bypasses the HTTP API's
// authentication and the collection map's rules, and checks only what
// the events package checks. Its default idempotency key (a ULID per
// write) costs about 120 bytes of server memory per write for the
// duplicate window.
package client
