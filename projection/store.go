package projection

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/chronos-go/chronos/events"
)

// ErrNotFound is returned by reads of an item, version or collection the
// read model does not hold.
var ErrNotFound = errors.New("chronos: not found")

// Change is one log event to apply, with its place in the log.
type Change struct {
	Ref events.ItemRef
	// Part is the partition stream the event was read from.
	Part int
	// Seq is the event's sequence in its partition stream: the item's cv.
	Seq   uint64
	Event *events.Event
}

// System is the `_system` block of a document, in the seed's field names.
// Every field is derived from the version's event and its place in the log.
// Times are UTC and exactly the event's (ingest stamps nanoseconds, and
// several versions of an item may share a millisecond).
type System struct {
	OV uint64 `json:"ov"`
	// CV is the collection version: the event's partition stream sequence.
	CV uint64 `json:"cv"`
	// Seq equals CV; both names are kept for seed compatibility.
	Seq         uint64        `json:"seq"`
	InsertedAt  time.Time     `json:"insertedAt"`
	UpdatedAt   time.Time     `json:"updatedAt"`
	DeletedAt   *time.Time    `json:"deletedAt"`
	Deleted     bool          `json:"deleted"`
	FunctionIDs []string      `json:"functionIds,omitempty"`
	ParentID    string        `json:"parentId,omitempty"`
	ParentColl  string        `json:"parentCollection,omitempty"`
	OriginID    string        `json:"originId,omitempty"`
	OriginColl  string        `json:"originCollection,omitempty"`
	Creator     *events.Actor `json:"creator,omitempty"`
	Updater     *events.Actor `json:"updater,omitempty"`
	// Op and Reason describe the write that produced this version.
	Op     events.Op `json:"op"`
	Reason string    `json:"reason,omitempty"`
	// RestoredFrom is set on versions written by a restore.
	RestoredFrom *uint64 `json:"restoredFrom,omitempty"`
	// PayloadRef is set when the payload was claim-checked at ingest.
	PayloadRef *events.BlobRef `json:"payloadRef,omitempty"`
	// Size and SHA256 describe the uncompressed payload (JSON bytes as in
	// the event), so a reader can verify what it fetched from elsewhere.
	// For a claim-checked payload they are PayloadRef's; an erase has
	// neither (0 and "").
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// Doc is one version of one item as the read model holds it.
type Doc struct {
	ID string
	// Data is the user's payload when the store holds it inline, else nil:
	// the caller fetches it by PayloadRef, from the blob store, or from the
	// log at System.Seq. Version documents never hold it inline.
	// Data has the payload's meaning and top-level key order, not
	// necessarily its bytes (whitespace and number spelling may differ);
	// integers come back exact within int64.
	Data json.RawMessage
	// Meta holds the indexed properties.
	Meta   map[string]json.RawMessage
	System System
}

// HistoryQuery pages through an item's versions in ascending ov.
type HistoryQuery struct {
	// AfterOV returns versions with ov > AfterOV; nil starts at ov 0.
	AfterOV *uint64
	// Limit is the page size; 0 means 50.
	Limit int
}

// Counters are a collection's write totals: Created counts creates,
// Updated counts updates, enrichments and restores, Deleted counts deletes
// and erasures. Each event is counted once, however often it is applied.
type Counters struct {
	Created int64     `json:"created"`
	Updated int64     `json:"updated"`
	Deleted int64     `json:"deleted"`
	LastAt  time.Time `json:"lastAt"`
	// LastSeq is the last partition sequence counted.
	LastSeq uint64 `json:"lastSeq"`
}

// Store is the read model. Implementations are safe for concurrent use.
type Store interface {
	// Apply applies events of ONE partition, in stream order. It is
	// idempotent over any prefix of the log in any batching (see package doc).
	// On error nothing is acknowledged and the batch is applied again later.
	Apply(ctx context.Context, batch []Change) error
	// Head returns the latest version of an item, deleted or not.
	Head(ctx context.Context, ref events.ItemRef) (*Doc, error)
	// Version returns version ov of an item (Data is nil).
	Version(ctx context.Context, ref events.ItemRef, ov uint64) (*Doc, error)
	// AsOf returns the version in force at time at: the highest ov whose
	// event time is <= at, compared exactly. ErrNotFound if the item did
	// not exist yet.
	AsOf(ctx context.Context, ref events.ItemRef, at time.Time) (*Doc, error)
	// History returns a page of versions in ascending ov (Data is nil).
	// An unknown item, or a page past the last version, is an empty page,
	// not an error. A negative Limit is an error matching events.ErrInvalid.
	History(ctx context.Context, ref events.ItemRef, q HistoryQuery) ([]Doc, error)
	// Counters returns the totals of a collection (zeros if none yet).
	Counters(ctx context.Context, c events.Collection) (*Counters, error)
	// Close releases the store's connections.
	Close(ctx context.Context) error
}
