package tenancy

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/chronos-go/chronos/events"
)

// ErrUnauthenticated is matched by an *AuthError for a request without a
// valid API key: HTTP 401.
var ErrUnauthenticated = errors.New("chronos: unauthenticated")

// ErrForbidden is matched by an *AuthError for a valid key that lacks the
// scope or right: HTTP 403.
var ErrForbidden = errors.New("chronos: forbidden")

// ErrNoAuth is returned by NewAuthorizer for a configuration without keys:
// a standalone service then refuses to start unless told to run insecure.
var ErrNoAuth = errors.New("chronos: no auth section with keys in the configuration")

// AuthError says why a request was refused. It matches ErrUnauthenticated
// or ErrForbidden and never contains the key.
type AuthError struct {
	// Err is ErrUnauthenticated or ErrForbidden.
	Err error
	// Key is the name of the key used, when it was recognised.
	Key    string
	Reason string
}

// Error returns "chronos: unauthenticated: <reason>" or
// "chronos: forbidden: <reason>".
func (e *AuthError) Error() string { return e.Err.Error() + ": " + e.Reason }

// Unwrap returns ErrUnauthenticated or ErrForbidden.
func (e *AuthError) Unwrap() error { return e.Err }

// HTTPStatus maps the error to 401 unauthenticated or 403 forbidden
// (internal/httpapi reads it).
func (e *AuthError) HTTPStatus() (int, string) {
	if errors.Is(e.Err, ErrForbidden) {
		return http.StatusForbidden, "forbidden"
	}
	return http.StatusUnauthorized, "unauthenticated"
}

// HashKey returns what auth.keys[].sha256 holds for key: the hex SHA-256.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// NewKey returns a new random API key ("chr_" and 43 base64url characters,
// 256 bits) and its hash for the configuration.
func NewKey() (key, sha string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("chronos: generate key: %w", err)
	}
	key = "chr_" + base64.RawURLEncoding.EncodeToString(b)
	return key, HashKey(key), nil
}

// Principal is who made a request: the key it presented, or the dev mode.
type Principal struct {
	// Name is the key's name, or "dev" / "insecure" without auth.
	Name string
	key  *APIKey
}

// Allows reports (nil) whether p may use right on c, or says why not with
// a 403 *AuthError. A principal of the dev or insecure mode is allowed
// everything.
func (p *Principal) Allows(c events.Collection, right Right) error {
	if p.key == nil {
		return nil
	}
	k := p.key
	deny := func(reason string) error {
		return &AuthError{Err: ErrForbidden, Key: k.Name, Reason: "key " + quote(k.Name) + " " + reason}
	}
	if len(k.DBTypes) > 0 && !slices.Contains(k.DBTypes, c.DBType) {
		return deny("may not reach " + string(c.DBType) + " data")
	}
	switch c.Tier {
	case events.TierTenant:
		if !slices.Contains(k.Tenants, "*") && !slices.Contains(k.Tenants, c.Scope) {
			return deny("may not reach tenant " + quote(c.Scope))
		}
	case events.TierDomain:
		if !slices.Contains(k.Domains, "*") && !slices.Contains(k.Domains, c.Scope) {
			return deny("may not reach domain " + quote(c.Scope))
		}
	case events.TierGeneric:
		if !k.Generic {
			return deny("may not reach the generic tier")
		}
	default:
		return deny("may not reach tier " + quote(string(c.Tier)))
	}
	if !slices.Contains(k.Rights, right) && !slices.Contains(k.Rights, RightAdmin) {
		return deny("lacks the " + string(right) + " right")
	}
	return nil
}

// authMode says how an Authorizer decides.
type authMode int

const (
	modeKeys     authMode = iota // API keys from the configuration
	modeDev                      // everything, from loopback peers only
	modeInsecure                 // everything, from anywhere
)

// Authorizer checks the API key of a request and what it may reach. It is
// safe for concurrent use.
type Authorizer struct {
	mode   authMode
	keys   []APIKey
	hashes [][]byte // keys[i]'s SHA-256, raw
}

// NewAuthorizer returns the Authorizer of the configuration's auth section.
// It returns ErrNoAuth when a is nil or has no keys, and a *ConfigError when
// a key is invalid.
func NewAuthorizer(a *Auth) (*Authorizer, error) {
	if a == nil || len(a.Keys) == 0 {
		return nil, ErrNoAuth
	}
	if err := (&Config{Auth: a}).validateAuthOnly(); err != nil {
		return nil, err
	}
	z := &Authorizer{mode: modeKeys, keys: a.Keys}
	for _, k := range a.Keys {
		h, _ := hex.DecodeString(strings.ToLower(k.SHA256.Reveal()))
		z.hashes = append(z.hashes, h)
	}
	return z, nil
}

func (c *Config) validateAuthOnly() error {
	var ps problems
	c.validateAuth(&ps)
	return ps.err()
}

// DevAuthorizer allows every request whose peer is a loopback address
// (127.0.0.0/8, ::1) and refuses others with 401: `chronos dev` on its
// default loopback address needs no key, and stays closed if exposed.
func DevAuthorizer() *Authorizer { return &Authorizer{mode: modeDev} }

// InsecureAuthorizer allows every request from anywhere. It is for
// --insecure-no-auth only; the service should log a warning.
func InsecureAuthorizer() *Authorizer { return &Authorizer{mode: modeInsecure} }

// Authenticate returns the principal of r, from its Authorization: Bearer
// header, or a 401 *AuthError: no header, another scheme, an empty key, or
// a key whose hash is not configured. Every configured hash is compared in
// constant time, whatever matches.
func (z *Authorizer) Authenticate(r *http.Request) (*Principal, error) {
	switch z.mode {
	case modeInsecure:
		return &Principal{Name: "insecure"}, nil
	case modeDev:
		if !loopbackPeer(r.RemoteAddr) {
			return nil, &AuthError{Err: ErrUnauthenticated, Reason: "dev mode serves loopback clients only; configure auth keys to serve others"}
		}
		return &Principal{Name: "dev"}, nil
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, &AuthError{Err: ErrUnauthenticated, Reason: "missing Authorization header; send Authorization: Bearer <key>"}
	}
	scheme, key, ok := strings.Cut(h, " ")
	key = strings.TrimSpace(key)
	if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" {
		return nil, &AuthError{Err: ErrUnauthenticated, Reason: "malformed Authorization header; send Authorization: Bearer <key>"}
	}
	sum := sha256.Sum256([]byte(key))
	found := -1
	for i, h := range z.hashes {
		if subtle.ConstantTimeCompare(sum[:], h) == 1 {
			found = i
		}
	}
	if found < 0 {
		return nil, &AuthError{Err: ErrUnauthenticated, Reason: "unknown API key"}
	}
	return &Principal{Name: z.keys[found].Name, key: &z.keys[found]}, nil
}

// Authorize returns nil if r carries a key that may use right on c; else a
// 401 or 403 *AuthError. Call it before routing c, so that a key never
// learns whether another tenant exists.
func (z *Authorizer) Authorize(r *http.Request, c events.Collection, right Right) error {
	p, err := z.Authenticate(r)
	if err != nil {
		return err
	}
	return p.Allows(c, right)
}

func loopbackPeer(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
