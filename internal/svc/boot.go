package svc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chronos-go/chronos/internal/wiring"
	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/tenancy"
)

// LoadConfig finds and loads the configuration: --config, else the
// CHRONOS_CONFIG environment variable, else chronos.config.json or
// .chronos.json in the working directory. A service without one refuses to
// start (only `chronos dev` has a built-in default).
func LoadConfig(flagPath string) (*tenancy.Config, string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, "", err
	}
	path, err := tenancy.Discover(flagPath, os.Getenv, wd)
	if err != nil {
		return nil, "", err
	}
	if path == "" {
		return nil, "", errors.New("chronos: no configuration: give --config PATH, set CHRONOS_CONFIG, or put chronos.config.json in the working directory (docs/configuration.md)")
	}
	cfg, err := tenancy.Load(path)
	if err != nil {
		return nil, path, err
	}
	return cfg, path, nil
}

// Boot loads the configuration and opens the shared dependencies.
func Boot(flagPath string, o wiring.Options) (*wiring.Deps, error) {
	cfg, path, err := LoadConfig(flagPath)
	if err != nil {
		return nil, err
	}
	deps, err := wiring.Open(cfg, o)
	if err != nil {
		return nil, fmt.Errorf("chronos: configuration %s: %w", path, err)
	}
	return deps, nil
}

// Protect puts the configuration's API-key authorization in front of h.
// Without an auth section a service refuses to start, unless insecure is
// set (--insecure-no-auth), which serves everyone and says so in the log.
func Protect(h http.Handler, cfg *tenancy.Config, insecure bool, log *slog.Logger) (http.Handler, error) {
	z, err := tenancy.NewAuthorizer(cfg.Auth)
	switch {
	case errors.Is(err, tenancy.ErrNoAuth) && insecure:
		log.Warn("--insecure-no-auth: every request is served without an API key; expose this service only on a trusted network")
		z = tenancy.InsecureAuthorizer()
	case errors.Is(err, tenancy.ErrNoAuth):
		return nil, errors.New("chronos: the configuration has no auth keys; add an auth section (docs/configuration.md) or start with --insecure-no-auth")
	case err != nil:
		return nil, err
	}
	return z.Middleware(h, MiddlewareOptions()), nil
}

// MiddlewareOptions are the authorization options of every service: health
// and metrics are public; tiered reads check each tier themselves.
func MiddlewareOptions() tenancy.MiddlewareOptions {
	return tenancy.MiddlewareOptions{
		Public:         []string{"/healthz", "/metrics"},
		SelfAuthorized: []string{"/v1/knowledge/tiered/", "/v1/metadata/tiered/"},
	}
}

// AdminDefaults are the default server addresses of the admin commands:
// those of the configuration file when one is found (--config is not
// needed: CHRONOS_CONFIG or ./chronos.config.json), else localhost.
func AdminDefaults() (natsURL, mongoURI string) {
	natsURL, mongoURI = "nats://127.0.0.1:4222", "mongodb://127.0.0.1:27017"
	cfg, _, err := LoadConfig("")
	if err != nil {
		return natsURL, mongoURI
	}
	if u := cfg.NATS.URL.Reveal(); u != "" {
		natsURL = u
	}
	for _, c := range cfg.DBConnections {
		if u := c.MongoURI.Reveal(); u != "" {
			mongoURI = u
			break
		}
	}
	return natsURL, mongoURI
}

// AdminMongoURIs are the MongoDB deployments an admin command acts on by
// default: every distinct one of the configuration file when one is found
// (the read model is spread over all of them), else localhost's.
func AdminMongoURIs() []string {
	cfg, _, err := LoadConfig("")
	if err != nil {
		return []string{"mongodb://127.0.0.1:27017"}
	}
	var uris []string
	for _, c := range cfg.DBConnections {
		if u := c.MongoURI.Reveal(); u != "" && !slices.Contains(uris, u) {
			uris = append(uris, u)
		}
	}
	if len(uris) == 0 {
		return []string{"mongodb://127.0.0.1:27017"}
	}
	return uris
}

// Service is what every standalone service starts with: its logger, a
// context canceled on SIGINT/SIGTERM, a metrics registry, the
// configuration's dependencies and the log.
type Service struct {
	Ctx      context.Context
	Log      *slog.Logger
	Metrics  *prometheus.Registry
	Deps     *wiring.Deps
	NATS     *nats.Conn
	EventLog *clog.Log
	stop     context.CancelFunc
}

// Open starts a service named name (e.g. "ingest") from the configuration
// at configPath (or found the standard way). ensureStreams creates or
// updates the partition streams (the ingest service does; the others wait
// for them).
func Open(name, configPath string, ensureStreams bool) (*Service, error) {
	return OpenWith(name, configPath, ensureStreams, wiring.Options{})
}

// OpenWith is Open with options for the dependencies (o.Metrics is the
// service's registry whatever o says).
func OpenWith(name, configPath string, ensureStreams bool, o wiring.Options) (*Service, error) {
	s := &Service{Log: Logger(name), Metrics: NewRegistry()}
	s.Ctx, s.stop = SignalContext()
	o.Metrics = s.Metrics
	deps, err := Boot(configPath, o)
	if err != nil {
		s.stop()
		return nil, err
	}
	s.Deps = deps
	var ensure *clog.Config
	if ensureStreams {
		lc := deps.LogConfig()
		ensure = &lc
	}
	if s.NATS, s.EventLog, err = ConnectLog(s.Ctx, deps.NATSURL(), "chronos-"+name, ensure); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the connections, within 5 seconds.
func (s *Service) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.NATS != nil {
		s.NATS.Close()
	}
	_ = s.Deps.Close(ctx)
	s.stop()
}

// Fatal logs err as the reason the service stops and exits with status 1.
func (s *Service) Fatal(what string, err error) {
	s.Log.Error(what, "err", err)
	s.Close()
	os.Exit(1)
}

// Die logs that service name could not start and exits with status 1.
func Die(name string, err error) {
	Logger(name).Error("start", "err", err)
	os.Exit(1)
}
