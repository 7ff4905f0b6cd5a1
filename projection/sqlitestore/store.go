package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// ErrInvalidOptions is matched (errors.Is) by every error about Options.
var ErrInvalidOptions = errors.New("chronos: invalid sqlitestore options")

// Defaults of Options.
const (
	// DefaultInlineLimit is the largest payload kept inline in a head, in
	// bytes of the event's JSON (as mongostore's).
	DefaultInlineLimit = 64 << 10
	// MaxInlineLimit bounds InlineLimit.
	MaxInlineLimit = 64 << 20
)

// Options configure a Store. The zero value is valid and means every
// default.
type Options struct {
	// Database routes a collection to the database holding its heads and
	// versions. Default "<dbType>_<tier>_<scope>" ("<dbType>_generic" for
	// the generic tier). Names are compared exactly (case included); two
	// collections of different scopes must not share a name unless they
	// may see each other's data.
	Database func(events.Collection) string
	// AnalyticsDatabase routes a collection to the database holding its
	// counters. Default Database(c) + "_analytics".
	AnalyticsDatabase func(events.Collection) string
	// InlineLimit is the largest payload, in bytes of the event's JSON,
	// kept inline in a head. Default DefaultInlineLimit; at most
	// MaxInlineLimit.
	InlineLimit int
	// IndexedProps returns a collection's indexed props: each gets an
	// index on its head table, created the first time this process
	// writes to the collection. Default: none. Lists filter on any prop
	// either way.
	IndexedProps func(events.Collection) []string
	// CounterRules are counted for every collection (see
	// projection.CounterRule), compiled by projection.CompileRules, in the
	// batch's transaction and past the same watermark as the totals.
	// Default: none.
	CounterRules []projection.CounterRule
	// Readers is the size of the read connection pool. Default
	// max(4, GOMAXPROCS).
	Readers int
}

// Validate reports the first field of o that is out of range.
func (o Options) Validate() error {
	if o.InlineLimit < 0 || o.InlineLimit > MaxInlineLimit {
		return fmt.Errorf("%w: InlineLimit is %d; it must be between 0 (default %d) and %d bytes",
			ErrInvalidOptions, o.InlineLimit, DefaultInlineLimit, MaxInlineLimit)
	}
	if o.Readers < 0 {
		return fmt.Errorf("%w: Readers is %d; it must be 0 (default) or more", ErrInvalidOptions, o.Readers)
	}
	return nil
}

func (o *Options) setDefaults() {
	if o.Database == nil {
		o.Database = func(c events.Collection) string {
			if c.Tier == events.TierGeneric {
				return string(c.DBType) + "_generic"
			}
			return string(c.DBType) + "_" + string(c.Tier) + "_" + c.Scope
		}
	}
	if o.AnalyticsDatabase == nil {
		db := o.Database
		o.AnalyticsDatabase = func(c events.Collection) string { return db(c) + "_analytics" }
	}
	if o.InlineLimit == 0 {
		o.InlineLimit = DefaultInlineLimit
	}
	if o.Readers == 0 {
		o.Readers = max(4, runtime.GOMAXPROCS(0))
	}
}

// Store is the SQLite read model. It is safe for concurrent use: writes
// are serialized on one connection, reads use a pool.
type Store struct {
	opts Options
	path string
	w    *sql.DB // one connection: the writer
	r    *sql.DB // readers

	// wmu serializes writes on wconn, the writer's connection, whose
	// statements are prepared once (wstmts) and whose transactions Apply
	// runs itself (BEGIN IMMEDIATE ... COMMIT).
	wmu    sync.Mutex
	wconn  *sql.Conn
	wstmts map[string]*sql.Stmt
	// applied counts the events applied since Open; at nextOptimize the
	// writer runs PRAGMA optimize, so the query planner's statistics
	// follow the tables' growth (an equality on an indexed prop that
	// matches a tenth of a collection is better scanned in order than
	// looked up and sorted).
	applied, nextOptimize int

	mu struct {
		sync.Mutex
		// tables maps a catalog key to its table number.
		tables map[catalogKey]int64
		// ready holds the table sets whose tables and indexes this
		// process has ensured.
		ready map[int64]bool
		// rstmts caches the readers' prepared statements by SQL text.
		rstmts map[string]*sql.Stmt
	}

	closeOnce sync.Once
	closeErr  error
}

var _ projection.Store = (*Store)(nil)

// Open opens (creating if needed) the read model in the SQLite file at
// path, with its directory.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.setDefaults()
	if path == "" {
		return nil, fmt.Errorf("%w: path is empty", ErrInvalidOptions)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("chronos: sqlitestore: %w", err)
	}
	s := &Store{opts: opts, path: path}
	s.mu.tables = make(map[catalogKey]int64)
	s.mu.ready = make(map[int64]bool)
	s.wstmts = make(map[string]*sql.Stmt)
	s.nextOptimize = 1000
	s.mu.rstmts = make(map[string]*sql.Stmt)
	var err error
	if s.w, err = openDB(path, false); err != nil {
		return nil, err
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if s.wconn, err = s.w.Conn(ctx); err != nil {
		_ = s.w.Close()
		return nil, fmt.Errorf("chronos: sqlitestore: open %s: %w", path, err)
	}
	if _, err := s.wconn.ExecContext(ctx, catalogDDL); err != nil {
		_ = s.wconn.Close()
		_ = s.w.Close()
		return nil, fmt.Errorf("chronos: sqlitestore: create catalog in %s: %w", path, err)
	}
	if err := s.upgradeCounters(ctx); err != nil {
		_ = s.wconn.Close()
		_ = s.w.Close()
		return nil, err
	}
	if s.r, err = openDB(path, true); err != nil {
		_ = s.w.Close()
		return nil, err
	}
	s.r.SetMaxOpenConns(opts.Readers)
	s.r.SetMaxIdleConns(opts.Readers)
	s.r.SetConnMaxIdleTime(0)
	return s, nil
}

// openDB opens a pool on path: WAL, synchronous NORMAL (a commit survives
// a process crash; the last commits may be lost on power loss, and the
// projector re-applies them from the log), a busy timeout, and immediate
// transactions for the writer.
func openDB(path string, readOnly bool) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(wal)")
	q.Add("_pragma", "synchronous(normal)")
	q.Add("_pragma", "foreign_keys(off)")
	q.Add("_pragma", "cache_size(-65536)")
	q.Add("_pragma", "analysis_limit(1000)")
	if readOnly {
		q.Add("_pragma", "query_only(true)")
	} else {
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("chronos: sqlitestore: open %s: %w", path, err)
	}
	return db, nil
}

// InlineLimit returns the largest payload, in bytes of JSON, that a head
// keeps inline (storetest.InlineLimiter).
func (s *Store) InlineLimit() int { return s.opts.InlineLimit }

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes the connections (after a checkpoint of the WAL). Calling
// it again returns the first result.
func (s *Store) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		for _, st := range s.mu.rstmts {
			_ = st.Close()
		}
		s.mu.Unlock()
		errR := s.r.Close()
		s.wmu.Lock()
		for _, st := range s.wstmts {
			_ = st.Close()
		}
		_, _ = s.wconn.ExecContext(ctx, "PRAGMA optimize")
		errC := s.wconn.Close()
		errW := s.w.Close()
		s.wmu.Unlock()
		if err := errors.Join(errR, errC, errW); err != nil {
			s.closeErr = fmt.Errorf("chronos: sqlitestore: close: %w", err)
		}
	})
	return s.closeErr
}

// wstmt returns the writer's prepared statement of query; the caller
// holds wmu.
func (s *Store) wstmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := s.wstmts[query]; st != nil {
		return st, nil
	}
	st, err := s.wconn.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("chronos: sqlitestore: prepare: %w", err)
	}
	s.wstmts[query] = st
	return st, nil
}

// stmt returns the prepared statement of query on the reader pool.
func (s *Store) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	m, db := s.mu.rstmts, s.r
	st := m[query]
	s.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("chronos: sqlitestore: prepare: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := m[query]; old != nil {
		_ = st.Close()
		return old, nil
	}
	m[query] = st
	return st, nil
}
