package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/chronos-go/chronos/offload"
)

// newTimeout bounds New's requests when its context has no deadline.
const newTimeout = 30 * time.Second

// abortTimeout bounds the abort of a multipart upload whose Put was
// cancelled.
const abortTimeout = 30 * time.Second

// Store is an offload.Store in one S3 bucket. It is safe for concurrent
// use.
type Store struct {
	client   *s3.Client
	presign  *s3.PresignClient
	uploader *manager.Uploader
	bucket   string
	desc     string // "bucket <name> at <endpoint>", for errors
}

var _ offload.Store = (*Store)(nil)

// New returns the Store of cfg's bucket after checking, with one request,
// that the bucket exists and the credentials may use it (creating the
// bucket first when cfg.CreateBucket is set). An invalid cfg fails with
// ErrInvalidConfig; a refused or unreachable server with an error saying
// which, never containing the secret key.
func New(ctx context.Context, cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, newTimeout)
		defer cancel()
	}
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("chronos: s3 store: loading the AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, fmt.Errorf("%w: Region is empty and the environment names none (AWS_REGION)", ErrInvalidConfig)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.ForcePathStyle
		// A multipart object has no whole-object checksum to validate on
		// Get; the SDK would log a warning for every such Get.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	s := &Store{
		client:  client,
		presign: s3.NewPresignClient(client),
		// The manager reads the body into a buffer of up to PartSize: a
		// shorter body goes out as one PutObject, a longer one as a
		// multipart upload of PartSize parts, each buffered. Every request
		// body is thus seekable, which plain-http endpoints need (the
		// SigV4 payload hash is computed before sending) and which lets the
		// SDK retry a failed request. Bodies are never seekable on the way
		// in (Put hides Seek to count the bytes), so nothing relies on the
		// caller's reader being one.
		uploader: manager.NewUploader(client, func(u *manager.Uploader) {
			u.PartSize = cfg.PartSize
			u.Concurrency = cfg.UploadConcurrency
		}),
		bucket: cfg.Bucket,
		desc:   fmt.Sprintf("bucket %q at %s", cfg.Bucket, endpointName(cfg.Endpoint)),
	}
	if cfg.CreateBucket {
		if err := s.createBucket(ctx, awsCfg.Region); err != nil {
			return nil, err
		}
	}
	// A listing rather than HeadBucket: a HEAD answer has no body, hence no
	// error code, and versitygw answers an unknown access key with 404.
	_, err = client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), MaxKeys: aws.Int32(1)})
	if err != nil {
		return nil, s.explain("checking", err)
	}
	return s, nil
}

func endpointName(endpoint string) string {
	if endpoint == "" {
		return "AWS S3"
	}
	return endpoint
}

func (s *Store) createBucket(ctx context.Context, region string) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(s.bucket)}
	if region != "us-east-1" { // the one region that refuses its own name
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(region),
		}
	}
	_, err := s.client.CreateBucket(ctx, in)
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return s.explain("creating", err)
	}
	return nil
}

// explain turns a failure of New into an error that says what to check.
func (s *Store) explain(what string, err error) error {
	const denied = " (access denied: check AccessKey and SecretKey, and the bucket's policy)"
	hint := ""
	var ae smithy.APIError
	code := ""
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	switch {
	case code == "NoSuchBucket":
		hint = " (no such bucket: create it, or set CreateBucket)"
	case code == "InvalidAccessKeyId", code == "SignatureDoesNotMatch", code == "AccessDenied",
		code == "XAdminUserNotFound", // versitygw's unknown access key, with status 404
		code == "InvalidToken", code == "ExpiredToken":
		hint = denied
	case status(err) == http.StatusForbidden, status(err) == http.StatusUnauthorized:
		hint = denied
	case status(err) == 0 && ctxDone(err):
		hint = " (timed out or cancelled)"
	case status(err) == 0:
		hint = " (no answer: check Endpoint and the network)"
	}
	return fmt.Errorf("chronos: s3 store: %s %s%s: %w", what, s.desc, hint, err)
}

func ctxDone(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// status is the HTTP status of a failed request, 0 if none came back.
func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// isNotFound reports whether err says the object does not exist: GetObject
// answers NoSuchKey, HeadObject (no body) a bare 404 the SDK calls
// NotFound. A HEAD answer has no code, so a HeadObject refused with 404
// for another reason (a missing bucket) also reads as a missing object.
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	// Any other code is something else, though its status may be 404
	// (NoSuchBucket; versitygw's XAdminUserNotFound for an unknown key).
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound"
	}
	return status(err) == http.StatusNotFound
}

// backend names this store in errors.
const backend = offload.Backend("s3 store")

// callError wraps the error of a request: ErrNotFound for a missing object,
// ctx's error (as well as the SDK's) once ctx is done.
func callError(ctx context.Context, op, key string, err error) error {
	return backend.CallError(ctx, op, key, err, isNotFound(err))
}

func info(key string, size *int64, mod *time.Time) offload.ObjectInfo {
	return offload.ObjectInfo{Key: key, Size: aws.ToInt64(size), ModTime: aws.ToTime(mod)}
}

// Get opens the object under key with one GetObject; reading the body
// fails once ctx is done.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, offload.ObjectInfo, error) {
	if err := backend.Begin(ctx, "get", key); err != nil {
		return nil, offload.ObjectInfo{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, offload.ObjectInfo{}, callError(ctx, "get", key, err)
	}
	return out.Body, info(key, out.ContentLength, out.LastModified), nil
}

// Stat returns the info of the object under key, with one HeadObject.
func (s *Store) Stat(ctx context.Context, key string) (offload.ObjectInfo, error) {
	if err := backend.Begin(ctx, "stat", key); err != nil {
		return offload.ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return offload.ObjectInfo{}, callError(ctx, "stat", key, err)
	}
	return info(key, out.ContentLength, out.LastModified), nil
}

// Put stores r under key: one PutObject below PartSize bytes, a multipart
// upload above (aborted on failure). S3 makes either atomic: the object
// appears whole when the PutObject or CompleteMultipartUpload succeeds. A
// Put whose context ends after the server committed the object but before
// the answer arrived returns ctx's error although the object was replaced;
// retrying it is safe (Put is idempotent).
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := backend.Begin(ctx, "put", key); err != nil {
		return err
	}
	body := &offload.CheckedReader{Ctx: ctx, R: r, Size: size}
	_, err := s.uploader.Upload(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(key),
		Body:        body,
		ContentType: aws.String("application/octet-stream"),
	})
	if err == nil {
		return nil
	}
	var mf manager.MultiUploadFailure
	if errors.As(err, &mf) && mf.UploadID() != "" && ctx.Err() != nil {
		// The uploader aborted the upload with the done ctx, which failed
		// and would leave its parts stored (and billed): abort it again.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		_, _ = s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: aws.String(mf.UploadID()),
		})
		cancel()
	}
	if body.Err() != nil { // the reader's failure, or a size mismatch
		return backend.OpError("put", key, body.Err())
	}
	return callError(ctx, "put", key, err)
}

// Delete removes the object under key with one DeleteObject.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := backend.Begin(ctx, "delete", key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil && !isNotFound(err) {
		return callError(ctx, "delete", key, err)
	}
	return nil
}

// Presign returns a SigV4 presigned GetObject URL, signed locally (no
// request) with the store's credentials. ttl is rounded up to whole
// seconds, the unit of X-Amz-Expires.
func (s *Store) Presign(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := backend.Begin(ctx, "presign", key); err != nil {
		return "", err
	}
	if err := offload.ValidatePresignTTL(ttl); err != nil {
		return "", backend.OpError("presign", key, err)
	}
	if rem := ttl % time.Second; rem != 0 {
		ttl += time.Second - rem
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", callError(ctx, "presign", key, err)
	}
	return req.URL, nil
}
