package query

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/httpapi"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/projection"
)

// ContentOptions select the version and the form of a content read.
type ContentOptions struct {
	// OV selects a version; nil reads the latest, which must not be
	// deleted (ErrNotFound).
	OV *uint64
	// Presign, when positive, returns a URL valid for that long (URL)
	// instead of the bytes, once the offloader has stored the content.
	// Content not stored yet is returned as the bytes.
	Presign time.Duration
}

// Content is the decoded content of one base64 prop of a version.
type Content struct {
	// OV is the version read.
	OV uint64
	// ContentType is the prop's configured type; for a preferredText prop
	// with its charset set to utf-8 (the text is always UTF-8).
	ContentType string
	// Size is the length of the content in bytes.
	Size int64
	// Body is the content; the caller closes it. Nil when URL is set.
	Body io.ReadCloser
	// URL, on presigned reads of stored content, is where to fetch it.
	URL *ContentURL
}

// ContentURL points at a prop's content in the content store: the object
// holds the content itself (uncompressed).
type ContentURL struct {
	URL         string    `json:"url"`
	ExpiresAt   time.Time `json:"expiresAt"`
	ContentType string    `json:"contentType"`
	Size        int64     `json:"size"`
}

// Content returns the decoded content of base64 prop of an item's
// version: from the collection's content store (offload.ContentKey) when
// the offloader has written it, else decoded from the version's payload
// (read-model inline data, version blob, or the log), so that a read
// never depends on offload lag. A prop that is not one of the
// collection's base64Props is a 400; a missing item or version, an
// erased or (for the latest) deleted one, and a version that holds no
// base64 content under prop are ErrNotFound.
func (s *Service) Content(ctx context.Context, ref events.ItemRef, prop string, o ContentOptions) (*Content, error) {
	p, ok := s.collectionMap(ref.Collection).Base64Props[prop]
	if !ok {
		return nil, invalid("prop", "%s is not a base64 property of collection %s (its collectionMaps entry's base64Props)", strconv.Quote(prop), strconv.Quote(ref.Name))
	}
	doc, err := s.contentVersion(ctx, ref, o.OV)
	if err != nil {
		return nil, err
	}
	ov := doc.System.OV
	out := &Content{OV: ov, ContentType: p.ServedType()}
	if s.opts.Content != nil {
		r, err := s.opts.Content(ref.Collection)
		if err != nil {
			return nil, err
		}
		key := offload.ContentKey(ref.Name, ref.ID, ov, prop, p.Text)
		found, err := s.storedContent(ctx, r, key, out, o.Presign)
		if err != nil {
			return nil, err
		}
		if found {
			return out, nil
		}
	}
	it, err := s.withPayload(ctx, ref, doc)
	if err != nil {
		return nil, err
	}
	data, err := offload.ContentOf(it.Data, prop, p)
	if errors.Is(err, offload.ErrNoContent) {
		return nil, fmt.Errorf("%w: %s version %d holds no content under %s: %v", ErrNotFound, ref.ID, ov, strconv.Quote(prop), err)
	}
	if err != nil {
		return nil, err
	}
	out.Size, out.Body = int64(len(data)), io.NopCloser(bytes.NewReader(data))
	return out, nil
}

// contentVersion returns the document of version ov, or of the latest
// version when ov is nil.
func (s *Service) contentVersion(ctx context.Context, ref events.ItemRef, ov *uint64) (*projection.Doc, error) {
	var doc *projection.Doc
	var err error
	if ov != nil {
		if doc, err = s.store.Version(ctx, ref, *ov); err != nil {
			return nil, s.notFound(err, ref, fmt.Sprintf(" version %d", *ov))
		}
	} else {
		if doc, err = s.store.Head(ctx, ref); err != nil {
			return nil, s.notFound(err, ref, "")
		}
		if doc.System.Deleted {
			return nil, fmt.Errorf("%w: %s was deleted at ov %d (give ?ov= to read an earlier version's content)", ErrNotFound, ref.ID, doc.System.OV)
		}
	}
	if doc.System.Op == events.OpErase {
		return nil, fmt.Errorf("%w: %s version %d is an erase and holds no content", ErrNotFound, ref.ID, doc.System.OV)
	}
	return doc, nil
}

// storedContent completes out from the object under key, reporting
// whether there is one: its bytes, or a presigned URL of it.
func (s *Service) storedContent(ctx context.Context, r offload.Reader, key string, out *Content, presign time.Duration) (bool, error) {
	if presign <= 0 {
		rc, info, err := r.Get(ctx, key)
		if errors.Is(err, offload.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		out.Size, out.Body = info.Size, rc
		return true, nil
	}
	info, err := r.Stat(ctx, key)
	if errors.Is(err, offload.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	expires := time.Now().Add(presign).UTC().Truncate(time.Second)
	u, err := r.Presign(ctx, key, presign)
	switch {
	case errors.Is(err, offload.ErrPresignUnavailable):
		return false, fmt.Errorf("%w: %v", ErrPresignUnavailable, err)
	case errors.Is(err, offload.ErrInvalidTTL):
		return false, invalid("ttl", "%v", err)
	case err != nil:
		return false, err
	}
	out.Size = info.Size
	out.URL = &ContentURL{URL: u, ExpiresAt: expires, ContentType: out.ContentType, Size: info.Size}
	return true, nil
}

// content serves GET {base}/items/{id}/content/{prop}: the decoded bytes
// with the prop's Content-Type, or, with presign=true, a ContentURL.
func (h *Handler) content(w http.ResponseWriter, r *http.Request) error {
	ref, err := itemFromPath(r)
	if err != nil {
		return err
	}
	if err := h.awaitMinSeq(r, ref.Collection); err != nil {
		return err
	}
	q := r.URL.Query()
	var o ContentOptions
	if v := q.Get("ov"); v != "" {
		ov, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return httpapi.Invalid("ov", "must be a non-negative integer, got "+strconv.Quote(v))
		}
		o.OV = &ov
	}
	if o.Presign, err = presignParams(q); err != nil {
		return err
	}
	c, err := h.svc.Content(r.Context(), ref, r.PathValue("prop"), o)
	if err != nil {
		return err
	}
	etag := strconv.Quote(strconv.FormatUint(c.OV, 10))
	if c.URL != nil {
		w.Header().Set("ETag", etag)
		httpapi.WriteJSON(w, http.StatusOK, c.URL)
		return nil
	}
	defer c.Body.Close()
	hdr := w.Header()
	hdr.Set("Content-Type", c.ContentType)
	hdr.Set("Content-Length", strconv.FormatInt(c.Size, 10))
	hdr.Set("ETag", etag)
	// The bytes are a user's, served from the API's origin: never let a
	// browser sniff them into something else or run them as a page.
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", "sandbox")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, c.Body); err != nil && h.log != nil {
		h.log.Warn("content response cut short", "item", ref.String(), "ov", c.OV, "err", err)
	}
	return nil
}
