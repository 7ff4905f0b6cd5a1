package mongostore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// EmbeddedOptions configures an in-process MongoDB-wire-compatible server
// (FerretDB on SQLite), as used by `chronos dev` and by tests.
type EmbeddedOptions struct {
	// Dir holds the SQLite files, one per database (required; created if
	// absent). Data kept there survives a restart on the same Dir.
	Dir string
	// Addr is the TCP address to listen on, host:port. Default: a free
	// port on 127.0.0.1. The embedded server has no authentication: never
	// bind it to a public interface.
	Addr string
	// ReadyTimeout bounds the wait for the server to answer a ping;
	// default 30s, shortened by ctx's deadline if it has one.
	ReadyTimeout time.Duration
	// Logger receives FerretDB's own log. Default: errors only, on stderr
	// (FerretDB logs every error reply it sends as a warning, which is
	// noise for a store that expects duplicate-key replies).
	Logger *slog.Logger
}

// Embedded is a running in-process FerretDB.
type Embedded struct {
	uri    string
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned
	once   sync.Once
}

// newMu serialises ferretdb.New: it writes a package-level variable of
// FerretDB (version.Get().Package), which would race between two servers
// started at once in one process.
var newMu sync.Mutex

// StartEmbedded starts FerretDB in this process with the "sqlite" handler
// and returns once it answers a ping through the Mongo driver. On error
// nothing is left running. ctx bounds the start only; the server runs until
// Close.
func StartEmbedded(ctx context.Context, o EmbeddedOptions) (*Embedded, error) {
	if o.Dir == "" {
		return nil, errors.New("chronos: embedded mongo: Dir is required")
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("chronos: embedded mongo: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("chronos: embedded mongo: %w", err)
	}
	f, addr, err := newFerretDB(o, dir)
	if err != nil {
		return nil, err
	}

	runCtx, cancel := context.WithCancel(context.Background())
	e := &Embedded{
		uri:    "mongodb://" + addr + "/",
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go func() {
		defer close(e.done)
		_ = f.Run(runCtx) // always nil; it returns when runCtx ends
	}()

	if err := e.waitReady(ctx, o.ReadyTimeout); err != nil {
		_ = e.Close()
		return nil, fmt.Errorf("chronos: embedded mongo on %s (data %s): %w", addr, dir, err)
	}
	return e, nil
}

// newFerretDB creates the server, which binds its listener at once.
//
// ferretdb.New leaks its SQLite backend when binding fails, and FerretDB
// panics in a finalizer when a leaked backend is garbage collected: that
// would crash the process later. So the address is bound and released here
// first, and a busy address is reported without calling New. (A port taken
// by someone else in the microseconds between the two binds remains
// possible, and improbable.)
func newFerretDB(o EmbeddedOptions, dir string) (*ferretdb.FerretDB, string, error) {
	addr := o.Addr
	var err error
	if addr == "" {
		// FerretDB reports its listen address in hello replies, so it gets
		// a real port rather than ":0".
		addr, err = freeLocalAddr()
	} else {
		err = probeAddr(addr)
	}
	if err != nil {
		return nil, "", fmt.Errorf("chronos: embedded mongo: %w", err)
	}
	newMu.Lock()
	defer newMu.Unlock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: addr},
		Logger:   o.Logger,
		Handler:  "sqlite",
		// FerretDB wants a directory URI with a trailing slash.
		SQLiteURL: "file:" + filepath.ToSlash(dir) + "/",
	})
	if err != nil {
		return nil, "", fmt.Errorf("chronos: embedded mongo on %s (data %s): %w", addr, dir, err)
	}
	return f, addr, nil
}

// waitReady pings the server with the Mongo driver until it answers or
// the timeout passes.
func (e *Embedded) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(e.uri).
		SetServerSelectionTimeout(timeout))
	if err != nil {
		return err
	}
	// Disconnect before returning: FerretDB's Run waits up to 3s for open
	// connections when it stops.
	defer func() { _ = client.Disconnect(context.Background()) }()
	for {
		err := client.Ping(ctx, nil)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer to ping within %s: %w", timeout, err)
		case <-e.done:
			return errors.New("server stopped while starting")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URI returns the connection string clients use, mongodb://host:port/.
func (e *Embedded) URI() string { return e.uri }

// Close stops the server and returns once it has stopped and released its
// files. Clients should disconnect first: the server waits up to 3s for
// connections still open. Close is safe to call more than once.
func (e *Embedded) Close() error {
	e.once.Do(e.cancel)
	<-e.done
	return nil
}

// probeAddr reports whether addr can be listened on now.
func probeAddr(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

// freeLocalAddr returns 127.0.0.1:<port> for a port that was free a moment
// ago.
func freeLocalAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}
