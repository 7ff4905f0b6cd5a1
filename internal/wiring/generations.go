package wiring

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/nats-io/nats.go/jetstream"

	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/projection"
)

// This file is the one place where a process follows the projection
// generations (see projection.GenerationRegistry and `chronos rebuild`):
// chronos dev (internal/stack), cmd/projector and cmd/query all open
// their read model through OpenGenerations, so that each of them serves
// the active generation and switches without a restart.

// GenerationOpener opens the read model of projection generation n.
type GenerationOpener func(ctx context.Context, n int) (projection.Store, error)

// ReadModelOpener returns the opener of generation n's read model: the
// embedded SQLite store in sqliteDir (SQLiteReadModel) when sqliteDir is
// set, else MongoDB at mongoURI (ReadModelGeneration) when mongoURI is
// set, else every configured MongoDB deployment (ReadModels), which is
// what the standalone services run on.
func (d *Deps) ReadModelOpener(sqliteDir, mongoURI string) GenerationOpener {
	return func(ctx context.Context, n int) (projection.Store, error) {
		switch {
		case sqliteDir != "":
			st, err := d.SQLiteReadModel(ctx, sqliteDir, n)
			if err != nil {
				return nil, err
			}
			return st, nil
		case mongoURI != "":
			st, err := d.ReadModelGeneration(ctx, mongoURI, n)
			if err != nil {
				return nil, err
			}
			return st, nil
		default:
			return d.ReadModels(ctx, n)
		}
	}
}

// Generations is a process's read model as the generation document has
// it: Serving is the active generation's store, and a runner from
// Runner keeps it there when `chronos rebuild switch` changes the active
// generation.
type Generations struct {
	// Registry is the generation document in the NATS KV bucket
	// projection.SystemBucket.
	Registry *projection.GenerationRegistry
	// Serving forwards to the active generation's store. Its owner closes
	// it (it closes the store it is on then).
	Serving *projection.SwitchingStore
	open    GenerationOpener
}

// OpenGenerations opens the generation document on js and the store of
// the active generation with open. A deployment that never rebuilt has
// no document: generation 1, the router's own database names (read.db
// for SQLite), is active, as before generations existed.
func OpenGenerations(ctx context.Context, js jetstream.JetStream, open GenerationOpener) (*Generations, error) {
	reg, err := projection.OpenGenerations(ctx, js, 0)
	if err != nil {
		return nil, err
	}
	doc, err := reg.Get(ctx)
	if err != nil {
		return nil, err
	}
	st, err := open(ctx, doc.Active)
	if err != nil {
		return nil, fmt.Errorf("chronos: read model of generation %d: %w", doc.Active, err)
	}
	return &Generations{Registry: reg, Serving: projection.NewSwitchingStore(doc.Active, st), open: open}, nil
}

// Runner returns the runner that follows the generation document until
// its Run's context ends. With project set it runs a projector (template
// po) per generation that is active or building and keeps Serving on the
// active one: what a projecting process runs (cmd/projector, chronos
// dev). Without, it projects nothing and only keeps Serving on the active
// generation: what the query service runs. Exactly one kind of process
// projects building generations, so a rebuild is projected once however
// many query services follow it.
func (g *Generations) Runner(l *clog.Log, project bool, po projection.ProjectorOptions, log *slog.Logger) *projection.GenerationRunner {
	return projection.NewGenerationRunner(l, g.Registry, projection.GenerationRunnerOptions{
		Open:      g.open,
		Serving:   g.Serving,
		ServeOnly: !project,
		Projector: po,
		Logger:    log,
	})
}

// SQLiteGenerationFiles returns the files of generation n's embedded read
// model in dir: SQLiteFile(dir, n) and its -wal and -shm companions.
func SQLiteGenerationFiles(dir string, n int) []string {
	f := SQLiteFile(dir, n)
	return []string{f, f + "-wal", f + "-shm"}
}

// DropSQLiteGeneration deletes the embedded read model of generation n
// from dir (SQLiteGenerationFiles) and returns the files it deleted; a
// file that is not there is not an error. As with DropGeneration, the
// caller removes n from the generation document first.
func DropSQLiteGeneration(dir string, n int) ([]string, error) {
	var removed []string
	for _, f := range SQLiteGenerationFiles(dir, n) {
		err := os.Remove(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return removed, fmt.Errorf("chronos: delete %s: %w", f, err)
		}
		removed = append(removed, f)
	}
	return removed, nil
}
