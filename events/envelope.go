package events

import (
	"encoding/json"
	"time"
)

// Version is the envelope version this package writes and reads.
const Version = 1

// Op is what an event did to its item.
type Op string

// The operations of DESIGN.md.
const (
	// OpCreate creates an item at ov 0.
	OpCreate Op = "create"
	// OpUpdate replaces the item's payload.
	OpUpdate Op = "update"
	// OpDelete deletes the item logically; the event carries the last payload.
	OpDelete Op = "delete"
	// OpEnrich deep-merges patches into the payload (materialised at ingest).
	OpEnrich Op = "enrich"
	// OpRestore writes an earlier version's payload as a new version.
	OpRestore Op = "restore"
	// OpErase removes the item's content for good (the event carries none).
	OpErase Op = "erase"
)

// Valid reports whether op is one of the known operations.
func (op Op) Valid() bool {
	switch op {
	case OpCreate, OpUpdate, OpDelete, OpEnrich, OpRestore, OpErase:
		return true
	}
	return false
}

// Deletes reports whether the item is deleted after an event with this op.
func (op Op) Deletes() bool { return op == OpDelete || op == OpErase }

// Actor is the typed identity that made a write: the seed's
// "type:identifier (Name)".
type Actor struct {
	// Type is user, agent, system, api, service, job, cron, webhook or a custom token.
	Type       string          `json:"type"`
	Identifier string          `json:"identifier,omitempty"`
	Name       string          `json:"name,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
}

// Lineage is where an item comes from, in the seed's _system field names.
type Lineage struct {
	ParentID         string `json:"parentId,omitempty"`
	ParentCollection string `json:"parentCollection,omitempty"`
	OriginID         string `json:"originId,omitempty"`
	// OriginCollection carries the external system as a prefix ("stripe:customers").
	OriginCollection string `json:"originCollection,omitempty"`
}

// BlobRef locates bytes in a blob store: a claim-checked payload, or an
// offloaded version. It is a struct, not a key, so that segment packing
// (offset, length) and shared dictionaries can be added without a migration.
type BlobRef struct {
	Key   string `json:"key"`
	Codec string `json:"codec"`
	// Size is the size of the uncompressed payload in bytes.
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of the uncompressed payload.
	SHA256 string `json:"sha256"`
	// Dict names the compression dictionary, when one was used.
	Dict string `json:"dict,omitempty"`
}

// Event is the v1 envelope: the body of every message on the log. The item it
// concerns is named by the message subject, its collection version (cv) is the
// message's stream sequence.
type Event struct {
	V  int    `json:"v"`
	Op Op     `json:"op"`
	OV uint64 `json:"ov"`
	// At is the ingest time (UTC) of this event.
	At         time.Time `json:"at"`
	Actor      *Actor    `json:"actor,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	FunctionID string    `json:"functionId,omitempty"`
	Lineage    *Lineage  `json:"lineage,omitempty"`
	// Meta holds the collection's indexed properties, extracted at ingest so
	// a projection can index them without reading a claim-checked payload.
	Meta map[string]json.RawMessage `json:"meta,omitempty"`
	// Payload is the whole new state of the item (a JSON object), unless it
	// was claim-checked into PayloadRef. An erase carries neither.
	Payload    json.RawMessage `json:"payload,omitempty"`
	PayloadRef *BlobRef        `json:"payloadRef,omitempty"`

	// State carried forward by ingest from the item's previous event, so that
	// every event is self-contained.

	// InsertedAt is the At of the item's create event.
	InsertedAt time.Time `json:"insertedAt"`
	// Creator is the Actor of the item's create event.
	Creator *Actor `json:"creator,omitempty"`
	// FunctionIDs accumulates every FunctionID that enriched the item.
	FunctionIDs []string `json:"functionIds,omitempty"`
	// RestoredFrom is the ov whose payload a restore event brought back.
	RestoredFrom *uint64 `json:"restoredFrom,omitempty"`
}

// Deleted reports whether the item is deleted after e.
func (e *Event) Deleted() bool { return e.Op.Deletes() }
