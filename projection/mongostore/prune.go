package mongostore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

var _ projection.VersionPruner = (*Store)(nil)

// ExpiredVersions returns the versions of c that r no longer keeps: those
// older than r.Days days and those past the r.MaxPerItem newest of their
// item, except each item's head version. It reads the (itemId, ov, at) of
// every version in (reverse) index order, one pass over the collection, so run it
// rarely (the janitor's default is hourly).
func (s *Store) ExpiredVersions(ctx context.Context, c events.Collection, r projection.VerRetention, now time.Time) ([]projection.VersionKey, error) {
	if !r.Enabled() {
		return nil, nil
	}
	head, ver, err := s.collections(c)
	if err != nil {
		return nil, err
	}
	cutoff := time.Time{}
	if r.Days > 0 {
		cutoff = now.Add(-time.Duration(r.Days) * 24 * time.Hour)
	}
	cur, err := ver.Find(ctx, bson.D{},
		options.Find().SetSort(bson.D{{Key: fieldItemID, Value: -1}, {Key: fieldOV, Value: -1}}).
			SetProjection(bson.D{{Key: fieldItemID, Value: 1}, {Key: fieldOV, Value: 1}, {Key: fieldAt, Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("chronos: mongostore: read versions of %s: %w", c, err)
	}
	defer cur.Close(ctx)
	type row struct {
		Item string    `bson:"itemId"`
		OV   int64     `bson:"ov"`
		At   time.Time `bson:"at"`
	}
	var candidates []projection.VersionKey
	item, rank := "", 0
	for cur.Next(ctx) {
		var v row
		if err := cur.Decode(&v); err != nil {
			return nil, fmt.Errorf("chronos: mongostore: read versions of %s: %w", c, err)
		}
		if v.Item != item {
			item, rank = v.Item, 0
		}
		rank++
		old := !cutoff.IsZero() && v.At.Before(cutoff)
		over := r.MaxPerItem > 0 && rank > r.MaxPerItem
		if old || over {
			candidates = append(candidates, projection.VersionKey{ID: v.Item, OV: uint64(v.OV)})
		}
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("chronos: mongostore: read versions of %s: %w", c, err)
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	// Never the head's version, whatever its age or rank.
	var ids []string
	for _, k := range candidates {
		if len(ids) == 0 || ids[len(ids)-1] != k.ID {
			ids = append(ids, k.ID)
		}
	}
	heads := make(map[string]int64, len(ids))
	for start := 0; start < len(ids); start += s.chunk {
		part, err := headOVs(ctx, head, ids[start:min(start+s.chunk, len(ids))])
		if err != nil {
			return nil, err
		}
		for id, ov := range part {
			heads[id] = ov
		}
	}
	out := candidates[:0]
	for _, k := range candidates {
		if ov, ok := heads[k.ID]; ok && uint64(ov) == k.OV {
			continue
		}
		out = append(out, k)
	}
	return out, nil
}

// DeleteVersions deletes the ver documents of keys, in chunks.
func (s *Store) DeleteVersions(ctx context.Context, c events.Collection, keys []projection.VersionKey) error {
	_, ver, err := s.collections(c)
	if err != nil {
		return err
	}
	models := make([]mongo.WriteModel, len(keys))
	for i, k := range keys {
		models[i] = mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: fieldID, Value: verID(k.ID, k.OV)}})
	}
	_, err = s.bulk(ctx, ver, models, false)
	return err
}
