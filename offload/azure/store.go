package azure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/chronos-go/chronos/offload"
)

// newTimeout bounds New's requests when its context has no deadline.
const newTimeout = 30 * time.Second

// Store is an offload.Store in one Azure Blob Storage container, holding
// every object as a block blob. It is safe for concurrent use.
type Store struct {
	client    *container.Client
	cred      *azblob.SharedKeyCredential // nil with a SAS: no Presign
	container string
	https     bool
	blockSize int64
	uploaders int
	desc      string // "container <name> at <endpoint>", for errors

	markers struct { // see list.go
		sync.Mutex
		m map[markerKey]marker
	}
}

var _ offload.Store = (*Store)(nil)

// New returns the Store of cfg's container after checking, with one
// listing request, that the container exists and the credentials may use
// it (creating the container first when cfg.CreateContainer is set). An
// invalid cfg fails with ErrInvalidConfig; a refused or unreachable server
// with an error saying which, never containing Key or SAS.
func New(ctx context.Context, cfg Config) (*Store, error) {
	return newWithOptions(ctx, cfg, nil)
}

// newWithOptions is New with azblob client options (tests count requests).
func newWithOptions(ctx context.Context, cfg Config, opts *container.ClientOptions) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, newTimeout)
		defer cancel()
	}
	endpoint := strings.TrimSuffix(cfg.Endpoint, "/")
	containerURL := endpoint + "/" + cfg.Container
	s := &Store{
		container: cfg.Container,
		https:     strings.HasPrefix(endpoint, "https:"),
		blockSize: cfg.BlockSize,
		uploaders: cfg.UploadConcurrency,
		desc:      fmt.Sprintf("container %q at %s", cfg.Container, endpoint),
	}
	s.markers.m = make(map[markerKey]marker)
	var err error
	if cfg.Key != "" {
		if s.cred, err = azblob.NewSharedKeyCredential(cfg.Account, cfg.Key); err != nil {
			return nil, fmt.Errorf("%w: Key: not a shared key", ErrInvalidConfig)
		}
		s.client, err = container.NewClientWithSharedKeyCredential(containerURL, s.cred, opts)
	} else {
		s.client, err = container.NewClientWithNoCredential(containerURL+"?"+cfg.SAS, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("chronos: azure store: %s: %w", s.desc, redact(err))
	}
	if cfg.CreateContainer {
		_, err := s.client.Create(ctx, nil)
		if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
			return nil, s.explain("creating", err)
		}
	}
	pager := s.client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{MaxResults: to.Ptr[int32](1)})
	if _, err := pager.NextPage(ctx); err != nil {
		return nil, s.explain("checking", err)
	}
	return s, nil
}

// explain turns a failure of New into an error that says what to check.
func (s *Store) explain(what string, err error) error {
	hint := ""
	var re *azcore.ResponseError
	switch {
	case bloberror.HasCode(err, bloberror.ContainerNotFound):
		hint = " (no such container: create it, or set CreateContainer)"
	case bloberror.HasCode(err, bloberror.AuthenticationFailed, bloberror.AuthorizationFailure,
		bloberror.AuthorizationPermissionMismatch, bloberror.InvalidAuthenticationInfo):
		hint = " (access denied: check Account and Key, or SAS)"
	case errors.As(err, &re) && (re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized):
		hint = " (access denied: check Account and Key, or SAS)"
	case errors.As(err, &re):
		// Another answer: its code and body say it all.
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		hint = " (timed out or cancelled)"
	default:
		hint = " (no answer: check Endpoint and the network)"
	}
	return fmt.Errorf("chronos: azure store: %s %s%s: %w", what, s.desc, hint, redact(err))
}

// redact removes the query (a SAS: sig=...) from the URL of a transport
// error, which would otherwise print it; azcore's ResponseError prints no
// query. It changes err in place and returns it.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.RawQuery != "" {
			u.RawQuery = "REDACTED"
			ue.URL = u.String()
		} else if perr != nil {
			ue.URL = "REDACTED"
		}
	}
	return err
}

// isNotFound reports whether err says the blob does not exist. Azure sends
// its error code in a header, so even a HEAD answer (GetProperties) has one.
func isNotFound(err error) bool {
	if bloberror.HasCode(err, bloberror.BlobNotFound) {
		return true
	}
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound && re.ErrorCode == ""
}

// backend names this store in errors.
const backend = offload.Backend("azure store")

// callError wraps the error of a request: ErrNotFound for a missing blob,
// ctx's error (as well as the SDK's) once ctx is done. The SDK's error is
// redacted first.
func callError(ctx context.Context, op, key string, err error) error {
	err = redact(err)
	return backend.CallError(ctx, op, key, err, isNotFound(err))
}

func info(key string, size *int64, mod *time.Time) offload.ObjectInfo {
	var i offload.ObjectInfo
	i.Key = key
	if size != nil {
		i.Size = *size
	}
	if mod != nil {
		i.ModTime = *mod
	}
	return i
}

// Get opens the blob under key with one Get Blob; reading the body fails
// once ctx is done.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, offload.ObjectInfo, error) {
	if err := backend.Begin(ctx, "get", key); err != nil {
		return nil, offload.ObjectInfo{}, err
	}
	resp, err := s.client.NewBlobClient(key).DownloadStream(ctx, nil)
	if err != nil {
		return nil, offload.ObjectInfo{}, callError(ctx, "get", key, err)
	}
	return resp.Body, info(key, resp.ContentLength, resp.LastModified), nil
}

// Stat returns the info of the blob under key, with one Get Blob
// Properties.
func (s *Store) Stat(ctx context.Context, key string) (offload.ObjectInfo, error) {
	if err := backend.Begin(ctx, "stat", key); err != nil {
		return offload.ObjectInfo{}, err
	}
	resp, err := s.client.NewBlobClient(key).GetProperties(ctx, nil)
	if err != nil {
		return offload.ObjectInfo{}, callError(ctx, "stat", key, err)
	}
	return info(key, resp.ContentLength, resp.LastModified), nil
}

// Put stores r under key as a block blob: one Put Blob when r ends within
// BlockSize bytes, else azblob's UploadStream, which stages BlockSize blocks
// and commits them with one Put Block List. Either request replaces the
// blob atomically; the blocks of a failed UploadStream stay uncommitted,
// invisible, and are discarded by Azure after a week. A Put whose context
// ends after the server committed the blob but before the answer arrived
// returns ctx's error although the blob was replaced; retrying it is safe.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := backend.Begin(ctx, "put", key); err != nil {
		return err
	}
	body := &offload.CheckedReader{Ctx: ctx, R: r, Size: size}
	// Read one byte more than a block: a body that ends within it goes out
	// in one request, from a buffer the SDK can rewind to retry.
	first, err := io.ReadAll(io.LimitReader(body, s.blockSize+1))
	if err != nil {
		return backend.OpError("put", key, err)
	}
	bb := s.client.NewBlockBlobClient(key)
	headers := &blob.HTTPHeaders{BlobContentType: to.Ptr("application/octet-stream")}
	if int64(len(first)) <= s.blockSize {
		_, err = bb.Upload(ctx, streaming.NopCloser(bytes.NewReader(first)), &blockblob.UploadOptions{HTTPHeaders: headers})
	} else {
		_, err = bb.UploadStream(ctx, io.MultiReader(bytes.NewReader(first), body), &blockblob.UploadStreamOptions{
			BlockSize:   s.blockSize,
			Concurrency: s.uploaders,
			HTTPHeaders: headers,
		})
	}
	switch {
	case err == nil:
		return nil
	case body.Err() != nil: // the reader's failure, or a size mismatch
		return backend.OpError("put", key, body.Err())
	}
	return callError(ctx, "put", key, err)
}

// Delete removes the blob under key, and its snapshots, with one Delete
// Blob.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := backend.Begin(ctx, "delete", key); err != nil {
		return err
	}
	_, err := s.client.NewBlobClient(key).Delete(ctx, &blob.DeleteOptions{
		DeleteSnapshots: to.Ptr(blob.DeleteSnapshotsOptionTypeInclude),
	})
	if err != nil && !isNotFound(err) {
		return callError(ctx, "delete", key, err)
	}
	return nil
}
