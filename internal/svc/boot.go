package svc

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/chronos-go/chronos/internal/wiring"
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
