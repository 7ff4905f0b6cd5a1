package azure

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrInvalidConfig is returned (wrapped, naming the field and why) by
// Config.Validate and New for a configuration they cannot use.
var ErrInvalidConfig = errors.New("chronos: invalid azure store config")

const (
	// DefaultBlockSize is the BlockSize of a Config that leaves it 0.
	DefaultBlockSize = 4 << 20
	// MinBlockSize is the smallest BlockSize: azblob's own floor.
	MinBlockSize = 1 << 20
	// MaxBlockSize is the largest BlockSize. Azure takes blocks of up to
	// 4000 MiB, but every block of an upload in flight is held in memory.
	MaxBlockSize = 256 << 20
	// DefaultUploadConcurrency is the UploadConcurrency of a Config that
	// leaves it 0.
	DefaultUploadConcurrency = 2
)

// Config says where a Store keeps its blobs and how it signs in. Every
// field has a documented default; Validate names the first bad one.
type Config struct {
	// Endpoint is the account's blob endpoint: a URL such as
	// "https://myaccount.blob.core.windows.net", or, for Azurite,
	// "http://127.0.0.1:10000/devstoreaccount1". Required.
	Endpoint string
	// Account is the storage account's name, which signs with Key.
	// Required with Key.
	Account string
	// Key is the account's shared key (base64), with which the store signs
	// its requests and presigned URLs. Exactly one of Key and SAS is
	// required. Key never appears in errors or in String.
	Key string
	// SAS is a shared access signature (the query string, with or without
	// its leading "?") that grants read, write, delete and list on
	// Container, used instead of Key. A store with a SAS cannot presign
	// URLs: Presign returns offload.ErrPresignUnavailable. SAS never
	// appears in errors or in String.
	SAS string
	// Container holds the blobs. Required; Azure container naming rules
	// (3–63 characters of a-z, 0-9 and '-', beginning with a letter or
	// digit, no "--", not ending with '-').
	Container string
	// CreateContainer makes New create Container when it does not exist.
	// Default false: a missing container is an error.
	CreateContainer bool
	// BlockSize is the single-request threshold and block size in bytes:
	// a Put of at most BlockSize bytes is one Put Blob request, a larger one
	// an UploadStream of BlockSize blocks committed with one Put Block
	// List. Default DefaultBlockSize (4 MiB), in [MinBlockSize,
	// MaxBlockSize]. A Put buffers up to UploadConcurrency+1 blocks.
	BlockSize int64
	// UploadConcurrency is how many blocks of one Put are sent at once.
	// Default DefaultUploadConcurrency (2).
	UploadConcurrency int
}

func (c *Config) setDefaults() {
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.UploadConcurrency == 0 {
		c.UploadConcurrency = DefaultUploadConcurrency
	}
	c.SAS = strings.TrimPrefix(c.SAS, "?")
}

// Validate reports the first field of c, with defaults applied, that New
// cannot use, in an error wrapping ErrInvalidConfig. It does no I/O.
func (c Config) Validate() error {
	c.setDefaults()
	u, err := url.Parse(c.Endpoint)
	switch {
	case c.Endpoint == "":
		return fmt.Errorf("%w: Endpoint is empty", ErrInvalidConfig)
	case err != nil:
		return fmt.Errorf("%w: Endpoint is not a URL", ErrInvalidConfig)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return fmt.Errorf("%w: Endpoint %q is not an absolute http or https URL", ErrInvalidConfig, u.Redacted())
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return fmt.Errorf("%w: Endpoint has a query, fragment or user information; give a SAS in SAS", ErrInvalidConfig)
	case (c.Key == "") == (c.SAS == ""):
		return fmt.Errorf("%w: Key and SAS: give exactly one", ErrInvalidConfig)
	case c.Key != "" && c.Account == "":
		return fmt.Errorf("%w: Account is empty; it is required with Key", ErrInvalidConfig)
	case c.BlockSize < MinBlockSize || c.BlockSize > MaxBlockSize:
		return fmt.Errorf("%w: BlockSize %d is not in [%d, %d]", ErrInvalidConfig, c.BlockSize, MinBlockSize, MaxBlockSize)
	case c.UploadConcurrency < 0:
		return fmt.Errorf("%w: UploadConcurrency %d is negative", ErrInvalidConfig, c.UploadConcurrency)
	}
	if c.Key != "" {
		if _, err := base64.StdEncoding.DecodeString(c.Key); err != nil {
			return fmt.Errorf("%w: Key is not base64", ErrInvalidConfig)
		}
	}
	if c.SAS != "" {
		if q, err := url.ParseQuery(c.SAS); err != nil || q.Get("sig") == "" {
			return fmt.Errorf("%w: SAS is not a shared access signature (a query string with sig=...)", ErrInvalidConfig)
		}
	}
	return validateContainer(c.Container)
}

func validateContainer(name string) error {
	bad := func(why string) error { return fmt.Errorf("%w: Container %q %s", ErrInvalidConfig, name, why) }
	if len(name) < 3 || len(name) > 63 {
		return bad("is not 3 to 63 characters long")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return bad("has a character other than a-z, 0-9 and '-'")
		}
	}
	if name[0] == '-' || name[len(name)-1] == '-' || strings.Contains(name, "--") {
		return bad("begins or ends with '-' or contains \"--\"")
	}
	return nil
}

// String describes c with Key and SAS masked, so that a logged Config shows
// no secret.
func (c Config) String() string {
	mask := func(s string) string {
		if s == "" {
			return `""`
		}
		return "<redacted>"
	}
	return fmt.Sprintf("azure.Config{Endpoint:%q Account:%q Key:%s SAS:%s Container:%q CreateContainer:%t BlockSize:%d UploadConcurrency:%d}",
		c.Endpoint, c.Account, mask(c.Key), mask(c.SAS), c.Container, c.CreateContainer, c.BlockSize, c.UploadConcurrency)
}
