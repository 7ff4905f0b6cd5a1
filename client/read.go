package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/chronos-go/chronos/events"
)

// Item is one version of an item: the user's document and what Chronos
// records about it.
type Item struct {
	ID string
	// Data is the user's document, without the "_id" and "_system" keys
	// the API adds; its top-level keys keep the order the server sent.
	Data json.RawMessage
	// System is the item's "_system" block.
	System System
}

// Decode unmarshals the user's document into v.
func (it *Item) Decode(v any) error { return json.Unmarshal(it.Data, v) }

// System is the "_system" block of a read: versions, times, identity and
// lineage of the version returned.
type System struct {
	OV uint64 `json:"ov"`
	// CV is the sequence of the version's event in its partition stream;
	// Seq is the same number.
	CV         uint64     `json:"cv"`
	Seq        uint64     `json:"seq"`
	InsertedAt time.Time  `json:"insertedAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
	DeletedAt  *time.Time `json:"deletedAt"`
	Deleted    bool       `json:"deleted"`
	// FunctionIDs lists every function that enriched the item.
	FunctionIDs      []string      `json:"functionIds,omitempty"`
	ParentID         string        `json:"parentId,omitempty"`
	ParentCollection string        `json:"parentCollection,omitempty"`
	OriginID         string        `json:"originId,omitempty"`
	OriginCollection string        `json:"originCollection,omitempty"`
	Creator          *events.Actor `json:"creator,omitempty"`
	Updater          *events.Actor `json:"updater,omitempty"`
	// Op and Reason describe the write that made this version.
	Op     events.Op `json:"op"`
	Reason string    `json:"reason,omitempty"`
	// RestoredFrom is the version a restore brought back.
	RestoredFrom *uint64 `json:"restoredFrom,omitempty"`
	// PayloadRef is set when the document was stored by claim check.
	PayloadRef *events.BlobRef `json:"payloadRef,omitempty"`
	// Size and SHA256 describe the document's JSON bytes as written.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// Get returns the current version of an item. A deleted item is
// ErrNotFound unless IncludeDeleted is given. The read model follows the
// log within milliseconds, so a write may not be visible yet: give
// AfterWrite(result) (or MinSeq) to read your own write.
func (col *Collection) Get(ctx context.Context, id string, opts ...ReadOption) (*Item, error) {
	return col.get(ctx, id, nil, opts)
}

// GetVersion returns version ov of an item, deleted or not.
func (col *Collection) GetVersion(ctx context.Context, id string, ov uint64, opts ...ReadOption) (*Item, error) {
	return col.get(ctx, id, url.Values{"ov": {strconv.FormatUint(ov, 10)}}, opts)
}

// GetAsOf returns the version of an item in force at time at. A version
// that is a deletion is ErrNotFound unless IncludeDeleted is given.
func (col *Collection) GetAsOf(ctx context.Context, id string, at time.Time, opts ...ReadOption) (*Item, error) {
	return col.get(ctx, id, url.Values{"at": {at.UTC().Format(time.RFC3339Nano)}}, opts)
}

func (col *Collection) get(ctx context.Context, id string, q url.Values, opts []ReadOption) (*Item, error) {
	if col.err != nil {
		return nil, col.err
	}
	if err := events.ValidateToken("id", id); err != nil {
		return nil, err
	}
	o := applyRead(opts)
	if q == nil {
		q = url.Values{}
	}
	o.query(q)
	var raw json.RawMessage
	if err := col.c.call(ctx, request{method: http.MethodGet, path: col.item(id), query: q, header: o.header(), id: id}, &raw); err != nil {
		return nil, err
	}
	return splitItem(raw)
}

// splitItem separates "_id" and "_system" from the user's keys of a read.
func splitItem(body []byte) (*Item, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("chronos: a read answered something other than a JSON object")
	}
	it := &Item{}
	var data bytes.Buffer
	data.WriteByte('{')
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("chronos: undecodable item: %w", err)
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("chronos: undecodable item: %w", err)
		}
		switch key {
		case events.KeyID:
			if err := json.Unmarshal(v, &it.ID); err != nil {
				return nil, fmt.Errorf("chronos: undecodable _id: %w", err)
			}
		case events.KeySystem:
			if err := json.Unmarshal(v, &it.System); err != nil {
				return nil, fmt.Errorf("chronos: undecodable _system: %w", err)
			}
		default:
			if data.Len() > 1 {
				data.WriteByte(',')
			}
			writeKey(&data, key)
			data.Write(v)
		}
	}
	data.WriteByte('}')
	it.Data = data.Bytes()
	return it, nil
}

// writeKey writes key as a JSON string without HTML escaping, as the
// server wrote it.
func writeKey(b *bytes.Buffer, key string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(key)
	b.Truncate(b.Len() - 1) // the encoder's newline
	b.WriteByte(':')
}
