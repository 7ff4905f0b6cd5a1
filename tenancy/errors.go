package tenancy

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/chronos-go/chronos/events"
)

// ErrInvalidConfig is matched (errors.Is) by every error about the
// configuration file: syntax, unknown keys, types, ENV tokens, validation.
var ErrInvalidConfig = errors.New("chronos: invalid config")

// ErrUnknownTenant is matched by an *UnknownTenantError: the configuration
// routes no database to the scope. HTTP maps it to 404.
var ErrUnknownTenant = errors.New("chronos: unknown tenant")

// ErrNotConfigured is returned for a database the file does not define
// (messaging, identities).
var ErrNotConfigured = errors.New("chronos: not configured")

// Problem is one thing wrong with a configuration, at a JSON path such as
// "databases.runtime.tenantDatabases[1].dbName". Msg never holds a secret.
type Problem struct {
	Path string
	Msg  string
}

// ConfigError lists every problem found in a configuration, in file order.
// It matches ErrInvalidConfig.
type ConfigError struct {
	// File is the path of the configuration file, when there is one.
	File     string
	Problems []Problem
}

// Error returns one line per problem: "chronos: config: <path>: <msg>"
// (with the file name after "config" when known).
func (e *ConfigError) Error() string {
	prefix := "chronos: config: "
	if e.File != "" {
		prefix = "chronos: config " + e.File + ": "
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		if p.Path == "" {
			lines[i] = prefix + p.Msg
		} else {
			lines[i] = prefix + p.Path + ": " + p.Msg
		}
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// problems collects Problems.
type problems []Problem

func (ps *problems) add(path, msg string) { *ps = append(*ps, Problem{Path: path, Msg: msg}) }

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &ConfigError{Problems: ps}
}

// UnknownTenantError is returned by Router.Route for a scope that the
// configuration does not route: a tenant or domain that is neither listed
// nor resolved dynamically, or a dbType without a generic database. It
// matches ErrUnknownTenant and maps to HTTP 404.
type UnknownTenantError struct {
	DBType events.DBType
	Tier   events.Tier
	// Scope is the tenant id or domain ("_" for the generic tier).
	Scope string
	// Reason says why, when more than "not configured" is known.
	Reason string
}

// Error names the tier, scope and dbType, and the reason when known.
func (e *UnknownTenantError) Error() string {
	var s string
	switch e.Tier {
	case events.TierGeneric:
		s = "chronos: no generic database for " + string(e.DBType) + " data"
	default:
		s = "chronos: unknown " + string(e.Tier) + " " + strconv.Quote(e.Scope) + " for " + string(e.DBType) + " data"
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Unwrap returns ErrUnknownTenant.
func (e *UnknownTenantError) Unwrap() error { return ErrUnknownTenant }

// HTTPStatus maps the error to 404 unknown_tenant (internal/httpapi reads it).
func (e *UnknownTenantError) HTTPStatus() (int, string) {
	return http.StatusNotFound, "unknown_tenant"
}

// invalidScope returns the 400 error of a scope that can never be routed.
func invalidScope(c events.Collection, reason string) error {
	return &events.ValidationError{Field: "scope", Reason: string(c.Tier) + " id " + quote(c.Scope) + " " + reason, Err: events.ErrInvalid}
}

// quote quotes s for a message, shortened when long.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}
