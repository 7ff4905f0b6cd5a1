package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
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

// CheckChange reports why change i of a batch cannot be applied by any
// store: it has no event, it is of another partition than part (a batch
// holds one partition), or its item ref is invalid. Every error wraps
// events.ErrInvalid.
func CheckChange(i int, ch Change, part int) error {
	if ch.Event == nil {
		return fmt.Errorf("%w: change %d (seq %d) has no event", events.ErrInvalid, i, ch.Seq)
	}
	if ch.Part != part {
		return fmt.Errorf("%w: a batch holds one partition; change %d (seq %d) is of partition %d, not %d",
			events.ErrInvalid, i, ch.Seq, ch.Part, part)
	}
	if err := ch.Ref.Validate(); err != nil {
		return fmt.Errorf("chronos: change %d (seq %d): %w", i, ch.Seq, err)
	}
	return nil
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

// HistoryQuery pages through an item's versions in ascending ov, or
// descending with Desc.
type HistoryQuery struct {
	// AfterOV returns the versions that follow AfterOV in the page order:
	// ov > AfterOV ascending, ov < AfterOV with Desc. nil starts at the
	// first version (the last one with Desc).
	AfterOV *uint64
	// Limit is the page size; 0 means 50.
	Limit int
	// Desc returns the newest version first.
	Desc bool
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
	// Rules holds the totals of each counter rule the store is configured
	// with that matched an event of the collection, by rule name. Counts
	// are exact: each event is counted once however often it is applied,
	// and distinct counts are exact counts of distinct values.
	Rules map[string]RuleCounters `json:"rules,omitempty"`
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
	// History returns a page of versions in ascending ov, or descending
	// with q.Desc (Data is nil). An unknown item, or a page past the last
	// version, is an empty page, not an error. A negative Limit is an error
	// matching events.ErrInvalid.
	History(ctx context.Context, ref events.ItemRef, q HistoryQuery) ([]Doc, error)
	// List returns a page of a collection's heads that match q, in q's
	// order, with the semantics documented on ListQuery and checked by
	// package storetest. It costs one store query per page,
	// plus one count when q.Count. Invalid queries (an unknown operator, a
	// Limit out of range) are errors matching events.ErrInvalid; callers
	// validate field names and values first (package query does).
	List(ctx context.Context, c events.Collection, q ListQuery) (*ListPage, error)
	// Counters returns the totals of a collection (zeros if none yet).
	Counters(ctx context.Context, c events.Collection) (*Counters, error)
	// CounterBuckets returns c's counter buckets of period p whose Start
	// is in [from, to), oldest first. Apply keeps a bucket of each Period
	// for every event, by event time, with the totals' idempotency; a
	// period without events of c has no bucket. An invalid p is an error
	// matching events.ErrInvalid.
	CounterBuckets(ctx context.Context, c events.Collection, p Period, from, to time.Time) ([]CounterBucket, error)
	// PruneCounterBuckets deletes c's buckets of period p whose Start is
	// before before, with their distinct values, and returns how many it
	// deleted. Totals are kept. Pruning is idempotent.
	PruneCounterBuckets(ctx context.Context, c events.Collection, p Period, before time.Time) (int, error)
	// Close releases the store's connections.
	Close(ctx context.Context) error
}

// Limits of ListQuery.
const (
	// DefaultListLimit is the page size of a List that names none.
	DefaultListLimit = 50
	// MaxListLimit is the largest page a List returns.
	MaxListLimit = 1000
)

// Filter operators of a Clause: MongoDB's names and, as documented on
// ListQuery, MongoDB's semantics.
const (
	OpEq     = "$eq"
	OpNe     = "$ne"
	OpGt     = "$gt"
	OpGte    = "$gte"
	OpLt     = "$lt"
	OpLte    = "$lte"
	OpIn     = "$in"
	OpNin    = "$nin"
	OpExists = "$exists"
)

// Operators lists every filter operator, in the order above.
var Operators = []string{OpEq, OpNe, OpGt, OpGte, OpLt, OpLte, OpIn, OpNin, OpExists}

// Clause is one condition of a List filter: Field Op Value.
type Clause struct {
	// Field is "_id" (the item id, a string), a top-level user prop, or
	// one of SystemFields.
	Field string
	// Op is one of Operators.
	Op string
	// Value is a JSON scalar (string, number, boolean, null); an array of
	// scalars for $in and $nin; a boolean for $exists. For a KindTime
	// field, strings are RFC 3339 times.
	Value json.RawMessage
}

// SortKey is one key of a List order.
type SortKey struct {
	// Field is "_id", a top-level user prop or a sortable SystemField.
	Field string
	Desc  bool
}

// Cursor is a position in a List: where the last item of a page sits in
// the query's order.
type Cursor struct {
	// Values holds that item's value of each sort key other than "_id", in
	// the query's order, as JSON: null for a missing or null field, an RFC
	// 3339 string at millisecond precision for a KindTime field.
	Values []json.RawMessage
	// ID is that item's id.
	ID string
}

// ListQuery selects, orders and pages a collection's heads.
//
// # Filter
//
// Clauses are ANDed. Semantics are MongoDB's, narrowed to scalars, so
// that every store gives the same answers:
//
//   - Values compare within their type only: numbers with numbers (by
//     value: 1 equals 1.0), strings with strings (by UTF-8 bytes), booleans
//     with booleans (false < true), times with times. {"n": {"$gt": "5"}}
//     matches no number, and 1 never equals "1" or true.
//   - A missing field and a null field are alike for $eq, $ne, $in, $nin
//     and order: $eq null matches both; $ne null matches any other value.
//     Only $exists tells them apart: $exists true matches a field that is
//     present, even null; $exists false a field that is absent.
//   - $ne v and $nin [..] match every head that $eq v / $in [..] does not,
//     missing fields included.
//   - $gt, $gte, $lt and $lte never match a missing or null field, nor a
//     value of another type than the operand.
//   - A field holding an array matches a comparison when at least one of
//     its elements does ({"tags": "x"} matches ["x", "y"]); $ne and $nin
//     then match when no element does.
//   - Objects are not compared: filter values are scalars.
//
// A filter on a user prop sees the head's inline payload and its indexed
// props: a prop of a payload the head does not hold inline (Doc.Data nil)
// is seen only when it is an indexed prop.
//
// SystemFields have a fixed kind that the query layer checks values
// against. A field that does not apply (deletedAt of a live item, parentId
// without lineage) is null; for them $exists false is the same as $eq
// null. Times compare at millisecond precision: the stored time and the
// operand are both truncated to the millisecond.
//
// # Order
//
// Sort keys, then "_id" ascending as the tie-break (or as a last sort key
// naming its direction). Within a key, values of different types are
// ordered null/missing < numbers < strings < booleans < times, and
// reversed by Desc; times order at millisecond precision. Sort keys are
// meant to hold scalars: an item whose sort field holds an array or an
// object is placed by the store (MongoDB: by its smallest element
// ascending, largest descending), and pagination is not guaranteed over
// it.
//
// # Pagination
//
// Keyset: the next page starts strictly after Cursor in the query's order.
// An item that matches the filter, and whose sort values and deletion do
// not change while a client pages, is returned exactly once, whatever
// else is created, updated or deleted meanwhile. An item whose sort values
// change may be returned twice or not at all; one created meanwhile
// appears if it sorts after the current position.
type ListQuery struct {
	Filter []Clause
	Sort   []SortKey
	// Limit is the page size: 0 means DefaultListLimit; at most
	// MaxListLimit.
	Limit int
	// After continues after a previous page's ListPage.Next.
	After *Cursor
	// IncludeDeleted also returns heads that are deletions.
	IncludeDeleted bool
	// Fields limits Doc.Data and Doc.Meta to these top-level props; nil
	// returns them whole. Doc.System is always whole.
	Fields []string
	// Count asks for ListPage.Total.
	Count bool
}

// ListPage is one page of a List.
type ListPage struct {
	// Items are heads as Head returns them (Data inline or nil), limited
	// to ListQuery.Fields.
	Items []Doc
	// Next continues after the last item; nil when no item follows.
	Next *Cursor
	// Total, when ListQuery.Count, is the number of heads matching the
	// filter (and IncludeDeleted), whatever After and Limit.
	Total *int64
}

// FieldKind is the type of a SystemField, which fixes how filter values
// and cursor values of it are read.
type FieldKind int

// Kinds of SystemFields.
const (
	// KindInt holds an integer; filter values are JSON numbers.
	KindInt FieldKind = iota + 1
	// KindTime holds a time; filter values are RFC 3339 strings, compared
	// at millisecond precision.
	KindTime
	// KindBool holds a boolean.
	KindBool
	// KindString holds a string.
	KindString
	// KindStrings holds an array of strings: filters match an element. It
	// cannot be a sort key.
	KindStrings
)

// systemFields are the `_system` fields a List can filter and sort on.
var systemFields = map[string]FieldKind{
	"_system.ov":                 KindInt,
	"_system.cv":                 KindInt,
	"_system.seq":                KindInt,
	"_system.size":               KindInt,
	"_system.restoredFrom":       KindInt,
	"_system.insertedAt":         KindTime,
	"_system.updatedAt":          KindTime,
	"_system.deletedAt":          KindTime,
	"_system.deleted":            KindBool,
	"_system.op":                 KindString,
	"_system.creator.type":       KindString,
	"_system.creator.identifier": KindString,
	"_system.updater.type":       KindString,
	"_system.updater.identifier": KindString,
	"_system.parentId":           KindString,
	"_system.parentCollection":   KindString,
	"_system.originId":           KindString,
	"_system.originCollection":   KindString,
	"_system.functionIds":        KindStrings,
}

// SystemField returns the kind of a `_system` field a List can filter on
// ("_system.updatedAt"), and false for any other name.
func SystemField(name string) (FieldKind, bool) {
	k, ok := systemFields[name]
	return k, ok
}

// SystemFields returns the names of the `_system` fields a List can filter
// on, sorted.
func SystemFields() []string {
	return slices.Sorted(maps.Keys(systemFields))
}
