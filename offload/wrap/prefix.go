package wrap

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/chronos-go/chronos/offload"
)

// ValidatePrefix reports whether Prefix accepts prefix: a valid key
// followed by "/", such as "tenant-a/" or "runtime/tenant/acme/". The
// trailing "/" is what isolates tenants: "t1/" is never a prefix of
// "t12/...", while "t1" would be. The error wraps offload.ErrInvalidKey.
func ValidatePrefix(prefix string) error {
	if !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("%w: prefix %q does not end with '/'", offload.ErrInvalidKey, prefix)
	}
	if err := offload.ValidateKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("prefix %q: %w", prefix, err)
	}
	return nil
}

// Prefix returns a Store that keeps every key of s under prefix: key k of
// the returned Store is key prefix+k of s. List sees only keys under
// prefix and returns them without it, so stores with different prefixes
// over one bucket never see each other's objects. Presigned URLs name the
// full key. A key longer than offload.MaxKeyLen-len(prefix) fails with
// offload.ErrInvalidKey. Prefix panics if ValidatePrefix rejects prefix, a
// programming error like a bad regexp.MustCompile pattern; check untrusted
// input with ValidatePrefix first.
func Prefix(s offload.Store, prefix string) offload.Store {
	if err := ValidatePrefix(prefix); err != nil {
		panic("chronos: wrap.Prefix: " + err.Error())
	}
	return &prefixStore{s: s, prefix: prefix}
}

type prefixStore struct {
	s      offload.Store
	prefix string
}

var _ offload.Store = (*prefixStore)(nil)

// full validates key as the caller gave it, so that errors name the key the
// caller knows, and returns it with the prefix.
func (p *prefixStore) full(key string) (string, error) {
	if err := offload.ValidateKey(key); err != nil {
		return "", err
	}
	if n := len(p.prefix) + len(key); n > offload.MaxKeyLen {
		return "", fmt.Errorf("%w %q: is %d bytes with the store's prefix %q, longer than %d",
			offload.ErrInvalidKey, key, n, p.prefix, offload.MaxKeyLen)
	}
	return p.prefix + key, nil
}

func (p *prefixStore) Get(ctx context.Context, key string) (io.ReadCloser, offload.ObjectInfo, error) {
	full, err := p.full(key)
	if err != nil {
		return nil, offload.ObjectInfo{}, err
	}
	rc, info, err := p.s.Get(ctx, full)
	info.Key = strings.TrimPrefix(info.Key, p.prefix)
	return rc, info, err
}

func (p *prefixStore) Stat(ctx context.Context, key string) (offload.ObjectInfo, error) {
	full, err := p.full(key)
	if err != nil {
		return offload.ObjectInfo{}, err
	}
	info, err := p.s.Stat(ctx, full)
	info.Key = strings.TrimPrefix(info.Key, p.prefix)
	return info, err
}

func (p *prefixStore) List(ctx context.Context, o offload.ListOptions) (offload.ListPage, error) {
	inner := offload.ListOptions{Prefix: p.prefix + o.Prefix, Limit: o.Limit}
	if o.StartAfter != "" {
		inner.StartAfter = p.prefix + o.StartAfter
	}
	page, err := p.s.List(ctx, inner)
	if err != nil {
		return offload.ListPage{}, err
	}
	for i := range page.Objects {
		page.Objects[i].Key = strings.TrimPrefix(page.Objects[i].Key, p.prefix)
	}
	page.Next = strings.TrimPrefix(page.Next, p.prefix)
	return page, nil
}

func (p *prefixStore) Presign(ctx context.Context, key string, ttl time.Duration) (string, error) {
	full, err := p.full(key)
	if err != nil {
		return "", err
	}
	return p.s.Presign(ctx, full, ttl)
}

func (p *prefixStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	full, err := p.full(key)
	if err != nil {
		return err
	}
	return p.s.Put(ctx, full, r, size)
}

func (p *prefixStore) Delete(ctx context.Context, key string) error {
	full, err := p.full(key)
	if err != nil {
		return err
	}
	return p.s.Delete(ctx, full)
}
