package mongostore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

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
	// Rules holds each counter rule's totals: a document of ruleDoc by
	// rule name, names in ascending order (see rulesField).
	Rules bson.Raw `bson:"rules,omitempty"`
}

// ruleDoc is one rule's totals in a cnt_total document.
type ruleDoc struct {
	Count   int64 `bson:"count"`
	Created int64 `bson:"created"`
	Updated int64 `bson:"updated"`
	Deleted int64 `bson:"deleted"`
}

// rulesField encodes the rules' totals with names in ascending order. The
// whole field is written each time (never $inc on its paths): servers
// differ in where $inc puts a new path, and a rebuild must produce the
// same document, field order included, whatever its batches were.
func rulesField(rules map[string]ruleDoc) (bson.Raw, error) {
	d := make(bson.D, 0, len(rules))
	for _, name := range slices.Sorted(maps.Keys(rules)) {
		d = append(d, bson.E{Key: name, Value: rules[name]})
	}
	raw, err := bson.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("chronos: mongostore: encode rule counters: %w", err)
	}
	return raw, nil
}

// decodeRules reads a cnt_total rules field.
func decodeRules(raw bson.Raw) (map[string]ruleDoc, error) {
	out := make(map[string]ruleDoc)
	if len(raw) == 0 {
		return out, nil
	}
	if err := bson.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("chronos: mongostore: decode rule counters: %w", err)
	}
	return out, nil
}

// uniqueDoc is one distinct value of a rule's countUnique prop in a
// collection: stored once, keyed by (counter, rule, field, value hash), so
// writing it again changes nothing and counting the documents is exact.
type uniqueDoc struct {
	ID        string `bson:"_id"`
	CounterID string `bson:"counterId"`
	Rule      string `bson:"rule"`
	Field     string `bson:"field"`
	Hash      string `bson:"hash"`
	// Value is the canonical text of the value (projection.UniqueValue),
	// for people; it is not read back.
	Value string `bson:"value"`
}

func uniqueID(counter, rule string, u projection.UniqueValue) string {
	return counter + "|rule:" + rule + "|" + u.Hash
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

// count adds the batch's events to the collection's totals and to its
// period buckets (see buckets.go). Creates count as created; updates,
// enrichments and restores as updated; deletes and erasures as deleted.
// Each counter document counts only the events past its own lastSeq, and
// its update is a compare-and-set on the lastSeq read, so an event is
// counted once in each however often it is applied. Rules are evaluated
// once per event, for the totals and the buckets alike.
func (s *Store) count(ctx context.Context, g *collBatch) error {
	coll := s.client.Database(g.analytics).Collection(countersColl)
	id := counterID(g.coll, s.countersName(g.coll, g.db))
	var cur countersDoc
	err := coll.FindOne(ctx, bson.D{{Key: fieldID, Value: id}}).Decode(&cur)
	found := err == nil
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("chronos: mongostore: read counters %s: %w", id, err)
	}
	bk, err := s.readBuckets(ctx, g, id)
	if err != nil {
		return err
	}

	last := uint64(cur.LastSeq)
	var total projection.CounterDelta
	for _, ch := range g.changes {
		in := bk.of(ch.Event.At)
		if ch.Seq <= last && !in.wants(ch.Seq) {
			continue
		}
		t := projection.Tally(ch, s.opts.CounterRules)
		if ch.Seq > last {
			total.Add(&t)
			last = ch.Seq
		}
		in.add(&t)
	}
	if total.Empty() && !bk.changed() {
		return nil // nothing new
	}
	// Distinct values go first: a crash before a counter document's
	// update leaves its lastSeq behind, and the next apply writes the same
	// keyed documents again. Then the buckets, then the totals: each has
	// its own lastSeq, so their order does not matter for exactness.
	uniques := appendUniques(nil, id, total.Uniques)
	for _, b := range bk.all() {
		uniques = appendUniques(uniques, b.doc.ID, b.delta.Uniques)
	}
	if len(uniques) > 0 {
		ucoll := s.client.Database(g.analytics).Collection(uniqueColl)
		if err := s.ensureUniqueIndex(ctx, ucoll); err != nil {
			return err
		}
		if err := s.writeUniques(ctx, ucoll, uniques); err != nil {
			return err
		}
	}
	if err := s.writeBuckets(ctx, g, bk); err != nil {
		return err
	}
	if total.Empty() {
		return nil
	}

	if !found {
		doc := countersDoc{
			ID: id, DBName: s.countersName(g.coll, g.db), Collection: g.coll.Name,
			Created: total.Created, Updated: total.Updated, Deleted: total.Deleted,
			LastAt: total.LastAt, LastSeq: int64(total.LastSeq), LastAtNs: unixNano(total.LastAt),
		}
		if doc.Rules, err = mergeRules(nil, total.Rules); err != nil {
			return err
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
	update, err := counterUpdate(cur.Rules, &total)
	if err != nil {
		return err
	}
	res, err := coll.UpdateOne(ctx, bson.D{{Key: fieldID, Value: id}, {Key: "lastSeq", Value: cur.LastSeq}}, update)
	if err != nil {
		return fmt.Errorf("chronos: mongostore: write counters %s: %w", id, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("%w: %s moved past lastSeq %d", ErrCounterConflict, id, cur.LastSeq)
	}
	return nil
}

// counterUpdate is the update of a counter document whose rules field
// was read as rules: $inc of the totals, $set of lastSeq, lastAt and the
// merged rules. Behind a compare-and-set on lastSeq, the rules read are
// the current ones.
func counterUpdate(rules bson.Raw, d *projection.CounterDelta) (bson.D, error) {
	set := bson.D{{Key: "lastSeq", Value: int64(d.LastSeq)}, {Key: "lastAt", Value: d.LastAt}, {Key: "lastAtNs", Value: unixNano(d.LastAt)}}
	if len(d.Rules) > 0 {
		merged, err := mergeRules(rules, d.Rules)
		if err != nil {
			return nil, err
		}
		set = append(set, bson.E{Key: "rules", Value: merged})
	}
	return bson.D{
		{Key: "$inc", Value: bson.D{{Key: "created", Value: d.Created}, {Key: "updated", Value: d.Updated}, {Key: "deleted", Value: d.Deleted}}},
		{Key: "$set", Value: set},
	}, nil
}

// mergeRules adds delta to the rules field raw (nil: none yet) and
// encodes the result; nil when there is no rule at all.
func mergeRules(raw bson.Raw, delta map[string]projection.RuleCounters) (bson.Raw, error) {
	total, err := decodeRules(raw)
	if err != nil {
		return nil, err
	}
	for name, rd := range delta {
		t := total[name]
		t.Count += rd.Count
		t.Created += rd.Created
		t.Updated += rd.Updated
		t.Deleted += rd.Deleted
		total[name] = t
	}
	if len(total) == 0 {
		return nil, nil
	}
	return rulesField(total)
}

// appendUniques appends the documents of a counter document's distinct
// values.
func appendUniques(docs []uniqueDoc, counter string, us []projection.RuleUnique) []uniqueDoc {
	for _, u := range us {
		uid := uniqueID(counter, u.Rule, u.UniqueValue)
		docs = append(docs, uniqueDoc{ID: uid, CounterID: counter, Rule: u.Rule, Field: u.Field, Hash: u.Hash, Value: u.Value})
	}
	return docs
}

// writeUniques makes sure every document of docs is in cnt_unique. A
// distinct value is usually there already (seen by an earlier batch), so
// the ids are read first (one find on _id per maxIDsPerFind) and only the
// missing documents are inserted, in chunks; a document is the same
// whoever writes it, so a duplicate key means it is there. Upserting
// every value instead costs a lookup per value, which FerretDB does by
// scanning: with day, week and month buckets (four counter documents per
// value) that made counting 2.5x slower there, measured. As FerretDB
// stops a write command at its first error, a chunk that met a duplicate
// is read again and its missing documents sent again.
func (s *Store) writeUniques(ctx context.Context, coll *mongo.Collection, docs []uniqueDoc) error {
	byID := make(map[string]uniqueDoc, len(docs))
	var missing []string
	for start := 0; start < len(docs); start += maxIDsPerFind {
		ids := make([]string, 0, maxIDsPerFind)
		for _, d := range docs[start:min(start+maxIDsPerFind, len(docs))] {
			byID[d.ID] = d
			ids = append(ids, d.ID)
		}
		there, err := existingIDs(ctx, coll, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if !there[id] {
				missing = append(missing, id)
			}
		}
	}
	for start := 0; start < len(missing); start += s.chunk {
		pending := missing[start:min(start+s.chunk, len(missing))]
		for round := 0; len(pending) > 0; round++ {
			if round > s.chunk {
				return fmt.Errorf("chronos: mongostore: %d distinct values of %s.%s still missing after %d rounds",
					len(pending), coll.Database().Name(), coll.Name(), round)
			}
			models := make([]mongo.WriteModel, len(pending))
			for i, id := range pending {
				models[i] = mongo.NewInsertOneModel().SetDocument(byID[id])
			}
			dup, err := s.bulk(ctx, coll, models, true)
			if err != nil {
				return err
			}
			if !dup {
				break
			}
			there, err := existingIDs(ctx, coll, pending)
			if err != nil {
				return err
			}
			pending = slices.DeleteFunc(slices.Clone(pending), func(id string) bool { return there[id] })
		}
	}
	return nil
}

// maxIDsPerFind bounds the $in of one find on _id.
const maxIDsPerFind = 1000

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
	id := counterID(c, s.countersName(c, db))
	var d countersDoc
	err = s.client.Database(analytics).Collection(countersColl).FindOne(ctx, bson.D{{Key: fieldID, Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return &projection.Counters{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chronos: mongostore: read counters %s: %w", id, err)
	}
	out := &projection.Counters{
		Created: d.Created, Updated: d.Updated, Deleted: d.Deleted,
		LastAt: exactTime(d.LastAt, d.LastAtNs), LastSeq: uint64(d.LastSeq),
	}
	rules, err := decodeRules(d.Rules)
	if err != nil || len(rules) == 0 {
		return out, err
	}
	out.Rules = make(map[string]projection.RuleCounters, len(rules))
	ucoll := s.client.Database(analytics).Collection(uniqueColl)
	for name, rd := range rules {
		rc := projection.RuleCounters{Count: rd.Count, Created: rd.Created, Updated: rd.Updated, Deleted: rd.Deleted}
		for _, f := range s.uniqueFields(name) {
			n, err := ucoll.CountDocuments(ctx, bson.D{{Key: "counterId", Value: id}, {Key: "rule", Value: name}, {Key: "field", Value: f}})
			if err != nil {
				return nil, fmt.Errorf("chronos: mongostore: count distinct %s of rule %s in %s: %w", f, name, id, err)
			}
			if rc.Unique == nil {
				rc.Unique = make(map[string]int64)
			}
			rc.Unique[f] = n
		}
		out.Rules[name] = rc
	}
	return out, nil
}

// countersName returns the database name counter documents record for c
// (Options.CountersName), db when not set.
func (s *Store) countersName(c events.Collection, db string) string {
	if s.opts.CountersName != nil {
		if name := s.opts.CountersName(c); name != "" {
			return name
		}
	}
	return db
}

// uniqueFields returns the countUnique props of the configured rule name.
func (s *Store) uniqueFields(name string) []string {
	for _, r := range s.opts.CounterRules {
		if r.Name == name {
			return r.CountUnique
		}
	}
	return nil
}

// ensureUniqueIndex indexes cnt_unique on (counterId, rule, field), which
// distinct counts filter on, once per process and database.
func (s *Store) ensureUniqueIndex(ctx context.Context, coll *mongo.Collection) error {
	return s.ensureIndex(ctx, coll, bson.D{{Key: "counterId", Value: 1}, {Key: "rule", Value: 1}, {Key: "field", Value: 1}}, "counterId_1_rule_1_field_1")
}

// ensureIndex creates the index keys (named name) of a counters
// collection, once per process and collection: the collection's only
// index besides _id, one createIndexes each (see ensureIndexes).
func (s *Store) ensureIndex(ctx context.Context, coll *mongo.Collection, keys bson.D, name string) error {
	key := coll.Database().Name() + "." + coll.Name()
	s.mu.Lock()
	done := s.mu.indexed[key]
	s.mu.Unlock()
	if done {
		return nil
	}
	m := mongo.IndexModel{Keys: keys, Options: options.Index().SetName(name)}
	if _, err := coll.Indexes().CreateOne(ctx, m); err != nil {
		return fmt.Errorf("chronos: mongostore: create index of %s: %w", key, err)
	}
	s.mu.Lock()
	s.mu.indexed[key] = true
	s.mu.Unlock()
	return nil
}
