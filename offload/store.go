package offload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrNotFound is returned (wrapped; match it with errors.Is) by Get and Stat
// of a key that holds no object. Every backend maps its own not-found error
// to it.
var ErrNotFound = errors.New("chronos: blob not found")

// ErrInvalidKey is returned (wrapped, with a message naming the key and the
// rule it breaks) by every method given a key that [ValidateKey] rejects,
// before any I/O.
var ErrInvalidKey = errors.New("chronos: invalid blob key")

// ErrSizeMismatch is returned (wrapped) by Put when its reader yields a
// different number of bytes than the size it was given. Nothing is stored.
var ErrSizeMismatch = errors.New("chronos: blob size mismatch")

// ErrPresignUnavailable is returned (wrapped, saying why) by Presign when
// the store cannot issue URLs as configured: a local store without a base
// URL, an Azure store that holds a SAS instead of the account key. Callers
// may then serve the object themselves.
var ErrPresignUnavailable = errors.New("chronos: presigned URLs unavailable")

// ErrInvalidTTL is returned (wrapped) by Presign for a ttl that is not
// positive or exceeds MaxPresignTTL.
var ErrInvalidTTL = errors.New("chronos: invalid presign ttl")

// MaxPresignTTL is the longest ttl Presign accepts: seven days, the limit of
// S3 SigV4 presigned URLs, kept by every backend so that callers can move
// between them.
const MaxPresignTTL = 7 * 24 * time.Hour

// ValidatePresignTTL returns an error wrapping ErrInvalidTTL unless ttl is
// in (0, MaxPresignTTL]. Every backend's Presign checks it first.
func ValidatePresignTTL(ttl time.Duration) error {
	if ttl <= 0 || ttl > MaxPresignTTL {
		return fmt.Errorf("%w: %v is not in (0, %v]", ErrInvalidTTL, ttl, MaxPresignTTL)
	}
	return nil
}

// DefaultListLimit is the page size of List when ListOptions.Limit is 0 or
// negative, and the largest page a backend must support (S3's maximum).
const DefaultListLimit = 1000

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key string
	// Size is the object's size in bytes, as stored (compressed, if it was).
	Size int64
	// ModTime is when the object was last written, by the backend's clock.
	// Its resolution is the backend's (one second on S3 HEAD responses).
	ModTime time.Time
}

// ListOptions selects and pages a List. The zero value lists everything from
// the start, one page of DefaultListLimit objects at a time.
type ListOptions struct {
	// Prefix selects keys that begin with it, as a plain string prefix (like
	// S3): "coll/item1" matches "coll/item1/v0/item.json" and also
	// "coll/item10/v0/item.json"; end it with "/" to select one "directory".
	// Any string is accepted; one no valid key begins with lists nothing.
	Prefix string
	// StartAfter selects keys strictly greater than it (byte order). It need
	// not be an existing key. Pass the previous page's Next to continue.
	StartAfter string
	// Limit is the largest number of objects in the page; 0 (or negative)
	// means DefaultListLimit. Values above DefaultListLimit may be capped.
	Limit int
}

// ListPage is one page of a listing.
type ListPage struct {
	// Objects are in ascending byte order of their keys. A page may hold
	// fewer than Limit objects even when more remain, but never none unless
	// Next is "".
	Objects []ObjectInfo
	// Next is the StartAfter that continues the listing (the last key of
	// this page), or "" when no further key matched at the time of the call.
	Next string
}

// Reader is the read-only half of a [Store], which is all the query service
// needs. Implementations are safe for concurrent use.
//
// Every method validates its key with [ValidateKey] first and returns
// [ErrInvalidKey] for a bad one; every method returns an error wrapping
// ctx.Err() when ctx is done before or during the call.
type Reader interface {
	// Get opens the object under key, with its info. The caller must close
	// the returned reader. A missing key returns ErrNotFound. The content is
	// exactly one complete version of the object, never a mix of an old and
	// a concurrent new Put. Reads fail once ctx is done.
	Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)
	// Stat returns the info of the object under key, or ErrNotFound.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List returns one page of the objects whose keys match o, in ascending
	// lexicographic byte order of the keys (the order of S3 ListObjectsV2).
	// Exception: Azure Blob Storage lists in UTF-16 code-unit order, which
	// differs from byte order only between a key with a character in
	// U+E000–U+FFFF and one above U+FFFF at their first difference
	// (storetest.Features.ListOrderUTF16 states it). Following Next until it is ""
	// visits every key that existed during the whole walk exactly once.
	List(ctx context.Context, o ListOptions) (ListPage, error)
	// Presign returns an http(s) URL with which anyone, without other
	// credentials, can GET the object under key until ttl has passed. The
	// URL is signed: once it has expired, or been tampered with (its path,
	// expiry or signature changed), a request for it fails with 403
	// Forbidden; a malformed parameter may give another 4xx status instead.
	// A URL for a missing object gives 404 Not Found. Presign does no I/O
	// and does not check that the object exists; the URL serves whatever
	// object is under key when it is fetched.
	//
	// ttl must be in (0, MaxPresignTTL], else ErrInvalidTTL. Expiry is
	// checked by the server's clock at whole seconds, so a URL may work for
	// up to a second more than ttl. A store that cannot sign URLs returns
	// ErrPresignUnavailable.
	Presign(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// Store is a [Reader] that can also write. Implementations are safe for
// concurrent use.
type Store interface {
	Reader
	// Put stores the bytes of r under key, replacing any object there.
	// size is the number of bytes r yields, or -1 if unknown; a different
	// count fails with ErrSizeMismatch. r need not be seekable.
	//
	// Put is idempotent and atomic: writing the same key again replaces the
	// object as a whole, and a concurrent reader sees the old or the new
	// object, never a partial one. When Put returns an error (a failing
	// reader, a size mismatch, a cancelled ctx), the previous object under
	// key, if any, is unchanged and no partial object is visible. A failing
	// reader's error is returned wrapped. When Put returns nil, the object
	// is durable as far as the backend promises (local: fsynced).
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Delete removes the object under key. Deleting a missing key is not an
	// error.
	Delete(ctx context.Context, key string) error
}
