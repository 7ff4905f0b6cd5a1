package wiring

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/offload/local"
	"github.com/chronos-go/chronos/tenancy"
)

// PresignPath is the path below a service's public URL at which
// ServePresigned is mounted, as "GET /v1/blobs/{bucket}/{key...}":
// Options.PresignBaseURL is the public URL followed by PresignPath.
const PresignPath = "/v1/blobs"

// presigner issues and serves the presigned URLs of the local buckets one
// Deps opens. Each bucket signs with a secret of its own, derived from the
// process's (Options.PresignSecret) and the bucket's spaces connection and
// name, so that a URL of one bucket never opens another's object with the
// same key.
type presigner struct {
	base   string // Options.PresignBaseURL without a trailing "/"; "" when off
	path   string // the decoded path of base, without a trailing "/"
	secret []byte
	help   string

	mu struct {
		sync.Mutex
		stores map[[2]string]*local.Store // (spaces ref, bucket) → store
	}
}

func newPresigner(o Options) (*presigner, error) {
	p := &presigner{help: o.PresignHelp}
	p.mu.stores = map[[2]string]*local.Store{}
	switch {
	case o.PresignSecret == nil:
		p.secret = make([]byte, local.MinPresignSecret)
		_, _ = rand.Read(p.secret) // never fails (crypto/rand)
	case len(o.PresignSecret) < local.MinPresignSecret:
		return nil, fmt.Errorf("%w: PresignSecret is %d bytes, want at least %d", local.ErrInvalidOptions, len(o.PresignSecret), local.MinPresignSecret)
	default:
		p.secret = slices.Clone(o.PresignSecret)
	}
	if o.PresignBaseURL == "" {
		return p, nil
	}
	u, err := url.Parse(o.PresignBaseURL)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: PresignBaseURL: %v", local.ErrInvalidOptions, err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return nil, fmt.Errorf("%w: PresignBaseURL %q is not an absolute http or https URL", local.ErrInvalidOptions, o.PresignBaseURL)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil:
		return nil, fmt.Errorf("%w: PresignBaseURL %q has a query, a fragment or user information", local.ErrInvalidOptions, u.Redacted())
	}
	p.base = strings.TrimSuffix(o.PresignBaseURL, "/")
	p.path = strings.TrimSuffix(u.Path, "/")
	return p, nil
}

// bucketSecret is the signing secret of one bucket.
func (p *presigner) bucketSecret(ref, bucket string) []byte {
	h := hmac.New(sha256.New, p.secret)
	h.Write([]byte("chronos-local-presign-bucket-v1\n" + ref + "\n" + bucket))
	return h.Sum(nil)
}

// open opens local bucket name of spaces connection ref in dir.
func (p *presigner) open(ref, dir, name string) (offload.Store, error) {
	o := local.Options{PresignSecret: p.bucketSecret(ref, name)}
	if p.base != "" {
		o.PresignBaseURL = p.base + "/" + url.PathEscape(name)
	}
	st, err := local.OpenWith(dir, o)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.mu.stores[[2]string{ref, name}] = st
	p.mu.Unlock()
	if p.base == "" && p.help != "" {
		return presignHelp{Store: st, help: p.help}, nil
	}
	return st, nil
}

func (p *presigner) opened(ref, bucket string) *local.Store {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.stores[[2]string{ref, bucket}]
}

// presignHelp adds what enables presigning to the error of a local store
// that has no base URL.
type presignHelp struct {
	offload.Store
	help string
}

var _ offload.Store = presignHelp{}

func (s presignHelp) Presign(ctx context.Context, key string, ttl time.Duration) (string, error) {
	u, err := s.Store.Presign(ctx, key, ttl)
	if errors.Is(err, offload.ErrPresignUnavailable) {
		return "", fmt.Errorf("%w; %s", err, s.help)
	}
	return u, err
}

// ServePresigned serves the presigned URLs of the local buckets, mounted
// at "GET /v1/blobs/{bucket}/{key...}" without authentication: the
// signature is the authorization. It answers as local.Store.ServePresigned
// does (403 for a tampered, foreign or expired URL, 404 for a missing
// object, else the stored bytes), and 403 for a bucket that is not a local
// bucket of the configuration, or when this process issues no URLs
// (Options.PresignBaseURL empty). A bucket not opened yet (URLs issued by
// another process with the same secret) is opened if its directory exists.
// When several local spaces connections hold a bucket of the same name,
// the first (localStorage, then by name) serves it.
func (d *Deps) ServePresigned(w http.ResponseWriter, r *http.Request) {
	bucket, key := r.PathValue("bucket"), r.PathValue("key")
	st := d.presignedBucket(r.Context(), bucket)
	if st == nil {
		http.Error(w, "forbidden: invalid or expired signature", http.StatusForbidden)
		return
	}
	// The store checks the path the URL was issued with; a proxy in front
	// may have stripped the public URL's own path.
	if want := d.presign.path + "/" + bucket + "/" + key; r.URL.Path != want {
		u := *r.URL
		u.Path, u.RawPath = want, ""
		r = r.WithContext(r.Context())
		r.URL = &u
	}
	st.ServePresigned(w, r)
}

// presignedBucket returns the local store of bucket, or nil.
func (d *Deps) presignedBucket(ctx context.Context, bucket string) *local.Store {
	p := d.presign
	if p.base == "" || bucketProblem(bucket) {
		return nil
	}
	refs := d.localSpaces()
	for _, ref := range refs {
		if st := p.opened(ref, bucket); st != nil {
			return st
		}
	}
	for _, ref := range refs {
		rt := tenancy.Route{SpaceConnRef: ref, Backend: tenancy.BackendLocal, Spaces: d.spaces(ref)}
		if fi, err := os.Stat(filepath.Join(rt.Spaces.BasePath, bucket)); err != nil || !fi.IsDir() {
			continue // never create a directory for a request
		}
		if _, err := d.Pool.Bucket(ctx, rt, bucket); err != nil {
			continue
		}
		if st := p.opened(ref, bucket); st != nil {
			return st
		}
	}
	return nil
}

// localSpaces returns the refs of the local spaces connections: "" (the
// localStorage block) first, then the named ones in order.
func (d *Deps) localSpaces() []string {
	var refs []string
	if d.Config.LocalStorage.BasePath != "" {
		refs = append(refs, "")
	}
	var named []string
	for ref, sc := range d.Config.SpacesConnections {
		if sc.Type == tenancy.BackendLocal && sc.BasePath != "" {
			named = append(named, ref)
		}
	}
	slices.Sort(named)
	return append(refs, named...)
}

func (d *Deps) spaces(ref string) tenancy.SpacesConnection {
	if ref == "" {
		return tenancy.SpacesConnection{Type: tenancy.BackendLocal, BasePath: d.Config.LocalStorage.BasePath}
	}
	return d.Config.SpacesConnections[ref]
}

// bucketProblem reports whether name cannot be a bucket: bucket names are
// S3's (lower-case letters, digits, '.' and '-'), so a request's path
// segment never names a directory outside the base path.
func bucketProblem(name string) bool {
	return name == "" || len(name) > 63 || strings.Contains(name, "..") || name[0] == '.' ||
		strings.IndexFunc(name, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') }) >= 0
}
