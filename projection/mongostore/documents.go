package mongostore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// Field names of the documents (see the package doc for the layout).
const (
	fieldID     = "_id"
	fieldSystem = "_system"
	fieldItemID = "itemId"
	fieldOV     = "ov"
	fieldAt     = "at"
	fieldMeta   = "meta"
)

// maxDocBytes keeps an inline head under MongoDB's 16 MiB document limit,
// with room for the command around it.
const maxDocBytes = 16<<20 - 64<<10

// systemDoc is the stored `_system` block: every field of
// projection.System in the seed's names, plus how the rest of the document
// is laid out.
type systemDoc struct {
	OV           int64       `bson:"ov"`
	CV           int64       `bson:"cv"`
	Seq          int64       `bson:"seq"`
	InsertedAt   time.Time   `bson:"insertedAt"`
	UpdatedAt    time.Time   `bson:"updatedAt"`
	DeletedAt    *time.Time  `bson:"deletedAt"` // null when not deleted, as in the seed
	Deleted      bool        `bson:"deleted"`
	FunctionIDs  []string    `bson:"functionIds,omitempty"`
	ParentID     string      `bson:"parentId,omitempty"`
	ParentColl   string      `bson:"parentCollection,omitempty"`
	OriginID     string      `bson:"originId,omitempty"`
	OriginColl   string      `bson:"originCollection,omitempty"`
	Creator      *actorDoc   `bson:"creator,omitempty"`
	Updater      *actorDoc   `bson:"updater,omitempty"`
	Op           string      `bson:"op"`
	Reason       string      `bson:"reason,omitempty"`
	RestoredFrom *int64      `bson:"restoredFrom,omitempty"`
	PayloadRef   *blobRefDoc `bson:"payloadRef,omitempty"`
	Size         int64       `bson:"size"`
	SHA256       string      `bson:"sha256,omitempty"`

	// PayloadInline says the user's payload is the head's root fields.
	PayloadInline bool `bson:"payloadInline"`
	// MetaKeys names the root fields of a head that are indexed props.
	MetaKeys []string `bson:"metaKeys,omitempty"`
	// MetaOnlyKeys are the MetaKeys that are not part of an inline payload.
	MetaOnlyKeys []string `bson:"metaOnlyKeys,omitempty"`
	// MetaExtra holds indexed props that cannot be fields (see storable).
	MetaExtra []metaPair `bson:"metaExtra,omitempty"`

	// InsertedAtNs, UpdatedAtNs and DeletedAtNs are the exact times, in
	// Unix nanoseconds; the date fields hold them to the millisecond, for
	// queries and people. Omitted for times outside the years 1678-2262.
	InsertedAtNs int64 `bson:"insertedAtNs,omitempty"`
	UpdatedAtNs  int64 `bson:"updatedAtNs,omitempty"`
	DeletedAtNs  int64 `bson:"deletedAtNs,omitempty"`
}

type actorDoc struct {
	Type       string `bson:"type"`
	Identifier string `bson:"identifier,omitempty"`
	Name       string `bson:"name,omitempty"`
	// Metadata is the actor's metadata as JSON text: it is free-form, so
	// it may hold keys no document field may have.
	Metadata string `bson:"metadata,omitempty"`
}

type blobRefDoc struct {
	Key    string `bson:"key"`
	Codec  string `bson:"codec"`
	Size   int64  `bson:"size"`
	SHA256 string `bson:"sha256"`
	Dict   string `bson:"dict,omitempty"`
}

// metaPair is an indexed prop kept as JSON text.
type metaPair struct {
	Key  string `bson:"k"`
	JSON string `bson:"json"`
}

func verID(itemID string, ov uint64) string {
	return itemID + ":" + strconv.FormatUint(ov, 10)
}

// unixNano returns t in Unix nanoseconds, or 0 when that does not fit an
// int64 (before 1678 or after 2262).
func unixNano(t time.Time) int64 {
	if t.Before(minNano) || t.After(maxNano) {
		return 0
	}
	return t.UnixNano()
}

var minNano, maxNano = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)

// exactTime returns the exact time ns when it is stored, else the date.
func exactTime(date time.Time, ns int64) time.Time {
	if ns != 0 {
		return time.Unix(0, ns).UTC()
	}
	return date.UTC()
}

func toInt64(field string, v uint64) (int64, error) {
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("%w: %s %d does not fit a BSON int64", events.ErrInvalid, field, v)
	}
	return int64(v), nil
}

// systemOf derives the `_system` block of the version an event writes.
// Everything comes from the event and its place in the log: events are
// self-contained (see package events).
func systemOf(ch projection.Change) (*systemDoc, error) {
	e := ch.Event
	ov, err := toInt64("ov", e.OV)
	if err != nil {
		return nil, err
	}
	seq, err := toInt64("seq", ch.Seq)
	if err != nil {
		return nil, err
	}
	s := &systemDoc{
		OV: ov, CV: seq, Seq: seq,
		InsertedAt: e.InsertedAt, UpdatedAt: e.At,
		Deleted:     e.Deleted(),
		FunctionIDs: e.FunctionIDs,
		Creator:     actorOf(e.Creator), Updater: actorOf(e.Actor),
		Op: string(e.Op), Reason: e.Reason,
	}
	s.InsertedAtNs, s.UpdatedAtNs = unixNano(e.InsertedAt), unixNano(e.At)
	if s.Deleted {
		at := e.At
		s.DeletedAt, s.DeletedAtNs = &at, s.UpdatedAtNs
	}
	if l := e.Lineage; l != nil {
		s.ParentID, s.ParentColl = l.ParentID, l.ParentCollection
		s.OriginID, s.OriginColl = l.OriginID, l.OriginCollection
	}
	if e.RestoredFrom != nil {
		from, err := toInt64("restoredFrom", *e.RestoredFrom)
		if err != nil {
			return nil, err
		}
		s.RestoredFrom = &from
	}
	switch r := e.PayloadRef; {
	case r != nil:
		s.PayloadRef = &blobRefDoc{Key: r.Key, Codec: r.Codec, Size: r.Size, SHA256: r.SHA256, Dict: r.Dict}
		s.Size, s.SHA256 = r.Size, r.SHA256
	case len(e.Payload) > 0:
		sum := sha256.Sum256(e.Payload)
		s.Size, s.SHA256 = int64(len(e.Payload)), hex.EncodeToString(sum[:])
	}
	return s, nil
}

func actorOf(a *events.Actor) *actorDoc {
	if a == nil {
		return nil
	}
	d := &actorDoc{Type: a.Type, Identifier: a.Identifier, Name: a.Name}
	if len(a.Metadata) > 0 {
		var buf bytes.Buffer
		if json.Compact(&buf, a.Metadata) == nil {
			d.Metadata = buf.String()
		} else {
			d.Metadata = string(a.Metadata)
		}
	}
	return d
}

// metaFields splits an event's indexed props into document fields (sorted
// by key) and the pairs that cannot be fields.
func metaFields(meta map[string]json.RawMessage) (bson.D, []metaPair) {
	var fields bson.D
	var extra []metaPair
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		raw := meta[k]
		if k != fieldID && k != fieldSystem && fieldName(k) {
			if v, err := jsonToBSON(raw); err == nil && storable(v) {
				fields = append(fields, bson.E{Key: k, Value: v})
				continue
			}
		}
		var buf bytes.Buffer
		if json.Compact(&buf, raw) != nil {
			buf.Reset()
			buf.Write(raw)
		}
		extra = append(extra, metaPair{Key: k, JSON: buf.String()})
	}
	return fields, extra
}

// verDoc builds the version document of one change: no payload.
func verDoc(ch projection.Change) (bson.D, error) {
	sys, err := systemOf(ch)
	if err != nil {
		return nil, err
	}
	fields, extra := metaFields(ch.Event.Meta)
	sys.MetaExtra = extra
	d := bson.D{
		{Key: fieldID, Value: verID(ch.Ref.ID, ch.Event.OV)},
		{Key: fieldItemID, Value: ch.Ref.ID},
		{Key: fieldOV, Value: sys.OV},
		{Key: fieldAt, Value: ch.Event.At},
	}
	if len(fields) > 0 {
		d = append(d, bson.E{Key: fieldMeta, Value: fields})
	}
	return append(d, bson.E{Key: fieldSystem, Value: sys}), nil
}

// headDoc builds the head document of one change: the payload's fields at
// the root when it can be inline (see the package doc), the indexed props
// at the root always, `_system` last.
func headDoc(ch projection.Change, inlineLimit int) (bson.D, error) {
	e := ch.Event
	var payload bson.D
	fields, extra := metaFields(e.Meta)
	if e.PayloadRef == nil && len(e.Payload) > 0 && len(e.Payload) <= inlineLimit {
		if v, err := jsonToBSON(e.Payload); err == nil {
			if d, ok := v.(bson.D); ok && storable(d) && agrees(d, fields) {
				payload = d
			}
		}
	}
	doc, err := buildHead(ch, payload, fields, extra)
	if err != nil || payload == nil {
		return doc, err
	}
	if raw, err := bson.Marshal(doc); err != nil || len(raw) > maxDocBytes {
		return buildHead(ch, nil, fields, extra)
	}
	return doc, nil
}

func buildHead(ch projection.Change, payload, fields bson.D, extra []metaPair) (bson.D, error) {
	sys, err := systemOf(ch)
	if err != nil {
		return nil, err
	}
	sys.MetaExtra = extra
	doc := make(bson.D, 0, 2+len(payload)+len(fields))
	doc = append(doc, bson.E{Key: fieldID, Value: ch.Ref.ID})
	inPayload := make(map[string]bool, len(payload))
	if payload != nil {
		sys.PayloadInline = true
		doc = append(doc, payload...)
		for _, f := range payload {
			inPayload[f.Key] = true
		}
	}
	for _, f := range fields {
		sys.MetaKeys = append(sys.MetaKeys, f.Key)
		if !inPayload[f.Key] {
			doc = append(doc, f)
			if payload != nil {
				sys.MetaOnlyKeys = append(sys.MetaOnlyKeys, f.Key)
			}
		}
	}
	return append(doc, bson.E{Key: fieldSystem, Value: sys}), nil
}

// agrees reports whether every indexed prop that is also a root field of
// the payload has the same value there, so one root field can serve both.
func agrees(payload, fields bson.D) bool {
	for _, f := range fields {
		for _, p := range payload {
			if p.Key != f.Key {
				continue
			}
			a, errA := bson.Marshal(bson.D{{Key: "v", Value: p.Value}})
			b, errB := bson.Marshal(bson.D{{Key: "v", Value: f.Value}})
			if errA != nil || errB != nil || !bytes.Equal(a, b) {
				return false
			}
		}
	}
	return true
}

// system converts the stored block back into the contract's System.
func (s *systemDoc) system() projection.System {
	out := projection.System{
		OV: uint64(s.OV), CV: uint64(s.CV), Seq: uint64(s.Seq),
		InsertedAt: exactTime(s.InsertedAt, s.InsertedAtNs), UpdatedAt: exactTime(s.UpdatedAt, s.UpdatedAtNs),
		Deleted:     s.Deleted,
		FunctionIDs: s.FunctionIDs,
		ParentID:    s.ParentID, ParentColl: s.ParentColl,
		OriginID: s.OriginID, OriginColl: s.OriginColl,
		Creator: s.Creator.actor(), Updater: s.Updater.actor(),
		Op: events.Op(s.Op), Reason: s.Reason,
		Size: s.Size, SHA256: s.SHA256,
	}
	if s.DeletedAt != nil {
		at := exactTime(*s.DeletedAt, s.DeletedAtNs)
		out.DeletedAt = &at
	}
	if s.RestoredFrom != nil {
		from := uint64(*s.RestoredFrom)
		out.RestoredFrom = &from
	}
	if r := s.PayloadRef; r != nil {
		out.PayloadRef = &events.BlobRef{Key: r.Key, Codec: r.Codec, Size: r.Size, SHA256: r.SHA256, Dict: r.Dict}
	}
	return out
}

func (a *actorDoc) actor() *events.Actor {
	if a == nil {
		return nil
	}
	out := &events.Actor{Type: a.Type, Identifier: a.Identifier, Name: a.Name}
	if a.Metadata != "" {
		out.Metadata = json.RawMessage(a.Metadata)
	}
	return out
}

// docFromHead reads a head document.
func docFromHead(raw bson.Raw) (*projection.Doc, error) {
	var h struct {
		ID  string    `bson:"_id"`
		Sys systemDoc `bson:"_system"`
	}
	if err := bson.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("chronos: decode head document: %w", err)
	}
	doc := &projection.Doc{ID: h.ID, System: h.Sys.system()}
	meta, err := metaOf(h.Sys.MetaKeys, h.Sys.MetaExtra, func(k string) (bson.RawValue, error) { return raw.LookupErr(k) })
	if err != nil {
		return nil, fmt.Errorf("chronos: decode head %q: %w", h.ID, err)
	}
	doc.Meta = meta
	if h.Sys.PayloadInline {
		data, err := appendObject(nil, raw, func(k string) bool {
			return k == fieldID || k == fieldSystem || slices.Contains(h.Sys.MetaOnlyKeys, k)
		})
		if err != nil {
			return nil, fmt.Errorf("chronos: decode head %q: %w", h.ID, err)
		}
		doc.Data = data
	}
	return doc, nil
}

// docFromVersion reads a version document.
func docFromVersion(raw bson.Raw) (*projection.Doc, error) {
	var v struct {
		ItemID string    `bson:"itemId"`
		Meta   bson.Raw  `bson:"meta"`
		Sys    systemDoc `bson:"_system"`
	}
	if err := bson.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("chronos: decode version document: %w", err)
	}
	var keys []string
	if v.Meta != nil {
		elems, err := v.Meta.Elements()
		if err != nil {
			return nil, fmt.Errorf("chronos: decode version of %q: %w", v.ItemID, err)
		}
		for _, e := range elems {
			keys = append(keys, e.Key())
		}
	}
	meta, err := metaOf(keys, v.Sys.MetaExtra, func(k string) (bson.RawValue, error) { return v.Meta.LookupErr(k) })
	if err != nil {
		return nil, fmt.Errorf("chronos: decode version of %q: %w", v.ItemID, err)
	}
	return &projection.Doc{ID: v.ItemID, Meta: meta, System: v.Sys.system()}, nil
}

func metaOf(keys []string, extra []metaPair, lookup func(string) (bson.RawValue, error)) (map[string]json.RawMessage, error) {
	if len(keys)+len(extra) == 0 {
		return nil, nil
	}
	meta := make(map[string]json.RawMessage, len(keys)+len(extra))
	for _, k := range keys {
		v, err := lookup(k)
		if err != nil {
			return nil, fmt.Errorf("indexed prop %q: %w", k, err)
		}
		js, err := appendJSON(nil, v)
		if err != nil {
			return nil, fmt.Errorf("indexed prop %q: %w", k, err)
		}
		meta[k] = js
	}
	for _, p := range extra {
		meta[p.Key] = json.RawMessage(p.JSON)
	}
	return meta, nil
}
