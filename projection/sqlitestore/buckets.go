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

// bucketState is one period bucket a batch touches: the last sequence it
// counted (as read, then as the batch adds) and what the batch adds.
type bucketState struct {
	period projection.Period
	key    string
	start  int64 // Unix nanoseconds
	last   int64
	delta  projection.CounterDelta
}

// eventBuckets are the buckets of one event, one per projection.Periods.
type eventBuckets []*bucketState

// wants reports whether some bucket has not counted seq yet.
func (in eventBuckets) wants(seq int64) bool {
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
		if int64(t.Seq) > b.last {
			b.delta.Add(t)
			b.last = int64(t.Seq)
		}
	}
}

type bucketKey struct {
	period projection.Period
	start  int64
}

// bucketSet holds the buckets a collection's share of a batch touches.
type bucketSet struct {
	byKey map[bucketKey]*bucketState
	order []*bucketState
	// The last day looked up: events of one day share its week and month.
	dayStart, dayEnd time.Time
	day              eventBuckets
}

func (bs *bucketSet) of(at time.Time) eventBuckets {
	if !at.Before(bs.dayStart) && at.Before(bs.dayEnd) {
		return bs.day
	}
	in := make(eventBuckets, len(projection.Periods))
	for i, p := range projection.Periods {
		b := projection.BucketOf(p, at)
		k := bucketKey{p, nanos(b.Start)}
		st := bs.byKey[k]
		if st == nil {
			st = &bucketState{period: p, key: b.Key, start: k.start}
			bs.byKey[k] = st
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

// readBuckets returns the buckets of g's events with the last sequence
// each counted (0 for a new one).
func (s *Store) readBuckets(ctx context.Context, cn int64, g *collBatch) (*bucketSet, error) {
	bs := &bucketSet{byKey: make(map[bucketKey]*bucketState)}
	for _, ch := range g.changes {
		bs.of(ch.Event.At)
	}
	sel, err := s.wstmt(ctx, `SELECT last_seq FROM `+bucketTable(cn)+` WHERE db = ? AND coll = ? AND period = ? AND start_ns = ?`)
	if err != nil {
		return nil, err
	}
	for _, b := range bs.order {
		err := sel.QueryRowContext(ctx, g.db, g.coll.Name, string(b.period), b.start).Scan(&b.last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("chronos: sqlitestore: read %s bucket %s of %s: %w", b.period, b.key, g.coll, err)
		}
	}
	return bs, nil
}

// writeBuckets adds each bucket's delta to its rows: totals, rules and
// distinct values.
func (s *Store) writeBuckets(ctx context.Context, cn int64, g *collBatch, bs *bucketSet) error {
	var upBucket, upRule, insUniq *sql.Stmt
	var err error
	for _, b := range bs.order {
		d := &b.delta
		if d.Empty() {
			continue
		}
		if upBucket == nil {
			upBucket, err = s.wstmt(ctx, `INSERT INTO `+bucketTable(cn)+` (db, coll, period, start_ns, key, created, updated, deleted, last_seq, last_ns)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (db, coll, period, start_ns) DO UPDATE SET created = created + excluded.created, updated = updated + excluded.updated,
	deleted = deleted + excluded.deleted, last_seq = excluded.last_seq, last_ns = excluded.last_ns`)
			if err != nil {
				return err
			}
		}
		if _, err := upBucket.ExecContext(ctx, g.db, g.coll.Name, string(b.period), b.start, b.key,
			d.Created, d.Updated, d.Deleted, int64(d.LastSeq), nanos(d.LastAt)); err != nil {
			return fmt.Errorf("chronos: sqlitestore: write %s bucket %s of %s: %w", b.period, b.key, g.coll, err)
		}
		if len(d.Rules) > 0 && upRule == nil {
			upRule, err = s.wstmt(ctx, `INSERT INTO `+bRulesTable(cn)+` (db, coll, period, start_ns, rule, count, created, updated, deleted)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (db, coll, period, start_ns, rule) DO UPDATE SET count = count + excluded.count, created = created + excluded.created,
	updated = updated + excluded.updated, deleted = deleted + excluded.deleted`)
			if err != nil {
				return err
			}
		}
		for name, rc := range d.Rules {
			if _, err := upRule.ExecContext(ctx, g.db, g.coll.Name, string(b.period), b.start, name,
				rc.Count, rc.Created, rc.Updated, rc.Deleted); err != nil {
				return fmt.Errorf("chronos: sqlitestore: write rule counters of %s bucket %s of %s: %w", b.period, b.key, g.coll, err)
			}
		}
		if len(d.Uniques) > 0 && insUniq == nil {
			insUniq, err = s.wstmt(ctx, `INSERT INTO `+bUniqTable(cn)+` (db, coll, period, start_ns, rule, field, hash, value)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
			if err != nil {
				return err
			}
		}
		for _, u := range d.Uniques {
			if _, err := insUniq.ExecContext(ctx, g.db, g.coll.Name, string(b.period), b.start, u.Rule, u.Field, u.Hash, u.Value); err != nil {
				return fmt.Errorf("chronos: sqlitestore: write distinct values of %s bucket %s of %s: %w", b.period, b.key, g.coll, err)
			}
		}
	}
	return nil
}

// CounterBuckets returns c's buckets of period p that start in [from,
// to), oldest first: one range read of the primary key, and for rules one
// of the rules' and one grouped count of the distinct values.
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
	cn, ok, err := s.lookup(ctx, catalogKey{kindCounters, analytics, ""})
	if err != nil || !ok {
		return nil, err
	}
	lo, hi := nanos(from), nanos(to)
	st, err := s.stmt(ctx, `SELECT start_ns, key, created, updated, deleted, last_seq, last_ns FROM `+bucketTable(cn)+`
WHERE db = ? AND coll = ? AND period = ? AND start_ns >= ? AND start_ns < ? ORDER BY start_ns`)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, db, c.Name, string(p), lo, hi)
	if err != nil {
		return nil, fmt.Errorf("chronos: sqlitestore: read %s buckets of %s: %w", p, c, err)
	}
	defer rows.Close()
	var out []projection.CounterBucket
	at := make(map[int64]int)
	for rows.Next() {
		var b projection.CounterBucket
		var start, lastSeq, lastNs int64
		if err := rows.Scan(&start, &b.Key, &b.Created, &b.Updated, &b.Deleted, &lastSeq, &lastNs); err != nil {
			return nil, fmt.Errorf("chronos: sqlitestore: read %s buckets of %s: %w", p, c, err)
		}
		b.Period, b.Start = p, time.Unix(0, start).UTC()
		b.End = p.Add(b.Start, 1)
		b.LastSeq, b.LastAt = uint64(lastSeq), time.Unix(0, lastNs).UTC()
		at[start] = len(out)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("chronos: sqlitestore: read %s buckets of %s: %w", p, c, err)
	}
	if len(out) == 0 || len(s.opts.CounterRules) == 0 {
		return out, nil
	}
	if err := s.bucketRules(ctx, cn, db, c, p, lo, hi, out, at); err != nil {
		return nil, err
	}
	return out, nil
}

// bucketRules fills the rule counters of the buckets out (at maps a
// start to its index), with a distinct count for each countUnique prop
// of the configured rules.
func (s *Store) bucketRules(ctx context.Context, cn int64, db string, c events.Collection, p projection.Period, lo, hi int64,
	out []projection.CounterBucket, at map[int64]int) error {
	st, err := s.stmt(ctx, `SELECT start_ns, rule, count, created, updated, deleted FROM `+bRulesTable(cn)+`
WHERE db = ? AND coll = ? AND period = ? AND start_ns >= ? AND start_ns < ?`)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, db, c.Name, string(p), lo, hi)
	if err != nil {
		return fmt.Errorf("chronos: sqlitestore: read rule counters of %s buckets of %s: %w", p, c, err)
	}
	defer rows.Close()
	for rows.Next() {
		var start int64
		var name string
		var rc projection.RuleCounters
		if err := rows.Scan(&start, &name, &rc.Count, &rc.Created, &rc.Updated, &rc.Deleted); err != nil {
			return fmt.Errorf("chronos: sqlitestore: read rule counters of %s buckets of %s: %w", p, c, err)
		}
		i, ok := at[start]
		if !ok {
			continue // written between the two reads
		}
		for _, r := range s.opts.CounterRules {
			if r.Name == name && len(r.CountUnique) > 0 {
				rc.Unique = make(map[string]int64, len(r.CountUnique))
				for _, f := range r.CountUnique {
					rc.Unique[f] = 0
				}
			}
		}
		if out[i].Rules == nil {
			out[i].Rules = make(map[string]projection.RuleCounters)
		}
		out[i].Rules[name] = rc
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("chronos: sqlitestore: read rule counters of %s buckets of %s: %w", p, c, err)
	}
	ust, err := s.stmt(ctx, `SELECT start_ns, rule, field, count(*) FROM `+bUniqTable(cn)+`
WHERE db = ? AND coll = ? AND period = ? AND start_ns >= ? AND start_ns < ? GROUP BY start_ns, rule, field`)
	if err != nil {
		return err
	}
	urows, err := ust.QueryContext(ctx, db, c.Name, string(p), lo, hi)
	if err != nil {
		return fmt.Errorf("chronos: sqlitestore: read distinct counts of %s buckets of %s: %w", p, c, err)
	}
	defer urows.Close()
	for urows.Next() {
		var start, n int64
		var rule, field string
		if err := urows.Scan(&start, &rule, &field, &n); err != nil {
			return fmt.Errorf("chronos: sqlitestore: read distinct counts of %s buckets of %s: %w", p, c, err)
		}
		i, ok := at[start]
		if !ok {
			continue
		}
		if rc, ok := out[i].Rules[rule]; ok && rc.Unique != nil {
			if _, ok := rc.Unique[field]; ok {
				rc.Unique[field] = n
			}
		}
	}
	return urows.Err()
}

// PruneCounterBuckets deletes c's buckets of period p that start before
// before, with their rules and distinct values, in one transaction.
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
	cn, ok, err := s.lookup(ctx, catalogKey{kindCounters, analytics, ""})
	if err != nil || !ok {
		return 0, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.wconn.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("chronos: sqlitestore: prune %s buckets of %s: %w", p, c, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	var n int64
	for _, table := range []string{bUniqTable(cn), bRulesTable(cn), bucketTable(cn)} {
		res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE db = ? AND coll = ? AND period = ? AND start_ns < ?`,
			db, c.Name, string(p), nanos(before))
		if err != nil {
			return 0, fmt.Errorf("chronos: sqlitestore: prune %s buckets of %s: %w", p, c, err)
		}
		if table == bucketTable(cn) {
			if n, err = res.RowsAffected(); err != nil {
				return 0, fmt.Errorf("chronos: sqlitestore: prune %s buckets of %s: %w", p, c, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("chronos: sqlitestore: prune %s buckets of %s: %w", p, c, err)
	}
	return int(n), nil
}

// upgradeCounters creates the tables of countersDDL that files written
// by an older version lack (the period buckets), so that reads find them
// before the first write of this process ensures them.
func (s *Store) upgradeCounters(ctx context.Context) error {
	rows, err := s.wconn.QueryContext(ctx, `SELECT n FROM catalog WHERE kind = ?`, kindCounters)
	if err != nil {
		return fmt.Errorf("chronos: sqlitestore: read catalog: %w", err)
	}
	var ns []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("chronos: sqlitestore: read catalog: %w", err)
		}
		ns = append(ns, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("chronos: sqlitestore: read catalog: %w", err)
	}
	for _, n := range ns {
		for _, q := range countersDDL(n) {
			if _, err := s.wconn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("chronos: sqlitestore: upgrade counters tables c%d: %w", n, err)
			}
		}
	}
	return nil
}
