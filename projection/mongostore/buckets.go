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

// bucketsColl is the collection of a period's counter buckets, in the
// analytics database: cnt_day, cnt_week, cnt_month.
func bucketsColl(p projection.Period) string { return "cnt_" + string(p) }

// bucketID is the _id of a bucket: the totals' _id, then
// "|day:2026-11-22", "|week:2026-W47" or "|month:2026-11".
func bucketID(total string, p projection.Period, key string) string {
	return total + "|" + string(p) + ":" + key
}

// bucketDoc is one cnt_day, cnt_week or cnt_month document: a
// collection's counters over one period, in cnt_total's shape, plus the
// period, its start and the totals' _id (totalId), which reads and
// pruning filter on.
type bucketDoc struct {
	ID         string    `bson:"_id"`
	TotalID    string    `bson:"totalId"`
	Tenant     string    `bson:"tenant,omitempty"`
	Domain     string    `bson:"domain,omitempty"`
	DBName     string    `bson:"dbName"`
	Collection string    `bson:"collection"`
	Period     string    `bson:"period"`
	Key        string    `bson:"key"`
	Start      time.Time `bson:"start"`
	Created    int64     `bson:"created"`
	Updated    int64     `bson:"updated"`
	Deleted    int64     `bson:"deleted"`
	LastAt     time.Time `bson:"lastAt"`
	LastSeq    int64     `bson:"lastSeq"`
	LastAtNs   int64     `bson:"lastAtNs,omitempty"`
	Rules      bson.Raw  `bson:"rules,omitempty"`
}

// bucketState is one bucket a batch touches: its document as read (or
// new) and what the batch adds to it.
type bucketState struct {
	period projection.Period
	doc    bucketDoc
	found  bool
	// last is the last sequence counted: the document's, then the
	// batch's.
	last  uint64
	delta projection.CounterDelta
}

// eventBuckets are the buckets of one event, one per projection.Periods.
type eventBuckets []*bucketState

// wants reports whether some bucket has not counted seq yet.
func (in eventBuckets) wants(seq uint64) bool {
	for _, b := range in {
		if seq > b.last {
			return true
		}
	}
	return false
}

// add counts t in the buckets that have not counted it yet.
func (in eventBuckets) add(t *projection.CounterTally) {
	for _, b := range in {
		if t.Seq > b.last {
			b.delta.Add(t)
			b.last = t.Seq
		}
	}
}

// bucketSet holds the buckets that a collection's share of a batch
// touches: usually one per period, as a batch spans seconds.
type bucketSet struct {
	total string
	proto bucketDoc // the fields every bucket of the collection shares
	byID  map[string]*bucketState
	order []*bucketState
	// The buckets of the last day looked up: events of one day share
	// their week and month too.
	dayStart, dayEnd time.Time
	day              eventBuckets
}

// of returns the buckets of an event at time at, creating their states.
func (bs *bucketSet) of(at time.Time) eventBuckets {
	if !at.Before(bs.dayStart) && at.Before(bs.dayEnd) {
		return bs.day
	}
	in := make(eventBuckets, len(projection.Periods))
	for i, p := range projection.Periods {
		b := projection.BucketOf(p, at)
		id := bucketID(bs.total, p, b.Key)
		st := bs.byID[id]
		if st == nil {
			st = &bucketState{period: p, doc: bs.proto}
			st.doc.ID, st.doc.Period, st.doc.Key, st.doc.Start = id, string(p), b.Key, b.Start
			bs.byID[id] = st
			bs.order = append(bs.order, st)
		}
		in[i] = st
		if p == projection.PeriodDay {
			bs.dayStart, bs.dayEnd = b.Start, b.End
		}
	}
	bs.day = in
	return in
}

// changed reports whether the batch adds to some bucket.
func (bs *bucketSet) changed() bool {
	for _, b := range bs.order {
		if !b.delta.Empty() {
			return true
		}
	}
	return false
}

// all returns every bucket touched, in first-touched order.
func (bs *bucketSet) all() []*bucketState { return bs.order }

// readBuckets returns the buckets of g's events, with their documents as
// stored: one find per period collection.
func (s *Store) readBuckets(ctx context.Context, g *collBatch, total string) (*bucketSet, error) {
	bs := &bucketSet{total: total, byID: make(map[string]*bucketState)}
	bs.proto = bucketDoc{TotalID: total, DBName: s.countersName(g.coll, g.db), Collection: g.coll.Name}
	switch g.coll.Tier {
	case events.TierTenant:
		bs.proto.Tenant = g.coll.Scope
	case events.TierDomain:
		bs.proto.Domain = g.coll.Scope
	}
	for _, ch := range g.changes {
		bs.of(ch.Event.At)
	}
	db := s.client.Database(g.analytics)
	for _, p := range projection.Periods {
		var ids []string
		for _, b := range bs.order {
			if b.period == p {
				ids = append(ids, b.doc.ID)
			}
		}
		coll := db.Collection(bucketsColl(p))
		cur, err := coll.Find(ctx, bson.D{{Key: fieldID, Value: bson.D{{Key: "$in", Value: ids}}}})
		if err != nil {
			return nil, fmt.Errorf("chronos: mongostore: read %s buckets of %s: %w", p, total, err)
		}
		var docs []bucketDoc
		if err := cur.All(ctx, &docs); err != nil {
			return nil, fmt.Errorf("chronos: mongostore: read %s buckets of %s: %w", p, total, err)
		}
		for _, d := range docs {
			if b := bs.byID[d.ID]; b != nil {
				b.doc, b.found, b.last = d, true, uint64(d.LastSeq)
			}
		}
	}
	return bs, nil
}

// writeBuckets writes what the batch adds to each bucket: a new bucket is
// inserted, a stored one updated with a compare-and-set on the lastSeq
// read. One bulk per period collection; ErrCounterConflict if a bucket
// changed since it was read.
func (s *Store) writeBuckets(ctx context.Context, g *collBatch, bs *bucketSet) error {
	db := s.client.Database(g.analytics)
	for _, p := range projection.Periods {
		var inserts, updates []mongo.WriteModel
		for _, b := range bs.order {
			if b.period != p || b.delta.Empty() {
				continue
			}
			d := &b.delta
			if !b.found {
				doc := b.doc
				doc.Created, doc.Updated, doc.Deleted = d.Created, d.Updated, d.Deleted
				doc.LastAt, doc.LastSeq, doc.LastAtNs = d.LastAt, int64(d.LastSeq), unixNano(d.LastAt)
				var err error
				if doc.Rules, err = mergeRules(nil, d.Rules); err != nil {
					return err
				}
				inserts = append(inserts, mongo.NewInsertOneModel().SetDocument(doc))
				continue
			}
			update, err := counterUpdate(b.doc.Rules, d)
			if err != nil {
				return err
			}
			updates = append(updates, mongo.NewUpdateOneModel().
				SetFilter(bson.D{{Key: fieldID, Value: b.doc.ID}, {Key: "lastSeq", Value: b.doc.LastSeq}}).
				SetUpdate(update))
		}
		if len(inserts)+len(updates) == 0 {
			continue
		}
		coll := db.Collection(bucketsColl(p))
		if err := s.ensureIndex(ctx, coll, bson.D{{Key: "totalId", Value: 1}, {Key: "start", Value: 1}}, "totalId_1_start_1"); err != nil {
			return err
		}
		if dup, err := s.bulk(ctx, coll, inserts, true); err != nil {
			return err
		} else if dup {
			return fmt.Errorf("%w: a %s bucket of %s appeared", ErrCounterConflict, p, bs.total)
		}
		for start := 0; start < len(updates); start += s.chunk {
			chunk := updates[start:min(start+s.chunk, len(updates))]
			res, err := coll.BulkWrite(ctx, chunk, options.BulkWrite().SetOrdered(false))
			if err != nil {
				return fmt.Errorf("chronos: mongostore: write %s buckets of %s: %w", p, bs.total, err)
			}
			if res.MatchedCount != int64(len(chunk)) {
				return fmt.Errorf("%w: a %s bucket of %s moved past the lastSeq read", ErrCounterConflict, p, bs.total)
			}
		}
	}
	return nil
}

// CounterBuckets returns c's buckets of period p that start in [from,
// to), oldest first: one find on (totalId, start), and one aggregation
// counting the distinct values of the buckets' rules.
func (s *Store) CounterBuckets(ctx context.Context, c events.Collection, p projection.Period, from, to time.Time) ([]projection.CounterBucket, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if _, err := projection.ParsePeriod(string(p)); err != nil {
		return nil, err
	}
	db, analytics, err := s.route(c)
	if err != nil {
		return nil, err
	}
	total := counterID(c, s.countersName(c, db))
	// Starts are whole days; BSON dates are milliseconds: rounding the
	// bounds up keeps [from, to) exact.
	cur, err := s.client.Database(analytics).Collection(bucketsColl(p)).Find(ctx,
		bson.D{{Key: "totalId", Value: total}, {Key: "start", Value: bson.D{{Key: "$gte", Value: ceilMilli(from)}, {Key: "$lt", Value: ceilMilli(to)}}}},
		options.Find().SetSort(bson.D{{Key: "start", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("chronos: mongostore: read %s buckets of %s: %w", p, total, err)
	}
	var docs []bucketDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("chronos: mongostore: read %s buckets of %s: %w", p, total, err)
	}
	out := make([]projection.CounterBucket, 0, len(docs))
	var withRules []string
	for _, d := range docs {
		start := d.Start.UTC()
		b := projection.CounterBucket{Period: p, Key: d.Key, Start: start, End: p.Add(start, 1)}
		b.Counters = projection.Counters{
			Created: d.Created, Updated: d.Updated, Deleted: d.Deleted,
			LastAt: exactTime(d.LastAt, d.LastAtNs), LastSeq: uint64(d.LastSeq),
		}
		rules, err := decodeRules(d.Rules)
		if err != nil {
			return nil, err
		}
		if len(rules) > 0 {
			b.Rules = make(map[string]projection.RuleCounters, len(rules))
			withRules = append(withRules, d.ID)
		}
		for name, rd := range rules {
			rc := projection.RuleCounters{Count: rd.Count, Created: rd.Created, Updated: rd.Updated, Deleted: rd.Deleted}
			for _, f := range s.uniqueFields(name) {
				if rc.Unique == nil {
					rc.Unique = make(map[string]int64)
				}
				rc.Unique[f] = 0
			}
			b.Rules[name] = rc
		}
		out = append(out, b)
	}
	if len(withRules) == 0 {
		return out, nil
	}
	counts, err := s.distinctCounts(ctx, analytics, withRules)
	if err != nil {
		return nil, err
	}
	for i, d := range docs {
		for name, rc := range out[i].Rules {
			for f := range rc.Unique {
				rc.Unique[f] = counts[distinctKey{d.ID, name, f}]
			}
		}
	}
	return out, nil
}

// distinctKey names the distinct count of one field of one rule in one
// counter document.
type distinctKey struct{ counter, rule, field string }

// distinctCounts counts the cnt_unique documents of the counter
// documents ids by (counter, rule, field): one $match/$group aggregation
// per chunk of ids, on the (counterId, rule, field) index.
func (s *Store) distinctCounts(ctx context.Context, analytics string, ids []string) (map[distinctKey]int64, error) {
	coll := s.client.Database(analytics).Collection(uniqueColl)
	out := make(map[distinctKey]int64)
	for start := 0; start < len(ids); start += s.chunk {
		cur, err := coll.Aggregate(ctx, mongo.Pipeline{
			{{Key: "$match", Value: bson.D{{Key: "counterId", Value: bson.D{{Key: "$in", Value: ids[start:min(start+s.chunk, len(ids))]}}}}}},
			{{Key: "$group", Value: bson.D{
				{Key: fieldID, Value: bson.D{{Key: "c", Value: "$counterId"}, {Key: "r", Value: "$rule"}, {Key: "f", Value: "$field"}}},
				{Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}},
			}}},
		})
		if err != nil {
			return nil, fmt.Errorf("chronos: mongostore: count distinct values of %d buckets: %w", len(ids), err)
		}
		var rows []struct {
			ID struct {
				C string `bson:"c"`
				R string `bson:"r"`
				F string `bson:"f"`
			} `bson:"_id"`
			N int64 `bson:"n"`
		}
		if err := cur.All(ctx, &rows); err != nil {
			return nil, fmt.Errorf("chronos: mongostore: count distinct values of %d buckets: %w", len(ids), err)
		}
		for _, r := range rows {
			out[distinctKey{r.ID.C, r.ID.R, r.ID.F}] = r.N
		}
	}
	return out, nil
}

// PruneCounterBuckets deletes c's buckets of period p that start before
// before: it reads their ids, deletes their distinct values, then the
// buckets, so an interrupted prune leaves buckets that the next one
// finds again.
func (s *Store) PruneCounterBuckets(ctx context.Context, c events.Collection, p projection.Period, before time.Time) (int, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	if _, err := projection.ParsePeriod(string(p)); err != nil {
		return 0, err
	}
	db, analytics, err := s.route(c)
	if err != nil {
		return 0, err
	}
	total := counterID(c, s.countersName(c, db))
	d := s.client.Database(analytics)
	coll := d.Collection(bucketsColl(p))
	cur, err := coll.Find(ctx,
		bson.D{{Key: "totalId", Value: total}, {Key: "start", Value: bson.D{{Key: "$lt", Value: ceilMilli(before)}}}},
		options.Find().SetProjection(bson.D{{Key: fieldID, Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("chronos: mongostore: read %s buckets of %s: %w", p, total, err)
	}
	var rows []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return 0, fmt.Errorf("chronos: mongostore: read %s buckets of %s: %w", p, total, err)
	}
	deleted := 0
	for start := 0; start < len(rows); start += s.chunk {
		ids := make([]string, 0, s.chunk)
		for _, r := range rows[start:min(start+s.chunk, len(rows))] {
			ids = append(ids, r.ID)
		}
		in := bson.D{{Key: "$in", Value: ids}}
		if _, err := d.Collection(uniqueColl).DeleteMany(ctx, bson.D{{Key: "counterId", Value: in}}); err != nil {
			return deleted, fmt.Errorf("chronos: mongostore: delete distinct values of %s buckets of %s: %w", p, total, err)
		}
		res, err := coll.DeleteMany(ctx, bson.D{{Key: fieldID, Value: in}})
		if err != nil {
			return deleted, fmt.Errorf("chronos: mongostore: delete %s buckets of %s: %w", p, total, err)
		}
		deleted += int(res.DeletedCount)
	}
	return deleted, nil
}

// ceilMilli rounds t up to the millisecond, the precision of BSON dates.
func ceilMilli(t time.Time) time.Time {
	if tr := t.Truncate(time.Millisecond); !tr.Equal(t) {
		return tr.Add(time.Millisecond)
	}
	return t
}
