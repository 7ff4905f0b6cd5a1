// Package query is the read service, over HTTP and in Go: an item's latest
// version, a version by ov, the version in force at a time, an item's
// history, lists of a collection's items by filter (listByMeta), and a
// collection's counters. It reads the read model (projection.Store) only,
// and fetches payloads the read model does not hold inline from the blob
// store, or, when the offloader has not written the blob yet, from the log
// by sequence: a read never depends on offload lag.
//
// Documents are returned as the user's data plus "_id" and "_system", in the
// seed's shape.
//
// # Lists
//
// POST {base}/query takes a ListRequest. Filters accept "_id", top-level
// user props and the `_system` fields of projection.SystemFields, with the
// operators $eq $ne $gt $gte $lt $lte $in $nin $exists and the semantics
// documented on projection.ListQuery (MongoDB's, narrowed to scalars).
// Anything else is a 400 invalid_input whose "field" names the offending
// key: $where, $expr, $regex and every other operator, $and/$or/$nor
// (conditions are always ANDed; use $in), nested paths, objects and arrays
// as values, an operand of the wrong type for the field or operator, an
// unknown `_system` field, a prop outside the collection map's
// indexedProps when it names some, and a hidden field without
// includeHidden.
//
// With no collection map, or an empty indexedProps, every top-level prop is
// filterable; only indexedProps get store indexes, so filters on other
// props scan. A filter sees the props of payloads held inline in the read
// model and the indexed props of every item: a prop of a large payload
// (over the store's inline limit, or claim-checked) is only seen if it is
// an indexed prop.
//
// A page is one read-model query (plus one count with "count": true). Items
// whose payload is not inline are then completed one by one from the blob
// store or the log (at most 8 at once), exactly as single reads are: such
// fetches are separate by nature.
//
// Pagination is keyset, by an opaque cursor tied (by a hash) to the
// filter, sort and includeDeleted that produced it: an item whose sort
// values and deletion stay unchanged while a client pages is returned
// exactly once, whatever else is written meanwhile.
//
// # Shaping
//
// Every item read takes a Shape: fields (props, "_system" or
// "_system.<key>"; "_id" always comes), a named projection preset of the
// collection map, and includeHidden (the map's hiddenFields are removed
// from every item otherwise, whatever fields say).
//
// # Content
//
// GET {base}/items/{id}/content/{prop} (Service.Content) serves one of a
// collection's base64Props decoded, with the prop's Content-Type, from the
// content store the offloader writes (offload.ContentKey), or decoded from
// the version's payload while it has not: like payloads, content never
// waits for the offloader. Naming the prop is asking for it, so a hidden
// field is served too. The bytes are the user's, so they go out with
// X-Content-Type-Options: nosniff and a sandboxing Content-Security-Policy.
package query
