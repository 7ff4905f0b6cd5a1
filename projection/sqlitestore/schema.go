package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/chronos-go/chronos/events"
)

// catalogDDL creates the catalog: the table number of each (database,
// collection) and of each analytics database.
const catalogDDL = `CREATE TABLE IF NOT EXISTS catalog (
	n    INTEGER PRIMARY KEY,
	kind TEXT NOT NULL,
	db   TEXT NOT NULL,
	coll TEXT NOT NULL,
	UNIQUE (kind, db, coll)
)`

// Catalog kinds.
const (
	kindTables   = "t" // t<n>_head and t<n>_ver of (db, coll)
	kindCounters = "c" // c<n>_cnt of an analytics db (coll "")
)

type catalogKey struct{ kind, db, coll string }

// tableSetDDL returns the statements creating table set n.
func tableSetDDL(n int64) []string {
	t := "t" + strconv.FormatInt(n, 10)
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + t + `_head (
	id          TEXT NOT NULL UNIQUE,
	ov          INTEGER NOT NULL,
	seq         INTEGER NOT NULL,
	deleted     INTEGER NOT NULL,
	inserted_ms INTEGER NOT NULL,
	updated_ms  INTEGER NOT NULL,
	deleted_ms  INTEGER,
	data        TEXT,
	meta        TEXT,
	fdoc        TEXT,
	sys         TEXT NOT NULL
)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_head_updated ON ` + t + `_head (updated_ms)`,
		`CREATE TABLE IF NOT EXISTS ` + t + `_ver (
	item  TEXT NOT NULL,
	ov    INTEGER NOT NULL,
	at_ns INTEGER NOT NULL,
	meta  TEXT,
	sys   TEXT NOT NULL,
	PRIMARY KEY (item, ov)
) WITHOUT ROWID`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_ver_at ON ` + t + `_ver (item, at_ns)`,
	}
}

// propIndexDDL returns the statement creating the index of indexed prop
// p on table set n: on the JSON type and value the filters read, so an
// equality or a range on the prop (the scalar branch, and the array
// branch by type) is an index search.
func propIndexDDL(n int64, p string) string {
	t := "t" + strconv.FormatInt(n, 10)
	return `CREATE INDEX IF NOT EXISTS ` + t + `_head_p_` + hex.EncodeToString([]byte(p)) + ` ON ` + t + `_head (` +
		typeExpr(p, true) + `, ` + valueExpr(p, true) + `)`
}

// propSortIndexDDL returns the statement creating the sort index of
// indexed prop p on table set n: on the very expressions ORDER BY uses
// for the prop (rankExpr, sortValueExpr), so a page sorted by the prop
// walks the index and stops after the page instead of sorting every
// match (SQLite sorts ties on _id in a small temporary b-tree).
func propSortIndexDDL(n int64, p string) string {
	t := "t" + strconv.FormatInt(n, 10)
	return `CREATE INDEX IF NOT EXISTS ` + t + `_head_s_` + hex.EncodeToString([]byte(p)) + ` ON ` + t + `_head (` +
		rankExpr(typeExpr(p, true)) + `, ` + sortValueExpr(valueExpr(p, true)) + `)`
}

func countersDDL(n int64) []string {
	c := "c" + strconv.FormatInt(n, 10)
	return []string{`CREATE TABLE IF NOT EXISTS ` + c + `_cnt (
	db       TEXT NOT NULL,
	coll     TEXT NOT NULL,
	created  INTEGER NOT NULL,
	updated  INTEGER NOT NULL,
	deleted  INTEGER NOT NULL,
	last_seq INTEGER NOT NULL,
	last_ns  INTEGER NOT NULL,
	PRIMARY KEY (db, coll)
) WITHOUT ROWID`,
		`CREATE TABLE IF NOT EXISTS ` + c + `_rules (
	db      TEXT NOT NULL,
	coll    TEXT NOT NULL,
	rule    TEXT NOT NULL,
	count   INTEGER NOT NULL,
	created INTEGER NOT NULL,
	updated INTEGER NOT NULL,
	deleted INTEGER NOT NULL,
	PRIMARY KEY (db, coll, rule)
) WITHOUT ROWID`,
		`CREATE TABLE IF NOT EXISTS ` + c + `_uniq (
	db    TEXT NOT NULL,
	coll  TEXT NOT NULL,
	rule  TEXT NOT NULL,
	field TEXT NOT NULL,
	hash  TEXT NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY (db, coll, rule, field, hash)
) WITHOUT ROWID`,
		// Period buckets (buckets.go): the same three tables per bucket,
		// keyed by (period, start_ns) after (db, coll), which reads and
		// pruning scan in order.
		`CREATE TABLE IF NOT EXISTS ` + c + `_bkt (
	db       TEXT NOT NULL,
	coll     TEXT NOT NULL,
	period   TEXT NOT NULL,
	start_ns INTEGER NOT NULL,
	key      TEXT NOT NULL,
	created  INTEGER NOT NULL,
	updated  INTEGER NOT NULL,
	deleted  INTEGER NOT NULL,
	last_seq INTEGER NOT NULL,
	last_ns  INTEGER NOT NULL,
	PRIMARY KEY (db, coll, period, start_ns)
) WITHOUT ROWID`,
		`CREATE TABLE IF NOT EXISTS ` + c + `_brules (
	db       TEXT NOT NULL,
	coll     TEXT NOT NULL,
	period   TEXT NOT NULL,
	start_ns INTEGER NOT NULL,
	rule     TEXT NOT NULL,
	count    INTEGER NOT NULL,
	created  INTEGER NOT NULL,
	updated  INTEGER NOT NULL,
	deleted  INTEGER NOT NULL,
	PRIMARY KEY (db, coll, period, start_ns, rule)
) WITHOUT ROWID`,
		`CREATE TABLE IF NOT EXISTS ` + c + `_buniq (
	db       TEXT NOT NULL,
	coll     TEXT NOT NULL,
	period   TEXT NOT NULL,
	start_ns INTEGER NOT NULL,
	rule     TEXT NOT NULL,
	field    TEXT NOT NULL,
	hash     TEXT NOT NULL,
	value    TEXT NOT NULL,
	PRIMARY KEY (db, coll, period, start_ns, rule, field, hash)
) WITHOUT ROWID`,
	}
}

func headTable(n int64) string     { return "t" + strconv.FormatInt(n, 10) + "_head" }
func verTable(n int64) string      { return "t" + strconv.FormatInt(n, 10) + "_ver" }
func countersTable(n int64) string { return "c" + strconv.FormatInt(n, 10) + "_cnt" }
func rulesTable(n int64) string    { return "c" + strconv.FormatInt(n, 10) + "_rules" }
func uniqTable(n int64) string     { return "c" + strconv.FormatInt(n, 10) + "_uniq" }
func bucketTable(n int64) string   { return "c" + strconv.FormatInt(n, 10) + "_bkt" }
func bRulesTable(n int64) string   { return "c" + strconv.FormatInt(n, 10) + "_brules" }
func bUniqTable(n int64) string    { return "c" + strconv.FormatInt(n, 10) + "_buniq" }

// route returns the database of c's heads and versions and of its
// counters.
func (s *Store) route(c events.Collection) (db, analytics string, err error) {
	db, analytics = s.opts.Database(c), s.opts.AnalyticsDatabase(c)
	if db == "" || analytics == "" {
		return "", "", fmt.Errorf("%w: no database for %s", ErrInvalidOptions, c)
	}
	return db, analytics, nil
}

// lookup returns the table number of key from the cache or, for readers,
// the catalog; ok is false when it does not exist.
func (s *Store) lookup(ctx context.Context, key catalogKey) (n int64, ok bool, err error) {
	s.mu.Lock()
	n, ok = s.mu.tables[key]
	s.mu.Unlock()
	if ok {
		return n, true, nil
	}
	st, err := s.stmt(ctx, `SELECT n FROM catalog WHERE kind = ? AND db = ? AND coll = ?`)
	if err != nil {
		return 0, false, err
	}
	err = st.QueryRowContext(ctx, key.kind, key.db, key.coll).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("chronos: sqlitestore: read catalog: %w", err)
	}
	// Tables are created in the transaction that adds the catalog row, so
	// a row read here names tables that exist.
	s.mu.Lock()
	s.mu.tables[key] = n
	s.mu.Unlock()
	return n, true, nil
}

// tables returns the table set of c for reads; ok is false when nothing
// of c was ever applied.
func (s *Store) tables(ctx context.Context, c events.Collection) (n int64, ok bool, err error) {
	if err := c.Validate(); err != nil {
		return 0, false, err
	}
	db, _, err := s.route(c)
	if err != nil {
		return 0, false, err
	}
	return s.lookup(ctx, catalogKey{kindTables, db, c.Name})
}

// ensure returns the table number of key inside the writer's transaction
// tx, creating the catalog row and the tables when needed. props are the
// indexed props of a table set. created lists what the transaction added
// to the catalog (to be cached after commit).
func (s *Store) ensure(ctx context.Context, key catalogKey, props []string, created map[catalogKey]int64) (int64, error) {
	s.mu.Lock()
	n, ok := s.mu.tables[key]
	ready := ok && s.mu.ready[n]
	s.mu.Unlock()
	if ready {
		return n, nil
	}
	if m, ok := created[key]; ok {
		return m, nil
	}
	if !ok {
		err := s.wconn.QueryRowContext(ctx, `SELECT n FROM catalog WHERE kind = ? AND db = ? AND coll = ?`, key.kind, key.db, key.coll).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			res, err := s.wconn.ExecContext(ctx, `INSERT INTO catalog (kind, db, coll) VALUES (?, ?, ?)`, key.kind, key.db, key.coll)
			if err != nil {
				return 0, fmt.Errorf("chronos: sqlitestore: write catalog: %w", err)
			}
			if n, err = res.LastInsertId(); err != nil {
				return 0, fmt.Errorf("chronos: sqlitestore: write catalog: %w", err)
			}
		} else if err != nil {
			return 0, fmt.Errorf("chronos: sqlitestore: read catalog: %w", err)
		}
	}
	var ddl []string
	if key.kind == kindTables {
		ddl = tableSetDDL(n)
		seen := make(map[string]bool)
		for _, p := range props {
			if !propName(p) || seen[p] {
				continue
			}
			seen[p] = true
			ddl = append(ddl, propIndexDDL(n, p), propSortIndexDDL(n, p))
		}
	} else {
		ddl = countersDDL(n)
	}
	for _, q := range ddl {
		if _, err := s.wconn.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("chronos: sqlitestore: create tables of %s %q: %w", key.db, key.coll, err)
		}
	}
	created[key] = n
	return n, nil
}

// committed caches what a committed transaction created.
func (s *Store) committed(created map[catalogKey]int64) {
	if len(created) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range created {
		s.mu.tables[k] = n
		s.mu.ready[n] = true
	}
}
