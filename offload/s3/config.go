package s3

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrInvalidConfig is returned (wrapped, naming the field and why) by
// Config.Validate and New for a configuration they cannot use.
var ErrInvalidConfig = errors.New("chronos: invalid s3 store config")

const (
	// DefaultPartSize is the PartSize of a Config that leaves it 0.
	DefaultPartSize = 16 << 20
	// MinPartSize is the smallest part S3 accepts in a multipart upload
	// (but for the last part), and the smallest PartSize.
	MinPartSize = 5 << 20
	// MaxPartSize is the largest part S3 accepts, and the largest PartSize.
	MaxPartSize = 5 << 30
	// DefaultUploadConcurrency is the UploadConcurrency of a Config that
	// leaves it 0.
	DefaultUploadConcurrency = 2
)

// Config says where a Store keeps its objects and how it signs in. Every
// field has a documented default; Validate names the first bad one.
type Config struct {
	// Endpoint is the base URL of an S3-compatible server, e.g.
	// "http://127.0.0.1:7070". Empty: AWS S3, addressed by Region (or the
	// AWS_ENDPOINT_URL environment variable).
	Endpoint string
	// Region signs requests and places a created bucket. Empty: the SDK's
	// default chain (AWS_REGION, the shared config file); New fails if that
	// finds none either.
	Region string
	// Bucket holds the objects. Required; S3 bucket naming rules (3–63
	// characters of a-z, 0-9, '.' and '-', beginning and ending with a
	// letter or digit).
	Bucket string
	// AccessKey and SecretKey are static credentials; give both or
	// neither. Neither: the SDK's default chain (environment, shared
	// files, web identity, ECS or EC2 roles). SecretKey never appears in
	// errors or in String.
	AccessKey, SecretKey string
	// ForcePathStyle addresses the bucket in the path (endpoint/bucket/key)
	// rather than in the host name (bucket.endpoint/key), as most
	// self-hosted servers need. Default false: virtual-hosted style, AWS's.
	ForcePathStyle bool
	// PartSize is the multipart threshold and part size in bytes: a Put of
	// fewer bytes is one PutObject, a larger one a multipart upload of
	// PartSize parts. Default DefaultPartSize (16 MiB); at least
	// MinPartSize (5 MiB), at most MaxPartSize (5 GiB). A multipart Put
	// buffers up to UploadConcurrency+2 parts in memory.
	PartSize int64
	// UploadConcurrency is how many parts of one multipart Put are sent at
	// once. Default DefaultUploadConcurrency (2).
	UploadConcurrency int
	// CreateBucket makes New create Bucket when it does not exist. Default
	// false: a missing bucket is an error.
	CreateBucket bool
}

func (c *Config) setDefaults() {
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.UploadConcurrency == 0 {
		c.UploadConcurrency = DefaultUploadConcurrency
	}
}

// Validate reports the first field of c, with defaults applied, that New
// cannot use, in an error wrapping ErrInvalidConfig. It does no I/O.
func (c Config) Validate() error {
	c.setDefaults()
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		switch {
		case err != nil:
			return fmt.Errorf("%w: Endpoint: %v", ErrInvalidConfig, err)
		case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
			return fmt.Errorf("%w: Endpoint %q is not an absolute http or https URL", ErrInvalidConfig, c.Endpoint)
		case u.User != nil:
			return fmt.Errorf("%w: Endpoint has user information; use AccessKey and SecretKey", ErrInvalidConfig)
		case u.RawQuery != "" || u.Fragment != "":
			return fmt.Errorf("%w: Endpoint %q has a query or fragment", ErrInvalidConfig, c.Endpoint)
		}
	}
	if err := validateBucket(c.Bucket); err != nil {
		return err
	}
	switch {
	case (c.AccessKey == "") != (c.SecretKey == ""):
		return fmt.Errorf("%w: AccessKey and SecretKey: give both or neither", ErrInvalidConfig)
	case c.PartSize < MinPartSize || c.PartSize > MaxPartSize:
		return fmt.Errorf("%w: PartSize %d is not in [%d, %d]", ErrInvalidConfig, c.PartSize, MinPartSize, int64(MaxPartSize))
	case c.UploadConcurrency < 0:
		return fmt.Errorf("%w: UploadConcurrency %d is negative", ErrInvalidConfig, c.UploadConcurrency)
	}
	return nil
}

func validateBucket(b string) error {
	bad := func(why string) error { return fmt.Errorf("%w: Bucket %q %s", ErrInvalidConfig, b, why) }
	if len(b) < 3 || len(b) > 63 {
		return bad("is not 3 to 63 characters long")
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		switch {
		case !alnum && c != '.' && c != '-':
			return bad("has a character other than a-z, 0-9, '.' and '-'")
		case !alnum && (i == 0 || i == len(b)-1):
			return bad("does not begin and end with a letter or digit")
		}
	}
	if strings.Contains(b, "..") {
		return bad("contains \"..\"")
	}
	return nil
}

// String describes c with SecretKey masked, so that a logged Config shows
// no secret.
func (c Config) String() string {
	secret := ""
	if c.SecretKey != "" {
		secret = "<redacted>"
	}
	return fmt.Sprintf("s3.Config{Endpoint:%q Region:%q Bucket:%q AccessKey:%q SecretKey:%s ForcePathStyle:%t PartSize:%d UploadConcurrency:%d CreateBucket:%t}",
		c.Endpoint, c.Region, c.Bucket, c.AccessKey, secret, c.ForcePathStyle, c.PartSize, c.UploadConcurrency, c.CreateBucket)
}
