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
		if err := projection.CheckChange(i, ch, part); err != nil {
			return nil, err
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

// writeVersions inserts one ver document per event, keyed by
// "<itemId>:<ov>". The same event always produces the same document, so a
// version that is already there (a redelivery) is left as it is: its
// insert fails with a duplicate key, which is ignored. Inserts, not
// upserts: an upsert must look the _id up first, which FerretDB does by
// scanning the collection. As FerretDB stops a write command at its first
// error, a chunk that met a duplicate is checked and its missing versions
// sent again.
func (s *Store) writeVersions(ctx context.Context, g *collBatch) error {
	docs := make(map[string]bson.D, len(g.changes))
	var ids []string
	for _, ch := range g.changes {
		id := verID(ch.Ref.ID, ch.Event.OV)
		if _, ok := docs[id]; ok { // a redelivery inside the batch
			continue
		}
		doc, err := verDoc(ch)
		if err != nil {
			return err
		}
		docs[id] = doc
		ids = append(ids, id)
	}
	for start := 0; start < len(ids); start += s.chunk {
		pending := ids[start:min(start+s.chunk, len(ids))]
		for round := 0; len(pending) > 0; round++ {
			if round > s.chunk {
				return fmt.Errorf("chronos: mongostore: %d versions of %s.%s still missing after %d rounds",
					len(pending), g.ver.Database().Name(), g.ver.Name(), round)
			}
			models := make([]mongo.WriteModel, len(pending))
			for i, id := range pending {
				models[i] = mongo.NewInsertOneModel().SetDocument(docs[id])
			}
			dup, err := s.bulk(ctx, g.ver, models, true)
			if err != nil {
				return err
			}
			if !dup {
				break
			}
			there, err := existingIDs(ctx, g.ver, pending)
			if err != nil {
				return err
			}
			pending = slices.DeleteFunc(slices.Clone(pending), func(id string) bool { return there[id] })
		}
	}
	return nil
}

// existingIDs returns which of ids have a document in coll.
func existingIDs(ctx context.Context, coll *mongo.Collection, ids []string) (map[string]bool, error) {
	cur, err := coll.Find(ctx, bson.D{{Key: fieldID, Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: fieldID, Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("chronos: mongostore: read %s.%s: %w", coll.Database().Name(), coll.Name(), err)
	}
	var rows []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("chronos: mongostore: read %s.%s: %w", coll.Database().Name(), coll.Name(), err)
	}
	out := make(map[string]bool, len(rows))
	for _, r := range rows {
		out[r.ID] = true
	}
	return out, nil
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
// The heads are read first (one find on _id): those already at or past
// their ov are not sent, so redeliveries cost no writes. A head that is
// not there is inserted; one that is behind is replaced with a filter
// {_id, _system.ov < ov}, so that it only moves forward even against
// another writer (a replace that matches nothing found it at or past ov).
// An insert that meets a duplicate key (the head appeared meanwhile) and,
// on FerretDB v1.24, which ignores ordered=false and stops a write
// command at its first error, the writes behind it, are settled by
// reading the heads again and sending the ones still behind. Each round
// settles at least one head.
func (s *Store) advanceHeads(ctx context.Context, head *mongo.Collection, ids []string, best map[string]projection.Change) error {
	docs := make(map[string]bson.D, len(ids))
	for _, id := range ids {
		doc, err := headDoc(best[id], s.opts.InlineLimit)
		if err != nil {
			return err
		}
		docs[id] = doc
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
		// A head that is not there is inserted (a duplicate key means it
		// appeared meanwhile: read again); one that is behind is replaced
		// only if still behind. An upsert would scan on FerretDB twice.
		batch := make([]mongo.WriteModel, len(pending))
		for i, id := range pending {
			if _, exists := current[id]; !exists {
				batch[i] = mongo.NewInsertOneModel().SetDocument(docs[id])
				continue
			}
			batch[i] = mongo.NewReplaceOneModel().SetFilter(s.behind(id, docs[id])).SetReplacement(docs[id])
		}
		// A replace that matches nothing found the head at or past ov:
		// done. Only a duplicate key needs another look.
		dup, err := s.bulk(ctx, head, batch, true)
		if err != nil || !dup {
			return err
		}
	}
}

// behind is the filter of a head replace: the head, if still behind the
// new document's ov. On FerretDB it is the _id alone: FerretDB evaluates
// a filter on a nested field by decoding every document of the collection
// (3.5x slower projection, measured), and the head was just read behind.
// There, a head moves only forward as long as one projector writes a
// partition (the projector's design); a second writer would be detected
// by the counters' compare-and-set and its batch applied again.
func (s *Store) behind(id string, doc bson.D) bson.D {
	if s.ferret {
		return bson.D{{Key: fieldID, Value: id}}
	}
	ov := doc[len(doc)-1].Value.(*systemDoc).OV
	return bson.D{{Key: fieldID, Value: id}, {Key: fieldSystem + ".ov", Value: bson.D{{Key: "$lt", Value: ov}}}}
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
