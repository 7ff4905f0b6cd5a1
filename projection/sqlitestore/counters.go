package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// count adds the batch's events past the collection's last counted
// sequence to its totals: creates as created; updates, enrichments and
// restores as updated; deletes and erasures as deleted; and each event to
// its period buckets past their own last_seq (see buckets.go). Rules are
// evaluated once per event. It runs in the batch's transaction, on the
// one writer, so the reads of last_seq and the writes cannot interleave
// with another batch.
func (s *Store) count(ctx context.Context, cn int64, g *collBatch) error {
	table := countersTable(cn)
	sel, err := s.wstmt(ctx, `SELECT last_seq FROM `+table+` WHERE db = ? AND coll = ?`)
	if err != nil {
		return err
	}
	var last int64
	if err := sel.QueryRowContext(ctx, g.db, g.coll.Name).Scan(&last); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("chronos: sqlitestore: read counters of %s: %w", g.coll, err)
	}
	bk, err := s.readBuckets(ctx, cn, g)
	if err != nil {
		return err
	}
	var total projection.CounterDelta
	for _, ch := range g.changes {
		seq := int64(ch.Seq) // checked by group
		in := bk.of(ch.Event.At)
		if seq <= last && !in.wants(seq) {
			continue
		}
		t := projection.Tally(ch, s.opts.CounterRules)
		if seq > last {
			total.Add(&t)
			last = seq
		}
		in.add(&t)
	}
	if err := s.writeBuckets(ctx, cn, g, bk); err != nil {
		return err
	}
	if total.Empty() {
		return nil
	}
	if len(total.Rules) > 0 {
		upRule, err := s.wstmt(ctx, `INSERT INTO `+rulesTable(cn)+` (db, coll, rule, count, created, updated, deleted) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (db, coll, rule) DO UPDATE SET count = count + excluded.count, created = created + excluded.created,
	updated = updated + excluded.updated, deleted = deleted + excluded.deleted`)
		if err != nil {
			return err
		}
		for name, rc := range total.Rules {
			if _, err := upRule.ExecContext(ctx, g.db, g.coll.Name, name, rc.Count, rc.Created, rc.Updated, rc.Deleted); err != nil {
				return fmt.Errorf("chronos: sqlitestore: write rule counters of %s: %w", g.coll, err)
			}
		}
	}
	if len(total.Uniques) > 0 {
		insUniq, err := s.wstmt(ctx, `INSERT INTO `+uniqTable(cn)+` (db, coll, rule, field, hash, value) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		for _, u := range total.Uniques {
			if _, err := insUniq.ExecContext(ctx, g.db, g.coll.Name, u.Rule, u.Field, u.Hash, u.Value); err != nil {
				return fmt.Errorf("chronos: sqlitestore: write distinct values of %s: %w", g.coll, err)
			}
		}
	}
	up, err := s.wstmt(ctx, `INSERT INTO `+table+` (db, coll, created, updated, deleted, last_seq, last_ns) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (db, coll) DO UPDATE SET created = created + excluded.created, updated = updated + excluded.updated,
	deleted = deleted + excluded.deleted, last_seq = excluded.last_seq, last_ns = excluded.last_ns`)
	if err != nil {
		return err
	}
	if _, err := up.ExecContext(ctx, g.db, g.coll.Name, total.Created, total.Updated, total.Deleted, int64(total.LastSeq), nanos(total.LastAt)); err != nil {
		return fmt.Errorf("chronos: sqlitestore: write counters of %s: %w", g.coll, err)
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
	cn, ok, err := s.lookup(ctx, catalogKey{kindCounters, analytics, ""})
	if err != nil || !ok {
		return &projection.Counters{}, err
	}
	st, err := s.stmt(ctx, `SELECT created, updated, deleted, last_seq, last_ns FROM `+countersTable(cn)+` WHERE db = ? AND coll = ?`)
	if err != nil {
		return nil, err
	}
	var n projection.Counters
	var lastSeq, lastNs int64
	err = st.QueryRowContext(ctx, db, c.Name).Scan(&n.Created, &n.Updated, &n.Deleted, &lastSeq, &lastNs)
	if errors.Is(err, sql.ErrNoRows) {
		return &projection.Counters{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chronos: sqlitestore: read counters of %s: %w", c, err)
	}
	n.LastSeq, n.LastAt = uint64(lastSeq), time.Unix(0, lastNs).UTC()
	if len(s.opts.CounterRules) > 0 {
		if n.Rules, err = s.ruleCounters(ctx, cn, db, c); err != nil {
			return nil, err
		}
	}
	return &n, nil
}

// ruleCounters reads the rule totals of a collection, with a distinct
// count for each countUnique prop of the configured rules.
func (s *Store) ruleCounters(ctx context.Context, cn int64, db string, c events.Collection) (map[string]projection.RuleCounters, error) {
	st, err := s.stmt(ctx, `SELECT rule, count, created, updated, deleted FROM `+rulesTable(cn)+` WHERE db = ? AND coll = ?`)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, db, c.Name)
	if err != nil {
		return nil, fmt.Errorf("chronos: sqlitestore: read rule counters of %s: %w", c, err)
	}
	defer rows.Close()
	out := make(map[string]projection.RuleCounters)
	for rows.Next() {
		var name string
		var rc projection.RuleCounters
		if err := rows.Scan(&name, &rc.Count, &rc.Created, &rc.Updated, &rc.Deleted); err != nil {
			return nil, fmt.Errorf("chronos: sqlitestore: read rule counters of %s: %w", c, err)
		}
		for _, r := range s.opts.CounterRules {
			if r.Name == name && len(r.CountUnique) > 0 {
				rc.Unique = make(map[string]int64, len(r.CountUnique))
				for _, f := range r.CountUnique {
					rc.Unique[f] = 0
				}
			}
		}
		out[name] = rc
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("chronos: sqlitestore: read rule counters of %s: %w", c, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	ust, err := s.stmt(ctx, `SELECT rule, field, count(*) FROM `+uniqTable(cn)+` WHERE db = ? AND coll = ? GROUP BY rule, field`)
	if err != nil {
		return nil, err
	}
	urows, err := ust.QueryContext(ctx, db, c.Name)
	if err != nil {
		return nil, fmt.Errorf("chronos: sqlitestore: read distinct counts of %s: %w", c, err)
	}
	defer urows.Close()
	for urows.Next() {
		var rule, field string
		var n int64
		if err := urows.Scan(&rule, &field, &n); err != nil {
			return nil, fmt.Errorf("chronos: sqlitestore: read distinct counts of %s: %w", c, err)
		}
		if rc, ok := out[rule]; ok && rc.Unique != nil {
			if _, ok := rc.Unique[field]; ok {
				rc.Unique[field] = n
			}
		}
	}
	return out, urows.Err()
}
