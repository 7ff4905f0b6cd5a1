package query

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/httpapi"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/projection"
)

// ErrPresignUnavailable: the blob store of the collection cannot issue URLs
// as configured (a local store without a presign base URL, an Azure store
// with a SAS instead of the account key). 501 presign_unavailable.
var ErrPresignUnavailable = httpapi.Sentinel("chronos: presigned URLs are not available for this collection's blob store",
	http.StatusNotImplemented, "presign_unavailable")

// DefaultPresignTTL is the ttl of presign=true without ttl=.
const DefaultPresignTTL = 15 * time.Minute

// PayloadURL points at a payload in the blob store, instead of the payload
// itself (reads with ReadOptions.Presign). The object holds the payload's
// JSON compressed with Codec ("zstd", "s2" or "none"); Size and SHA256
// describe the uncompressed JSON, so the fetcher can verify it.
type PayloadURL struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
	Codec     string    `json:"codec"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256,omitempty"`
}

// presign returns a URL of doc's payload in the blob store, or nil when
// the payload is not there (held inline by the read model, an erase, or
// not offloaded yet: then the read returns the body).
func (s *Service) presign(ctx context.Context, ref events.ItemRef, doc *projection.Doc, ttl time.Duration) (*PayloadURL, error) {
	if doc.Data != nil || doc.System.Op == events.OpErase {
		return nil, nil
	}
	key, codec := "", ""
	if pr := doc.System.PayloadRef; pr != nil {
		key, codec = pr.Key, pr.Codec
	} else {
		r, err := s.blobs(ref.Collection)
		if err != nil {
			return nil, err
		}
		for _, c := range []offload.Codec{offload.CodecZstd, offload.CodecNone, offload.CodecS2} {
			k := offload.VersionKey(ref.Name, ref.ID, doc.System.OV, c)
			_, err := r.Stat(ctx, k)
			if errors.Is(err, offload.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			key, codec = k, string(c)
			break
		}
		if key == "" {
			return nil, nil // not offloaded yet: the body comes from the log
		}
	}
	expires := time.Now().Add(ttl).UTC().Truncate(time.Second)
	u, err := s.presignKey(ctx, ref.Collection, key, ttl)
	if errors.Is(err, offload.ErrPresignUnavailable) {
		return nil, fmt.Errorf("%w: %v", ErrPresignUnavailable, err)
	}
	if errors.Is(err, offload.ErrInvalidTTL) {
		return nil, invalid("ttl", "%v", err)
	}
	if err != nil {
		return nil, err
	}
	return &PayloadURL{URL: u, ExpiresAt: expires, Codec: codec, Size: doc.System.Size, SHA256: doc.System.SHA256}, nil
}

func (s *Service) presignKey(ctx context.Context, c events.Collection, key string, ttl time.Duration) (string, error) {
	if s.opts.Presign != nil {
		return s.opts.Presign(ctx, c, key, ttl)
	}
	r, err := s.blobs(c)
	if err != nil {
		return "", err
	}
	return r.Presign(ctx, key, ttl)
}

// presignParams reads ?presign=true&ttl=<duration or seconds>.
func presignParams(q url.Values) (time.Duration, error) {
	on, err := boolParam(q, "presign")
	if err != nil || !on {
		if err == nil && q.Get("ttl") != "" {
			return 0, invalid("ttl", "is only meaningful with presign=true")
		}
		return 0, err
	}
	v := q.Get("ttl")
	if v == "" {
		return DefaultPresignTTL, nil
	}
	ttl, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.ParseUint(v, 10, 32)
		if nerr != nil {
			return 0, invalid("ttl", "must be a duration such as 300s or 15m, or seconds, got %s", strconv.Quote(v))
		}
		ttl = time.Duration(n) * time.Second
	}
	if err := offload.ValidatePresignTTL(ttl); err != nil {
		return 0, invalid("ttl", "must be in (0, %v], got %s", offload.MaxPresignTTL, strconv.Quote(v))
	}
	return ttl, nil
}

// readShaper resolves the shape of a read and checks it against presign:
// a presigned URL serves the whole stored payload.
func (s *Service) readShaper(c events.Collection, o ReadOptions) (*shaper, error) {
	sh, err := o.Shape.resolve(s.collectionMap(c))
	if err != nil {
		return nil, err
	}
	if o.Presign > 0 && (sh.props != nil || len(sh.hidden) > 0) {
		return nil, invalid("presign", "a presigned URL serves the whole stored payload: it cannot be combined with fields, a projection preset, or hidden fields (add includeHidden=true)")
	}
	return sh, nil
}
