// Package svc holds what every standalone service main shares: connecting
// to NATS and MongoDB with retries, serving HTTP, and stopping within a
// bound on SIGINT/SIGTERM. It keeps cmd/* thin.
package svc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chronos-go/chronos/events"
	clog "github.com/chronos-go/chronos/log"
)

// Logger returns the services' structured logger on stderr.
func Logger(name string) *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, nil)).With("service", name)
}

// SignalContext is canceled on SIGINT or SIGTERM.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// ConnectLog connects to NATS (retrying while the server recovers its
// store, which refuses connections for seconds at scale) and opens the log.
// When ensure is set it also creates or updates the partition streams.
func ConnectLog(ctx context.Context, url, name string, ensure *clog.Config) (*nats.Conn, *clog.Log, error) {
	nc, err := nats.Connect(url, nats.Name(name), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("chronos: connect to nats %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	if ensure != nil {
		if err := clog.EnsureStreams(ctx, js, *ensure); err != nil {
			nc.Close()
			return nil, nil, err
		}
	}
	var l *clog.Log
	for {
		l, err = clog.Open(ctx, js, events.Limits{})
		if err == nil || ctx.Err() != nil {
			break
		}
		slog.Warn("waiting for the log streams", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, l, nil
}

// ServeHTTP serves h on addr until ctx ends, then shuts down within 10s.
// It logs the address it listens on once bound ("listening", addr): the
// port the system chose when addr's is 0.
func ServeHTTP(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("chronos: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// NewRegistry returns a Prometheus registry with the Go and process
// collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// MetricsHandler serves reg in the Prometheus text format.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// ServeMetrics serves /metrics on addr until ctx ends (for workers without
// an API); an empty addr serves nothing.
func ServeMetrics(ctx context.Context, addr string, reg *prometheus.Registry, log *slog.Logger) {
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", MetricsHandler(reg))
	go func() {
		if err := ServeHTTP(ctx, addr, mux, log); err != nil {
			log.Error("metrics server stopped", "err", err)
		}
	}()
}
