// Package stack wires every Chronos service into one process on embedded
// dependencies: what `chronos dev` runs, and what the end-to-end tests
// start. It owns no logic of its own beyond wiring and ordered shutdown.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/fallbackq"
	"github.com/chronos-go/chronos/ingest"
	"github.com/chronos-go/chronos/internal/httpapi"
	"github.com/chronos-go/chronos/internal/svc"
	"github.com/chronos-go/chronos/internal/wiring"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/projection"
	"github.com/chronos-go/chronos/query"
	"github.com/chronos-go/chronos/tenancy"
)

// Config of a Stack. Zero values take the defaults.
type Config struct {
	// DataDir holds everything: nats/ (JetStream), sqlite/ (the embedded
	// read model, unless MongoURI is set), blobs/ (local blob store).
	// Default "./.chronos".
	DataDir string
	// Addr is the HTTP listen address; default "127.0.0.1:8080". Port 0
	// picks a free one (see Stack.URL).
	Addr string
	// PublicURL is the base URL at which clients reach the API, e.g.
	// "https://chronos.example.com" behind a proxy; presigned URLs of the
	// local blob stores point there (<PublicURL>/v1/blobs/...). Default:
	// Stack.URL().
	PublicURL string
	// NATSURL, when set, uses that server instead of an embedded one.
	NATSURL string
	// MongoURI, when set, uses that MongoDB instead of the embedded one.
	MongoURI string
	// Partitions is P when the streams are created; default 8.
	Partitions int
	// NoWorkers starts ingest and query only (tests that drive the
	// projector themselves).
	NoWorkers bool
	// Tenancy is the configuration; default tenancy.DevDefault(DataDir),
	// whose MongoDB connection is pointed at the embedded server (or
	// MongoURI). Without an auth section, requests need no key but must
	// come from loopback.
	Tenancy *tenancy.Config
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Stack is a running all-in-one Chronos.
type Stack struct {
	cfg Config
	log *slog.Logger

	nats  *clog.Embedded
	nc    *nats.Conn
	Log   *clog.Log
	Store projection.Store
	Blobs offload.Resolver
	// Deps are the router and connection pool built from the config.
	Deps *wiring.Deps
	auth *tenancy.Authorizer

	// Metrics is the registry served on /metrics.
	Metrics *prometheus.Registry
	// DLQ is the dead-letter queue, served under /v1/admin/dlq.
	DLQ *fallbackq.DLQ

	Ingest    *ingest.Service
	Query     *query.Service
	Offloader *offload.Offloader

	// Projectors run a projector per projection generation that is active
	// or building (see `chronos rebuild`), and keep Store on the active one.
	Projectors *projection.GenerationRunner
	// generations is the read model by projection generation (Store is
	// its Serving store).
	generations *wiring.Generations

	ln      net.Listener
	srv     *http.Server
	cancel  context.CancelFunc
	workers sync.WaitGroup
	closers []func()
}

// Start brings up every part and returns once the HTTP API accepts
// connections. On error, whatever was started is stopped again.
func Start(ctx context.Context, cfg Config) (s *Stack, err error) {
	if cfg.DataDir == "" {
		cfg.DataDir = ".chronos"
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Tenancy == nil {
		cfg.Tenancy = tenancy.DevDefault(cfg.DataDir)
	}
	s = &Stack{cfg: cfg, log: cfg.Logger}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	for _, d := range []string{"nats", "sqlite", "blobs"} {
		if err := os.MkdirAll(filepath.Join(cfg.DataDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("chronos: data dir: %w", err)
		}
	}
	// Listen first: the local blob stores sign URLs of this address.
	if s.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("chronos: listen on %s: %w", cfg.Addr, err)
	}
	if err := s.startLog(ctx); err != nil {
		return nil, err
	}
	s.Metrics = prometheus.NewRegistry()
	if err := s.startStore(ctx); err != nil {
		return nil, err
	}
	s.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	dlqMetrics := fallbackq.NewMetrics(s.Metrics)
	if err := fallbackq.EnsureDLQ(ctx, s.Log.JetStream(), 0); err != nil {
		return nil, err
	}
	s.DLQ = fallbackq.NewDLQ(s.Log.JetStream(), dlqMetrics)
	s.Blobs = s.Deps.Blobs()
	s.Ingest = ingest.New(s.Log, ingest.Options{Blobs: s.Blobs, Router: s.Deps.Router})
	wctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	// The query service follows the projector's positions for minSeq; the
	// watcher stops with the workers' context.
	follower, err := wiring.FollowProjector(wctx, s.Log.JetStream())
	if err != nil {
		return nil, err
	}
	s.Query = query.New(s.Store, s.Log, s.Blobs.ReadOnly(), s.Deps.QueryOptions(follower))
	if !cfg.NoWorkers {
		s.Projectors = s.generations.Runner(s.Log, true, projection.ProjectorOptions{Logger: s.log, DLQ: s.DLQ}, s.log)
		if s.Offloader, err = offload.NewOffloader(s.Log, s.Blobs, offload.OffloaderOptions{
			Logger: s.log, Metrics: dlqMetrics, Retry: s.Deps.RetryConfig(), OffloadMetrics: offload.NewMetrics(s.Metrics),
			Content: s.Deps.ContentBlobs(), Base64Props: s.Deps.Base64Props(), Heads: s.Deps.HeadBlobs(),
		}); err != nil {
			return nil, err
		}
		s.run(wctx, "projector", s.Projectors.Run)
		if r, cr := s.Deps.VerRetention(), s.Deps.CounterRetention(); r.Enabled() || cr.Enabled() {
			j := projection.NewJanitor(s.Store.(*projection.SwitchingStore), projection.JanitorOptions{
				Retention: r, Counters: cr, Collections: projection.LogCollections(s.Log), DeleteBlobs: s.Deps.DeleteVersionBlobs(), Logger: s.log,
			})
			s.run(wctx, "retention janitor", j.Run)
		}
		s.run(wctx, "offloader", s.Offloader.Run)
	}
	return s, s.serve()
}

func (s *Stack) startLog(ctx context.Context) error {
	url := s.cfg.NATSURL
	if url == "" {
		srv, err := clog.StartEmbedded(clog.EmbeddedOptions{StoreDir: filepath.Join(s.cfg.DataDir, "nats")})
		if err != nil {
			return err
		}
		s.nats = srv
		url = srv.ClientURL()
	}
	nc, err := nats.Connect(url, nats.Name("chronos-dev"), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("chronos: connect to nats %s: %w", url, err)
	}
	s.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if err := clog.EnsureStreams(ctx, js, clog.Config{Partitions: s.cfg.Partitions}); err != nil {
		return err
	}
	s.Log, err = clog.Open(ctx, js, events.Limits{})
	return err
}

func (s *Stack) startStore(ctx context.Context) error {
	// The read model: MongoDB when MongoURI is set, else the embedded
	// SQLite store in <DataDir>/sqlite (see projection/sqlitestore).
	uri := s.cfg.MongoURI
	if uri != "" {
		if c, ok := s.cfg.Tenancy.DBConnections[tenancy.DevConnRef]; ok {
			c.MongoURI = tenancy.ConnString(uri)
			s.cfg.Tenancy.DBConnections[tenancy.DevConnRef] = c
		}
	}
	public := s.cfg.PublicURL
	if public == "" {
		public = s.URL()
	}
	deps, err := wiring.Open(s.cfg.Tenancy, wiring.Options{
		Metrics: s.Metrics, PresignBaseURL: strings.TrimSuffix(public, "/") + wiring.PresignPath,
	})
	if err != nil {
		return err
	}
	s.Deps = deps
	if s.auth, err = tenancy.NewAuthorizer(s.cfg.Tenancy.Auth); errors.Is(err, tenancy.ErrNoAuth) {
		s.auth = tenancy.DevAuthorizer()
	} else if err != nil {
		return err
	}
	// The read model in force is the active projection generation's; it
	// is switched in place when a rebuild is switched to.
	sqliteDir := ""
	if uri == "" {
		sqliteDir = filepath.Join(s.cfg.DataDir, "sqlite")
	}
	if s.generations, err = wiring.OpenGenerations(ctx, s.Log.JetStream(), deps.ReadModelOpener(sqliteDir, uri)); err != nil {
		return err
	}
	s.Store = s.generations.Serving
	return nil
}

func (s *Stack) run(ctx context.Context, name string, f func(context.Context) error) {
	s.workers.Add(1)
	go func() {
		defer s.workers.Done()
		if err := f(ctx); err != nil {
			s.log.Error(name+" stopped", "err", err)
		}
	}()
}

// Routes lists the patterns of every route the API serves (method and
// path), so that tests can walk all of them.
func (s *Stack) Routes() []string {
	out := ingest.NewHandler(s.Ingest, s.log).Routes()
	out = append(out, query.NewHandler(s.Query, s.log).Routes()...)
	return out
}

// Handler returns the HTTP API: ingest and query routes, the DLQ admin
// routes under /v1/admin/dlq, /metrics (Prometheus) and /healthz.
func (s *Stack) Handler() http.Handler {
	mux := http.NewServeMux()
	ingest.NewHandler(s.Ingest, s.log).Register(mux)
	query.NewHandler(s.Query, s.log).Register(mux)
	fallbackq.NewHTTPHandler(s.DLQ, s.log).Register(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Metrics, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"status": "ok", "partitions": s.Log.Partitions()})
	})
	mo := svc.MiddlewareOptions()
	mo.Public = []string{"/healthz"} // dev: /metrics goes through the authorizer like the rest
	// Presigned URLs of the local blob stores need no key: the signature
	// is the authorization.
	return svc.WithPresignedBlobs(s.auth.Middleware(mux, mo), s.Deps)
}

func (s *Stack) serve() error {
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// URL returns the base URL of the HTTP API, e.g. http://127.0.0.1:8080
// (loopback when it listens on every interface).
func (s *Stack) URL() string {
	addr := s.ln.Addr().(*net.TCPAddr)
	if addr.IP.IsUnspecified() {
		return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(addr.Port))
	}
	return "http://" + addr.String()
}

// NATSURL returns the URL of the NATS server the stack uses (the embedded
// one unless Config.NATSURL was set), for admin commands.
func (s *Stack) NATSURL() string { return s.nc.ConnectedUrl() }

// Close stops everything in dependency order, within about 15 seconds:
// HTTP (in-flight requests finish), workers (a batch in progress is either
// acked or redelivered later), the store, MongoDB, NATS.
func (s *Stack) Close() {
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.srv.Shutdown(ctx)
		cancel()
	} else if s.ln != nil {
		_ = s.ln.Close()
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.workers.Wait()
	if s.Store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Store.Close(ctx)
		cancel()
	}
	if s.Deps != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Deps.Close(ctx)
		cancel()
	}
	if s.nc != nil {
		s.nc.Close()
	}
	if s.nats != nil {
		s.nats.Shutdown()
	}
}
