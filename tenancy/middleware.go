package tenancy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/chronos-go/chronos/events"
)

// MiddlewareOptions configure Authorizer.Middleware. The zero value is valid.
type MiddlewareOptions struct {
	// Public lists exact paths served without a key (e.g. "/healthz").
	Public []string
	// Right maps a request to the right it needs; default RightFor.
	Right func(*http.Request) Right
	// SelfAuthorized lists path prefixes whose handlers check the
	// principal's rights themselves (e.g. tiered reads, which span several
	// scopes): they need a valid key, and the principal is in the context.
	SelfAuthorized []string
}

// RightFor is the default right of a request: read for GET, HEAD and
// OPTIONS, write for every other method.
func RightFor(r *http.Request) Right {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return RightRead
	}
	return RightWrite
}

// CollectionFromPath reads the collection of an API path
// /v1/{dbType}/{tier}/{scope}/{collection}[/...], unescaping each segment
// as http.ServeMux does. ok is false for a path of another shape; err is
// set (matching events.ErrInvalid) when the shape fits but a token is
// invalid.
func CollectionFromPath(escapedPath string) (c events.Collection, ok bool, err error) {
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	if len(segs) < 5 || segs[0] != "v1" {
		return events.Collection{}, false, nil
	}
	var tok [4]string
	for i := range tok {
		s, err := url.PathUnescape(segs[i+1])
		if err != nil {
			return events.Collection{}, true, &events.ValidationError{Field: "path", Reason: "has an invalid escape", Err: events.ErrInvalid}
		}
		tok[i] = s
	}
	c = events.Collection{DBType: events.DBType(tok[0]), Tier: events.Tier(tok[1]), Scope: tok[2], Name: tok[3]}
	return c, true, c.Validate()
}

// Middleware authenticates and authorizes every request before next sees
// it, and puts the Principal in the request context (PrincipalFrom):
//
//   - paths in o.Public pass without a key;
//   - /v1/{dbType}/{tier}/{scope}/{collection}/... needs o.Right(r) on that
//     collection (401 without a valid key, 403 without the scope or
//     right, 400 for invalid tokens);
//   - any other path needs a global admin key (IsGlobalAdmin), so that a
//     route added later is closed until someone opens it.
//
// Refusals are written as {"error": {"code": ..., "message": ...}}, the
// body of internal/httpapi, with WWW-Authenticate: Bearer on a 401.
func (z *Authorizer) Middleware(next http.Handler, o MiddlewareOptions) http.Handler {
	right := o.Right
	if right == nil {
		right = RightFor
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slices.Contains(o.Public, r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		p, err := z.Authenticate(r)
		if err != nil {
			writeRefusal(w, err)
			return
		}
		c, ok, err := CollectionFromPath(r.URL.EscapedPath())
		switch {
		case err != nil:
			writeRefusal(w, err)
			return
		case ok:
			if err := p.Allows(c, right(r)); err != nil {
				writeRefusal(w, err)
				return
			}
		case selfAuthorized(r.URL.Path, o.SelfAuthorized):
			// The handler checks each scope it touches (PrincipalFrom).
		case !p.IsGlobalAdmin():
			writeRefusal(w, &AuthError{Err: ErrForbidden, Key: p.Name, Reason: "key " + quote(p.Name) + " may not use " + quote(r.URL.Path) + ": it needs the admin right on every tenant, domain and the generic tier"})
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// IsGlobalAdmin reports whether p may administer everything: the dev and
// insecure modes, or a key with the admin right, tenants and domains "*",
// generic, and no dbTypes restriction.
func (p *Principal) IsGlobalAdmin() bool {
	if p.key == nil {
		return true
	}
	k := p.key
	return slices.Contains(k.Rights, RightAdmin) && slices.Contains(k.Tenants, "*") &&
		slices.Contains(k.Domains, "*") && k.Generic && len(k.DBTypes) == 0
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal Middleware put in ctx.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok
}

// writeRefusal writes an auth or validation error as internal/httpapi
// would (this package may not import it).
func writeRefusal(w http.ResponseWriter, err error) {
	status, code := http.StatusBadRequest, "invalid_input"
	var ae *AuthError
	if errors.As(err, &ae) {
		status, code = ae.HTTPStatus()
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="chronos"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]any{"error": map[string]any{"code": code, "message": err.Error()}})
}

func selfAuthorized(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}
