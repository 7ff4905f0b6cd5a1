package mongostore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// codeDuplicateKey is MongoDB's duplicate key error.
const codeDuplicateKey = 11000

// collBatch is the part of a batch that concerns one collection.
type collBatch struct {
	coll          events.Collection
	db, analytics string
	head, ver     *mongo.Collection
	changes       []projection.Change // in stream order
}

// Apply applies a batch of one partition, in stream order. It is
// idempotent over any prefix of the log in any batching (see the package
// doc for how). It writes every collection's versions, then every head,
// then every counter, so that a failure anywhere leaves a state that
// applying the batch again completes. An error means the batch must be
// applied again; errors matching events.ErrInvalid will fail again.
func (s *Store) Apply(ctx context.Context, batch []projection.Change) error {
	if len(batch) == 0 {
		return nil
	}
	groups, err := s.group(batch)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if err := s.ensureIndexes(ctx, g.coll, g.head, g.ver); err != nil {
			return err
		}
		if err := s.writeVersions(ctx, g); err != nil {
			return err
		}
	}
	for _, g := range groups {
		if err := s.writeHeads(ctx, g); err != nil {
			return err
		}
	}
	for _, g := range groups {
		if err := s.count(ctx, g); err != nil {
			return err
		}
	}
	return nil
}

// group checks the batch and splits it by collection, keeping stream
// order within each.
func (s *Store) group(batch []projection.Change) ([]*collBatch, error) {
	part := batch[0].Part
	byColl := make(map[events.Collection]*collBatch)
	var out []*collBatch
	for i, ch := range batch {
		if ch.Event == nil {
			return nil, fmt.Errorf("%w: change %d (seq %d) has no event", events.ErrInvalid, i, ch.Seq)
		}
		if ch.Part != part {
			return nil, fmt.Errorf("%w: a batch holds one partition; change %d (seq %d) is of partition %d, not %d",
				events.ErrInvalid, i, ch.Seq, ch.Part, part)
		}
		if err := ch.Ref.Validate(); err != nil {
			return nil, fmt.Errorf("chronos: change %d (seq %d): %w", i, ch.Seq, err)
		}
		if _, err := toInt64("seq", ch.Seq); err != nil {
			return nil, err
		}
		g := byColl[ch.Ref.Collection]
		if g == nil {
			db, analytics, err := s.route(ch.Ref.Collection)
			if err != nil {
				return nil, err
			}
			d := s.client.Database(db)
			g = &collBatch{
				coll: ch.Ref.Collection, db: db, analytics: analytics,
				head: d.Collection(ch.Ref.Name + headSuffix), ver: d.Collection(ch.Ref.Name + verSuffix),
			}
			byColl[ch.Ref.Collection] = g
			out = append(out, g)
		}
		g.changes = append(g.changes, ch)
	}
	return out, nil
}

// writeVersions upserts one ver document per event, keyed by
// "<itemId>:<ov>": writing the same event again writes the same document.
func (s *Store) writeVersions(ctx context.Context, g *collBatch) error {
	at := make(map[string]int, len(g.changes))
	models := make([]mongo.WriteModel, 0, len(g.changes))
	for _, ch := range g.changes {
		doc, err := verDoc(ch)
		if err != nil {
			return err
		}
		id := verID(ch.Ref.ID, ch.Event.OV)
		m := mongo.NewReplaceOneModel().SetFilter(bson.D{{Key: fieldID, Value: id}}).SetReplacement(doc).SetUpsert(true)
		if i, ok := at[id]; ok { // a redelivery inside the batch
			models[i] = m
			continue
		}
		at[id] = len(models)
		models = append(models, m)
	}
	_, err := s.bulk(ctx, g.ver, models, false)
	return err
}

// writeHeads moves each item's head to the batch's highest-ov event of
// that item, unless the head is already there or past it.
func (s *Store) writeHeads(ctx context.Context, g *collBatch) error {
	best := make(map[string]projection.Change)
	var ids []string
	for _, ch := range g.changes {
		cur, seen := best[ch.Ref.ID]
		if !seen {
			ids = append(ids, ch.Ref.ID)
		}
		if !seen || ch.Event.OV > cur.Event.OV || ch.Event.OV == cur.Event.OV && ch.Seq > cur.Seq {
			best[ch.Ref.ID] = ch
		}
	}
	for start := 0; start < len(ids); start += s.chunk {
		if err := s.advanceHeads(ctx, g.head, ids[start:min(start+s.chunk, len(ids))], best); err != nil {
			return err
		}
	}
	return nil
}

// advanceHeads writes the heads of ids (at most one chunk).
//
// Each head is a ReplaceOne upsert filtered on {_id, _system.ov < ov}: if
// the head is at or past ov the filter matches nothing, the upsert tries
// to insert an existing _id and fails with a duplicate key, which only
// means "already there". Two things make that less simple than ignoring
// those errors:
//   - heads already there are read first (one find on _id) and not sent,
//     so redeliveries cost no failed writes;
//   - FerretDB v1.24 ignores ordered=false and stops an update command at
//     its first error, so after a duplicate key the writes behind it may
//     not have run. The heads are then read again and the ones still
//     behind are sent again. Each round settles at least one head.
func (s *Store) advanceHeads(ctx context.Context, head *mongo.Collection, ids []string, best map[string]projection.Change) error {
	models := make(map[string]mongo.WriteModel, len(ids))
	for _, id := range ids {
		doc, err := headDoc(best[id], s.opts.InlineLimit)
		if err != nil {
			return err
		}
		ov := doc[len(doc)-1].Value.(*systemDoc).OV
		models[id] = mongo.NewReplaceOneModel().
			SetFilter(bson.D{{Key: fieldID, Value: id}, {Key: fieldSystem + ".ov", Value: bson.D{{Key: "$lt", Value: ov}}}}).
			SetReplacement(doc).SetUpsert(true)
	}
	pending := slices.Clone(ids)
	for round := 0; ; round++ {
		current, err := headOVs(ctx, head, pending)
		if err != nil {
			return err
		}
		pending = slices.DeleteFunc(pending, func(id string) bool {
			ov, ok := current[id]
			return ok && uint64(ov) >= best[id].Event.OV
		})
		if len(pending) == 0 {
			return nil
		}
		if round > len(ids) {
			return fmt.Errorf("chronos: mongostore: %d heads of %s.%s still behind after %d rounds",
				len(pending), head.Database().Name(), head.Name(), round)
		}
		batch := make([]mongo.WriteModel, len(pending))
		for i, id := range pending {
			batch[i] = models[id]
		}
		dup, err := s.bulk(ctx, head, batch, true)
		if err != nil || !dup {
			return err
		}
	}
}

// headOVs returns the ov of the heads of ids that exist.
func headOVs(ctx context.Context, head *mongo.Collection, ids []string) (map[string]int64, error) {
	cur, err := head.Find(ctx, bson.D{{Key: fieldID, Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: fieldSystem + ".ov", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("chronos: mongostore: read heads of %s.%s: %w", head.Database().Name(), head.Name(), err)
	}
	var rows []struct {
		ID  string `bson:"_id"`
		Sys struct {
			OV int64 `bson:"ov"`
		} `bson:"_system"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("chronos: mongostore: read heads of %s.%s: %w", head.Database().Name(), head.Name(), err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.ID] = r.Sys.OV
	}
	return out, nil
}

// bulk sends models in chunks of s.chunk, unordered. With allowDup,
// duplicate key errors are reported through dup instead of failing; any
// other error fails.
func (s *Store) bulk(ctx context.Context, coll *mongo.Collection, models []mongo.WriteModel, allowDup bool) (dup bool, err error) {
	opts := options.BulkWrite().SetOrdered(false)
	for start := 0; start < len(models); start += s.chunk {
		_, err := coll.BulkWrite(ctx, models[start:min(start+s.chunk, len(models))], opts)
		if err == nil {
			continue
		}
		if !allowDup || !onlyDuplicateKeys(err) {
			return dup, fmt.Errorf("chronos: mongostore: write %s.%s: %w", coll.Database().Name(), coll.Name(), err)
		}
		dup = true
	}
	return dup, nil
}

// onlyDuplicateKeys reports whether err is a bulk write result whose only
// failures are duplicate keys.
func onlyDuplicateKeys(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != codeDuplicateKey {
			return false
		}
	}
	return true
}
