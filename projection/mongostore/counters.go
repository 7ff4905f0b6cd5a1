package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// ErrCounterConflict is returned by Apply when a counter document changed
// between reading and updating it, which only a second writer on the same
// partition can cause. Nothing was double-counted; apply the batch again.
var ErrCounterConflict = errors.New("chronos: counter changed during apply (two writers on one partition?)")

// countersDoc is one cnt_total document: a collection's totals, in the
// seed's shape, plus the last partition sequence counted.
type countersDoc struct {
	ID         string    `bson:"_id"`
	Tenant     string    `bson:"tenant,omitempty"`
	Domain     string    `bson:"domain,omitempty"`
	DBName     string    `bson:"dbName"`
	Collection string    `bson:"collection"`
	Created    int64     `bson:"created"`
	Updated    int64     `bson:"updated"`
	Deleted    int64     `bson:"deleted"`
	LastAt     time.Time `bson:"lastAt"`
	LastSeq    int64     `bson:"lastSeq"`
	// LastAtNs is lastAt exactly, in Unix nanoseconds (see systemDoc).
	LastAtNs int64 `bson:"lastAtNs,omitempty"`
}

// counterID is the seed's key of a collection's totals:
// "tenant:<scope>|db:<dbName>|coll:<collection>", with "domain:<domain>|"
// or "generic|" in front for the other tiers.
func counterID(c events.Collection, db string) string {
	var who string
	switch c.Tier {
	case events.TierTenant:
		who = "tenant:" + c.Scope
	case events.TierDomain:
		who = "domain:" + c.Scope
	default:
		who = "generic"
	}
	return who + "|db:" + db + "|coll:" + c.Name
}

// count adds the batch's events to the collection's totals. Creates count
// as created; updates, enrichments and restores as updated; deletes and
// erasures as deleted. Only events past the document's lastSeq are
// counted, and the update is a compare-and-set on the lastSeq read, so an
// event is counted once however often it is applied.
func (s *Store) count(ctx context.Context, g *collBatch) error {
	coll := s.client.Database(g.analytics).Collection(countersColl)
	id := counterID(g.coll, g.db)
	var cur countersDoc
	err := coll.FindOne(ctx, bson.D{{Key: fieldID, Value: id}}).Decode(&cur)
	found := err == nil
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("chronos: mongostore: read counters %s: %w", id, err)
	}

	last := cur.LastSeq
	var created, updated, deleted int64
	var lastAt time.Time
	for _, ch := range g.changes {
		seq := int64(ch.Seq) // checked by group
		if seq <= last {
			continue
		}
		last, lastAt = seq, ch.Event.At
		switch op := ch.Event.Op; {
		case op == events.OpCreate:
			created++
		case op.Deletes():
			deleted++
		default:
			updated++
		}
	}
	if last == cur.LastSeq {
		return nil // nothing new
	}

	if !found {
		doc := countersDoc{
			ID: id, DBName: g.db, Collection: g.coll.Name,
			Created: created, Updated: updated, Deleted: deleted,
			LastAt: lastAt, LastSeq: last, LastAtNs: unixNano(lastAt),
		}
		switch g.coll.Tier {
		case events.TierTenant:
			doc.Tenant = g.coll.Scope
		case events.TierDomain:
			doc.Domain = g.coll.Scope
		}
		_, err := coll.InsertOne(ctx, doc)
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("%w: %s appeared", ErrCounterConflict, id)
		}
		if err != nil {
			return fmt.Errorf("chronos: mongostore: write counters %s: %w", id, err)
		}
		return nil
	}

	res, err := coll.UpdateOne(ctx,
		bson.D{{Key: fieldID, Value: id}, {Key: "lastSeq", Value: cur.LastSeq}},
		bson.D{
			{Key: "$inc", Value: bson.D{{Key: "created", Value: created}, {Key: "updated", Value: updated}, {Key: "deleted", Value: deleted}}},
			{Key: "$set", Value: bson.D{{Key: "lastSeq", Value: last}, {Key: "lastAt", Value: lastAt}, {Key: "lastAtNs", Value: unixNano(lastAt)}}},
		})
	if err != nil {
		return fmt.Errorf("chronos: mongostore: write counters %s: %w", id, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("%w: %s moved past lastSeq %d", ErrCounterConflict, id, cur.LastSeq)
	}
	return nil
}

// Counters returns the totals of a collection, zeros if nothing of it was
// applied yet.
func (s *Store) Counters(ctx context.Context, c events.Collection) (*projection.Counters, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	db, analytics, err := s.route(c)
	if err != nil {
		return nil, err
	}
	id := counterID(c, db)
	var d countersDoc
	err = s.client.Database(analytics).Collection(countersColl).FindOne(ctx, bson.D{{Key: fieldID, Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return &projection.Counters{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chronos: mongostore: read counters %s: %w", id, err)
	}
	return &projection.Counters{
		Created: d.Created, Updated: d.Updated, Deleted: d.Deleted,
		LastAt: exactTime(d.LastAt, d.LastAtNs), LastSeq: uint64(d.LastSeq),
	}, nil
}
