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

// count adds the batch's events to the collection's totals. Creates count
// as created; updates, enrichments and restores as updated; deletes and
// erasures as deleted. Only events past the document's lastSeq are
// counted, and the update is a compare-and-set on the lastSeq read, so an
// event is counted once however often it is applied.
func (s *Store) count(ctx context.Context, g *collBatch) error {
	coll := s.client.Database(g.analytics).Collection(countersColl)
	id := counterID(g.coll, s.countersName(g.coll, g.db))
	var cur countersDoc
	err := coll.FindOne(ctx, bson.D{{Key: fieldID, Value: id}}).Decode(&cur)
	found := err == nil
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("chronos: mongostore: read counters %s: %w", id, err)
	}

	last := cur.LastSeq
	var created, updated, deleted int64
	var lastAt time.Time
	rules := make(map[string]ruleDoc)
	var uniques []mongo.WriteModel
	seen := make(map[string]bool)
	for _, ch := range g.changes {
		seq := int64(ch.Seq) // checked by group
		if seq <= last {
			continue
		}
		last, lastAt = seq, ch.Event.At
		class := projection.Class(ch.Event.Op)
		switch class {
		case projection.RuleOnCreate:
			created++
		case projection.RuleOnDelete:
			deleted++
		default:
			updated++
		}
		for i := range s.opts.CounterRules {
			r := &s.opts.CounterRules[i]
			if !r.Match(ch.Event) {
				continue
			}
			rd := rules[r.Name]
			rd.Count++
			switch class {
			case projection.RuleOnCreate:
				rd.Created++
			case projection.RuleOnDelete:
				rd.Deleted++
			default:
				rd.Updated++
			}
			rules[r.Name] = rd
			for _, u := range r.Uniques(ch.Event) {
				uid := uniqueID(id, r.Name, u)
				if seen[uid] {
					continue
				}
				seen[uid] = true
				uniques = append(uniques, mongo.NewReplaceOneModel().
					SetFilter(bson.D{{Key: fieldID, Value: uid}}).
					SetReplacement(uniqueDoc{ID: uid, CounterID: id, Rule: r.Name, Field: u.Field, Hash: u.Hash, Value: u.Value}).
					SetUpsert(true))
			}
		}
	}
	if last == cur.LastSeq {
		return nil // nothing new
	}
	// Distinct values go first: a crash before the totals leaves lastSeq
	// behind, and the next apply writes the same keyed documents again.
	if len(uniques) > 0 {
		ucoll := s.client.Database(g.analytics).Collection(uniqueColl)
		if err := s.ensureUniqueIndex(ctx, ucoll); err != nil {
			return err
		}
		if _, err := s.bulk(ctx, ucoll, uniques, false); err != nil {
			return err
		}
	}

	if !found {
		doc := countersDoc{
			ID: id, DBName: s.countersName(g.coll, g.db), Collection: g.coll.Name,
			Created: created, Updated: updated, Deleted: deleted,
			LastAt: lastAt, LastSeq: last, LastAtNs: unixNano(lastAt),
		}
		if len(rules) > 0 {
			if doc.Rules, err = rulesField(rules); err != nil {
				return err
			}
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

	set := bson.D{{Key: "lastSeq", Value: last}, {Key: "lastAt", Value: lastAt}, {Key: "lastAtNs", Value: unixNano(lastAt)}}
	if len(rules) > 0 {
		// The CAS on lastSeq makes the totals read the current ones.
		total, err := decodeRules(cur.Rules)
		if err != nil {
			return err
		}
		for name, rd := range rules {
			t := total[name]
			t.Count += rd.Count
			t.Created += rd.Created
			t.Updated += rd.Updated
			t.Deleted += rd.Deleted
			total[name] = t
		}
		raw, err := rulesField(total)
		if err != nil {
			return err
		}
		set = append(set, bson.E{Key: "rules", Value: raw})
	}
	res, err := coll.UpdateOne(ctx,
		bson.D{{Key: fieldID, Value: id}, {Key: "lastSeq", Value: cur.LastSeq}},
		bson.D{
			{Key: "$inc", Value: bson.D{{Key: "created", Value: created}, {Key: "updated", Value: updated}, {Key: "deleted", Value: deleted}}},
			{Key: "$set", Value: set},
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
	key := coll.Database().Name() + "." + coll.Name()
	s.mu.Lock()
	done := s.mu.indexed[key]
	s.mu.Unlock()
	if done {
		return nil
	}
	m := mongo.IndexModel{
		Keys:    bson.D{{Key: "counterId", Value: 1}, {Key: "rule", Value: 1}, {Key: "field", Value: 1}},
		Options: options.Index().SetName("counterId_1_rule_1_field_1"),
	}
	if _, err := coll.Indexes().CreateOne(ctx, m); err != nil {
		return fmt.Errorf("chronos: mongostore: create index of %s: %w", key, err)
	}
	s.mu.Lock()
	s.mu.indexed[key] = true
	s.mu.Unlock()
	return nil
}
