package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/client"
	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/stack"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/projection/mongostore"
)

// Consumer names of the projector and the offloader (their defaults).
const (
	projectorDurable = "projector"
	offloaderDurable = "offloader"
)

// Target says what a run loads.
type Target struct {
	// Embedded starts the all-in-one stack in this process (embedded NATS,
	// the embedded Mongo-compatible read model, local blobs, projector and
	// offloader) on a temporary data directory, removed by Close.
	Embedded bool
	// DataDir of the embedded stack; default a new temporary directory.
	DataDir string
	// Partitions of the embedded stack; default 8.
	Partitions int
	// URL is the HTTP API of a running Chronos (not embedded).
	URL string
	// NATSURL is its NATS server: needed by the producer, and for the
	// projection and offload lag.
	NATSURL string
	// MongoURI is its MongoDB, for the bulkWrite and findOne baselines.
	// Embedded: the read model the stack uses instead of starting its own
	// Mongo-compatible server.
	MongoURI string
	// FerretDB starts an embedded FerretDB (the Mongo-compatible server of
	// the tests) and uses it as MongoURI: the embedded stack then projects
	// into it instead of its default SQLite read model, and the Mongo
	// baselines have a server.
	FerretDB bool
	// Logger of the embedded stack; default warnings and errors on stderr.
	Logger *slog.Logger
}

// Env is an open target: clients of the HTTP API and of JetStream, and,
// when embedded, the stack itself. Several runs may share one Env.
type Env struct {
	stack    *stack.Stack
	tmp      string
	nc       *nats.Conn
	js       jetstream.JetStream
	log      *clog.Log
	progress *clog.Progress
	hc       *client.Client
	url      string
	mongoURI string
	blobs    offload.Resolver
	embedded bool
	ferret   *mongostore.Embedded
}

// Open starts or connects to the target.
func Open(ctx context.Context, t Target) (_ *Env, err error) {
	e := &Env{embedded: t.Embedded, url: t.URL, mongoURI: t.MongoURI}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	natsURL := t.NATSURL
	if t.Embedded {
		dir := t.DataDir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "chronos-bench-"); err != nil {
				return nil, err
			}
			e.tmp = dir
		}
		if t.FerretDB && t.MongoURI == "" {
			if e.ferret, err = mongostore.StartEmbedded(ctx, mongostore.EmbeddedOptions{Dir: filepath.Join(dir, "ferretdb")}); err != nil {
				return nil, err
			}
			t.MongoURI, e.mongoURI = e.ferret.URI(), e.ferret.URI()
		}
		lg := t.Logger
		if lg == nil {
			lg = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		}
		if e.stack, err = stack.Start(ctx, stack.Config{DataDir: dir, Addr: "127.0.0.1:0", Partitions: t.Partitions, MongoURI: t.MongoURI, Logger: lg}); err != nil {
			return nil, err
		}
		e.url, natsURL = e.stack.URL(), e.stack.NATSURL()
		e.blobs = e.stack.Blobs
	}
	if e.url == "" {
		return nil, fmt.Errorf("%w: an HTTP URL or an embedded stack is needed", ErrInvalidConfig)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 1024
	if e.hc, err = client.New(e.url, client.WithHTTPClient(&http.Client{Transport: tr}), client.WithRetry(client.NoRetry)); err != nil {
		return nil, err
	}
	if natsURL != "" {
		if e.nc, err = nats.Connect(natsURL, nats.Name("chronos-bench"), nats.MaxReconnects(-1)); err != nil {
			return nil, fmt.Errorf("chronos bench: connect to nats %s: %w", natsURL, err)
		}
		if e.js, err = jetstream.New(e.nc); err != nil {
			return nil, err
		}
		if e.log, err = clog.Open(ctx, e.js, events.Limits{}); err != nil {
			return nil, err
		}
		if e.progress, err = clog.OpenProgress(ctx, e.js, 1); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// URL returns the HTTP API the runs use.
func (e *Env) URL() string { return e.url }

// Close stops the embedded stack and removes its temporary directory.
func (e *Env) Close() {
	if e.nc != nil {
		e.nc.Close()
	}
	if e.stack != nil {
		e.stack.Close()
	}
	if e.ferret != nil {
		_ = e.ferret.Close()
	}
	if e.tmp != "" {
		_ = os.RemoveAll(e.tmp)
	}
}

// lag returns the events the projector and the offloader have still to
// apply, over all partitions: the stream's last sequence minus the
// projector's published progress, and the offloader consumer's pending
// plus unacknowledged messages.
func (e *Env) lag(ctx context.Context) (proj, off int64, err error) {
	if e.log == nil {
		return 0, 0, errors.New("chronos bench: no NATS connection, no lag")
	}
	for k := range e.log.Partitions() {
		last, err := e.log.LastSeq(ctx, k)
		if err != nil {
			return 0, 0, err
		}
		pos, err := e.progress.Get(ctx, projectorDurable, k)
		if err != nil {
			return 0, 0, err
		}
		if last > pos {
			proj += int64(last - pos)
		}
		c, err := e.js.Consumer(ctx, clog.StreamName(k), offloaderDurable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue // no offloader (yet)
		}
		if err != nil {
			return 0, 0, err
		}
		ci := c.CachedInfo()
		off += int64(ci.NumPending) + int64(ci.NumAckPending)
	}
	return proj, off, nil
}

// lagWithin is lag bounded by a short timeout, so that a slow server
// delays a sample, not the run.
func (e *Env) lagWithin(d time.Duration) (int64, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return e.lag(ctx)
}
