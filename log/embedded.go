package log

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedOptions configures an in-process nats-server with JetStream, as
// used by `chronos dev` and by tests.
type EmbeddedOptions struct {
	// StoreDir is the JetStream file store directory (required). Data kept
	// there survives a restart on the same directory.
	StoreDir string
	// Host to listen on; default "127.0.0.1". The embedded server is for
	// one machine: never bind it to a public interface.
	Host string
	// Port to listen on; 0 means -1 (a random free port).
	Port int
	// ServerName; default "chronos-embedded".
	ServerName string
	// SyncAlways makes the file store fsync every write (power-loss safe on a
	// single node, ~30x slower; see DESIGN.md "Durability").
	SyncAlways bool
	// ReadyTimeout bounds the wait for the server to accept connections,
	// which includes recovering an existing store; default 60s.
	ReadyTimeout time.Duration
	// Logs enables the server's own log on stderr.
	Logs bool
}

// Embedded is a running in-process nats-server.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts a nats-server in this process and waits until it
// accepts connections.
func StartEmbedded(o EmbeddedOptions) (*Embedded, error) {
	if o.StoreDir == "" {
		return nil, errors.New("chronos: embedded nats: StoreDir is required")
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = -1
	}
	if o.ServerName == "" {
		o.ServerName = "chronos-embedded"
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	opts := &server.Options{
		ServerName: o.ServerName,
		Host:       o.Host,
		Port:       o.Port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      !o.Logs,
		MaxPayload: 8 << 20,
	}
	if o.SyncAlways {
		opts.SyncAlways = true
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("chronos: embedded nats: %w", err)
	}
	if o.Logs {
		srv.ConfigureLogger()
	}
	srv.Start()
	if !srv.ReadyForConnections(o.ReadyTimeout) {
		srv.Shutdown()
		return nil, fmt.Errorf("chronos: embedded nats: not ready after %s (store %s)", o.ReadyTimeout, o.StoreDir)
	}
	return &Embedded{srv: srv}, nil
}

// ClientURL returns the nats:// URL clients connect to.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Server returns the underlying server, for tests that inspect it.
func (e *Embedded) Server() *server.Server { return e.srv }

// Shutdown stops the server and waits until it has stopped.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
