package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// DefaultHistoryLimit is the page size of History when the query names none.
const DefaultHistoryLimit = 50

// Head returns the latest version of an item, deleted or not, with Data
// when the payload is stored inline. An item never applied is
// projection.ErrNotFound.
func (s *Store) Head(ctx context.Context, ref events.ItemRef) (*projection.Doc, error) {
	head, _, err := s.item(ref)
	if err != nil {
		return nil, err
	}
	raw, err := head.FindOne(ctx, bson.D{{Key: fieldID, Value: ref.ID}}).Raw()
	if err != nil {
		return nil, readErr("head of "+ref.String(), err)
	}
	return docFromHead(raw)
}

// Version returns version ov of an item, without Data. An unknown item or
// ov is projection.ErrNotFound.
func (s *Store) Version(ctx context.Context, ref events.ItemRef, ov uint64) (*projection.Doc, error) {
	_, ver, err := s.item(ref)
	if err != nil {
		return nil, err
	}
	raw, err := ver.FindOne(ctx, bson.D{{Key: fieldID, Value: verID(ref.ID, ov)}}).Raw()
	if err != nil {
		return nil, readErr(fmt.Sprintf("version %d of %s", ov, ref), err)
	}
	return docFromVersion(raw)
}

// AsOf returns the version in force at time at, without Data: the highest
// ov whose event time is at or before at, compared exactly (to the
// nanosecond). projection.ErrNotFound if the item did not exist yet.
func (s *Store) AsOf(ctx context.Context, ref events.ItemRef, at time.Time) (*projection.Doc, error) {
	_, ver, err := s.item(ref)
	if err != nil {
		return nil, err
	}
	// The date condition (milliseconds, implied by the exact one) lets the
	// (itemId, at) index narrow the scan; the exact one decides.
	filter := bson.D{{Key: fieldItemID, Value: ref.ID}, {Key: fieldAt, Value: bson.D{{Key: "$lte", Value: at}}}}
	if ns := unixNano(at); ns != 0 {
		filter = append(filter, bson.E{Key: fieldSystem + ".updatedAtNs", Value: bson.D{{Key: "$lte", Value: ns}}})
	}
	raw, err := ver.FindOne(ctx, filter, options.FindOne().SetSort(bson.D{{Key: fieldOV, Value: -1}})).Raw()
	if err != nil {
		return nil, readErr(fmt.Sprintf("%s as of %s", ref, at.UTC().Format(time.RFC3339Nano)), err)
	}
	return docFromVersion(raw)
}

// History returns a page of an item's versions in ascending ov (descending
// with q.Desc), without Data; an empty page (not an error) past the last version or for an
// unknown item. A negative Limit is events.ErrInvalid.
func (s *Store) History(ctx context.Context, ref events.ItemRef, q projection.HistoryQuery) ([]projection.Doc, error) {
	_, ver, err := s.item(ref)
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	switch {
	case limit < 0:
		return nil, fmt.Errorf("%w: history limit %d is negative", events.ErrInvalid, limit)
	case limit == 0:
		limit = DefaultHistoryLimit
	}
	filter := bson.D{{Key: fieldItemID, Value: ref.ID}}
	op, dir := "$gt", 1
	if q.Desc {
		op, dir = "$lt", -1
	}
	if q.AfterOV != nil {
		after, err := toInt64("afterOv", *q.AfterOV)
		if err != nil {
			return nil, err
		}
		filter = append(filter, bson.E{Key: fieldOV, Value: bson.D{{Key: op, Value: after}}})
	}
	cur, err := ver.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: fieldOV, Value: dir}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, readErr("history of "+ref.String(), err)
	}
	defer cur.Close(ctx)
	docs := make([]projection.Doc, 0, min(limit, 16))
	for cur.Next(ctx) {
		d, err := docFromVersion(cur.Current)
		if err != nil {
			return nil, err
		}
		docs = append(docs, *d)
	}
	if err := cur.Err(); err != nil {
		return nil, readErr("history of "+ref.String(), err)
	}
	return docs, nil
}

// item validates ref and returns its collections.
func (s *Store) item(ref events.ItemRef) (head, ver *mongo.Collection, err error) {
	if err := events.ValidateToken("itemId", ref.ID); err != nil {
		return nil, nil, err
	}
	return s.collections(ref.Collection)
}

// readErr maps the driver's "no document" to projection.ErrNotFound.
func readErr(what string, err error) error {
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("%w: %s", projection.ErrNotFound, what)
	}
	return fmt.Errorf("chronos: mongostore: read %s: %w", what, err)
}
