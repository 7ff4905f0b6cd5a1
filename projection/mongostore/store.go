package mongostore

import (
	"context"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// Collection name suffixes and the counters collection (the seed's names).
const (
	headSuffix   = "_head"
	verSuffix    = "_ver"
	countersColl = "cnt_total"
	uniqueColl   = "cnt_unique"
)

// Store is the MongoDB read model. It is safe for concurrent use; Apply
// expects at most one caller per partition at a time (the projector's
// single consumer), and reports an error rather than double-count if that
// is broken.
type Store struct {
	client *mongo.Client
	opts   Options
	// chunk is the effective bulk size: opts.ChunkSize, capped on FerretDB.
	chunk  int
	ferret bool

	mu struct {
		sync.Mutex
		// indexed holds "db.collection" of the collections whose indexes
		// exist, so they are created once per process.
		indexed map[string]bool
	}

	closeOnce sync.Once
	closeErr  error
}

var _ projection.Store = (*Store)(nil)

// New returns a Store writing through client, which must be connected. It
// asks the server for buildInfo once, to learn whether it is FerretDB
// (which caps the bulk size, see Options.ChunkSize). Collections and their
// indexes are created when first written, not here.
func New(ctx context.Context, client *mongo.Client, opts Options) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: client is nil", ErrInvalidOptions)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.setDefaults()
	ferret, err := isFerretDB(ctx, client)
	if err != nil {
		return nil, err
	}
	s := &Store{client: client, opts: opts, chunk: opts.ChunkSize, ferret: ferret}
	if ferret {
		s.chunk = min(s.chunk, FerretDBChunkSize)
	}
	s.mu.indexed = make(map[string]bool)
	return s, nil
}

// isFerretDB reports whether the server says it is FerretDB: its buildInfo
// carries ferretdbVersion (whose value may be "unknown" in embedded builds).
func isFerretDB(ctx context.Context, client *mongo.Client) (bool, error) {
	var info bson.Raw
	err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info)
	if err != nil {
		return false, fmt.Errorf("chronos: mongostore: buildInfo: %w", err)
	}
	_, err = info.LookupErr("ferretdbVersion")
	return err == nil, nil
}

// InlineLimit returns the largest payload, in bytes of JSON, that a head
// keeps inline (Options.InlineLimit after defaults). The conformance suite
// uses it (storetest.InlineLimiter).
func (s *Store) InlineLimit() int { return s.opts.InlineLimit }

// ChunkSize returns the number of writes sent per bulkWrite: ChunkSize of
// the Options, capped at FerretDBChunkSize on FerretDB.
func (s *Store) ChunkSize() int { return s.chunk }

// Close disconnects the client if the Store owns it (Options.Owner), and
// otherwise does nothing. Calling it again returns the first result.
func (s *Store) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		if s.opts.Owner {
			if err := s.client.Disconnect(ctx); err != nil {
				s.closeErr = fmt.Errorf("chronos: mongostore: disconnect: %w", err)
			}
		}
	})
	return s.closeErr
}

// route returns the database of c's documents and of its counters,
// checked.
func (s *Store) route(c events.Collection) (db, analytics string, err error) {
	db = s.opts.Database(c)
	if err := checkDatabaseName("Database", db); err != nil {
		return "", "", err
	}
	analytics = s.opts.AnalyticsDatabase(c)
	if err := checkDatabaseName("AnalyticsDatabase", analytics); err != nil {
		return "", "", err
	}
	return db, analytics, nil
}

// collections returns c's head and ver collections. It validates c, so
// reads of a malformed reference fail with events.ErrInvalid.
func (s *Store) collections(c events.Collection) (head, ver *mongo.Collection, err error) {
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	db, _, err := s.route(c)
	if err != nil {
		return nil, nil, err
	}
	d := s.client.Database(db)
	return d.Collection(c.Name + headSuffix), d.Collection(c.Name + verSuffix), nil
}

// verIndexes and headIndexes return new models on each call: the driver
// writes a generated name into options that lack one, so shared models
// would race between goroutines. The names are the driver's defaults.
func verIndexes() []mongo.IndexModel {
	return []mongo.IndexModel{
		{Keys: bson.D{{Key: fieldItemID, Value: 1}, {Key: fieldOV, Value: 1}}, Options: options.Index().SetName("itemId_1_ov_1").SetUnique(true)},
		{Keys: bson.D{{Key: fieldItemID, Value: 1}, {Key: fieldAt, Value: 1}}, Options: options.Index().SetName("itemId_1_at_1")},
	}
}

func headIndexes(props []string) []mongo.IndexModel {
	models := []mongo.IndexModel{
		{Keys: bson.D{{Key: fieldSystem + ".updatedAt", Value: 1}}, Options: options.Index().SetName("_system.updatedAt_1")},
		{Keys: bson.D{{Key: fieldSystem + ".deleted", Value: 1}}, Options: options.Index().SetName("_system.deleted_1")},
	}
	seen := make(map[string]bool, len(props))
	for _, p := range props {
		if !fieldName(p) || p == fieldID || p == fieldSystem || seen[p] {
			continue
		}
		seen[p] = true
		models = append(models, mongo.IndexModel{Keys: bson.D{{Key: p, Value: 1}}, Options: options.Index().SetName(p + "_1")})
	}
	return models
}

// ensureIndexes creates the indexes of a collection's head and ver the
// first time this process writes to it: those of verIndexes, and on the
// head _system.updatedAt, _system.deleted and each of
// Options.IndexedProps(c). createIndexes is idempotent, so
// two callers racing here is harmless. Each index is its own command:
// FerretDB v1.24 panics (and drops the connection) on a createIndexes of
// two or more indexes that all exist already, which is every restart.
func (s *Store) ensureIndexes(ctx context.Context, c events.Collection, head, ver *mongo.Collection) error {
	key := head.Database().Name() + "." + head.Name()
	s.mu.Lock()
	done := s.mu.indexed[key]
	s.mu.Unlock()
	if done {
		return nil
	}
	var props []string
	if s.opts.IndexedProps != nil {
		props = s.opts.IndexedProps(c)
	}
	for _, set := range []struct {
		coll   *mongo.Collection
		models []mongo.IndexModel
	}{{ver, verIndexes()}, {head, headIndexes(props)}} {
		for _, m := range set.models {
			if _, err := set.coll.Indexes().CreateOne(ctx, m); err != nil {
				return fmt.Errorf("chronos: mongostore: create indexes of %s.%s: %w", set.coll.Database().Name(), set.coll.Name(), err)
			}
		}
	}
	s.mu.Lock()
	s.mu.indexed[key] = true
	s.mu.Unlock()
	return nil
}
