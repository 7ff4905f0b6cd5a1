package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chronos-go/chronos/internal/testenv"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/offload/storetest"
)

// testConfig is the Config of a new, uniquely named bucket on srv.
func testConfig(srv *testenv.S3) Config {
	b := make([]byte, 6)
	rand.Read(b)
	return Config{
		Endpoint:       srv.Endpoint,
		Region:         srv.Region,
		Bucket:         "chronos-test-" + hex.EncodeToString(b),
		AccessKey:      srv.AccessKey,
		SecretKey:      srv.SecretKey,
		ForcePathStyle: true,
		CreateBucket:   true,
	}
}

// newStore creates the bucket of cfg and removes it, objects included, at
// cleanup (an external server is shared).
func newStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { removeBucket(t, s) })
	return s
}

func removeBucket(t *testing.T, s *Store) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Logf("cleanup: listing %s: %v", s.bucket, err)
			return
		}
		for _, obj := range page.Contents {
			if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: obj.Key}); err != nil {
				t.Logf("cleanup: %v", err)
			}
		}
	}
	if _, err := s.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		t.Logf("cleanup: removing bucket %s: %v", s.bucket, err)
	}
}

func TestConformance(t *testing.T) {
	srv := testenv.StartS3(t)
	storetest.Run(t, func(t *testing.T) offload.Store { return newStore(t, testConfig(srv)) }, storetest.Features{})
}

// onlyReader hides Seek and ReaderAt, as a network body would.
func onlyReader(b []byte) io.Reader { return struct{ io.Reader }{bytes.NewReader(b)} }

func TestMultipart(t *testing.T) {
	srv := testenv.StartS3(t)
	cfg := testConfig(srv)
	cfg.PartSize = MinPartSize
	s := newStore(t, cfg)

	data := make([]byte, 20<<20)
	rand.Read(data)
	if err := s.Put(t.Context(), "big/item.json", onlyReader(data), -1); err != nil {
		t.Fatalf("Put of 20 MiB, unknown size: %v", err)
	}
	head, err := s.client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String("big/item.json")})
	if err != nil {
		t.Fatal(err)
	}
	// The ETag of a multipart object ends in "-<number of parts>".
	if etag := aws.ToString(head.ETag); !strings.HasSuffix(strings.Trim(etag, `"`), "-4") {
		t.Errorf("ETag %s: want a multipart upload of 4 parts", etag)
	}
	rc, info, err := s.Get(t.Context(), "big/item.json")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	if n, err := io.Copy(h, rc); err != nil || n != int64(len(data)) || info.Size != n {
		t.Fatalf("read %d bytes (info %d): %v", n, info.Size, err)
	}
	if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("the object read back differs from the one put")
	}

	// A multipart Put that fails midway leaves the old object and no
	// upload in progress (it is aborted).
	boom := errors.New("reader broke")
	r := io.MultiReader(bytes.NewReader(data[:12<<20]), &failing{boom})
	if err := s.Put(t.Context(), "big/item.json", r, int64(len(data))); !errors.Is(err, boom) {
		t.Fatalf("failing multipart Put: err = %v, want the reader's error", err)
	}
	if err := s.Put(t.Context(), "big/other.json", onlyReader(data[:11<<20]), 12<<20); !errors.Is(err, offload.ErrSizeMismatch) {
		t.Fatalf("short multipart Put: err = %v, want ErrSizeMismatch", err)
	}
	if st, err := s.Stat(t.Context(), "big/item.json"); err != nil || st.Size != int64(len(data)) {
		t.Fatalf("after failed Puts: %+v, %v", st, err)
	}
	// Cancelled midway: the uploader's own abort fails with the cancelled
	// context; Put aborts again.
	ctx, cancel := context.WithCancel(t.Context())
	r = io.MultiReader(bytes.NewReader(data[:12<<20]), readerFunc(func([]byte) (int, error) {
		cancel()
		time.Sleep(100 * time.Millisecond) // let the part uploads see it
		return 0, io.EOF
	}), bytes.NewReader(data[:6<<20]))
	if err := s.Put(ctx, "big/cancelled.json", r, -1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled multipart Put: err = %v, want context.Canceled", err)
	}
	cancel()
	ups, err := s.client.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Fatalf("%d multipart uploads left after failed Puts", len(ups.Uploads))
	}
}

type failing struct{ err error }

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func (f *failing) Read([]byte) (int, error) { return 0, f.err }

func get(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestPresignSignatureEnforced checks on the server that enforces SigV4
// what the conformance suite checks generically.
func TestPresignSignatureEnforced(t *testing.T) {
	srv := testenv.StartS3(t)
	s := newStore(t, testConfig(srv))
	if err := s.Put(t.Context(), "p/item.json", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	raw, err := s.Presign(t.Context(), "p/item.json", 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(raw)
	if got := u.Query().Get("X-Amz-Expires"); got != "2" {
		t.Errorf("X-Amz-Expires = %q, want 2 (the ttl rounded up)", got)
	}
	if code := get(t, raw); code != http.StatusOK {
		t.Fatalf("GET presigned: %d", code)
	}
	// versitygw answers a malformed X-Amz-Date or X-Amz-Credential with
	// 400; the conformance suite allows any 4xx for those.
	for _, p := range []string{"X-Amz-Signature", "X-Amz-Expires"} {
		q := u.Query()
		v := []byte(q.Get(p))
		v[len(v)-1] ^= 1 // another hex digit, another number
		q.Set(p, string(v))
		bad := *u
		bad.RawQuery = q.Encode()
		if code := get(t, bad.String()); code != http.StatusForbidden {
			t.Errorf("%s tampered: GET = %d, want 403", p, code)
		}
	}
}

func TestBadCredentials(t *testing.T) {
	srv := testenv.StartS3(t)
	good := testConfig(srv)
	newStore(t, good)
	for _, tt := range []struct{ name, access, secret string }{
		{"wrong secret", srv.AccessKey, "not-the-secret-0123456789"},
		{"unknown access key", "AKUNKNOWN", srv.SecretKey},
	} {
		cfg := good
		cfg.AccessKey, cfg.SecretKey, cfg.CreateBucket = tt.access, tt.secret, false
		_, err := New(t.Context(), cfg)
		if err == nil {
			t.Fatalf("%s: New succeeded", tt.name)
		}
		msg := err.Error()
		t.Logf("%s: %v", tt.name, err)
		if strings.Contains(msg, tt.secret) || strings.Contains(msg, srv.SecretKey) {
			t.Errorf("%s: the error shows the secret key: %s", tt.name, msg)
		}
		if !strings.Contains(msg, "access denied") || !strings.Contains(msg, good.Bucket) {
			t.Errorf("%s: error %q does not say access was denied to the bucket", tt.name, msg)
		}
	}

	cfg := good
	cfg.Bucket, cfg.CreateBucket = "chronos-test-missing", false
	if _, err := New(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "no such bucket") {
		t.Errorf("missing bucket: err = %v, want one saying there is no such bucket", err)
	}
}

func TestUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := New(ctx, Config{Endpoint: "http://127.0.0.1:1", Region: "us-east-1", Bucket: "b-1", AccessKey: "a", SecretKey: "sekrit-value", ForcePathStyle: true})
	if err == nil || !strings.Contains(err.Error(), "no answer") || strings.Contains(err.Error(), "sekrit-value") {
		t.Fatalf("unreachable endpoint: err = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Endpoint: "http://127.0.0.1:9000", Region: "us-east-1", Bucket: "my-bucket.1", AccessKey: "a", SecretKey: "s3cr3t"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		field string
		edit  func(*Config)
	}{
		{"Endpoint", func(c *Config) { c.Endpoint = "127.0.0.1:9000" }},
		{"Endpoint", func(c *Config) { c.Endpoint = "http://u:s3cr3t@host" }},
		{"Endpoint", func(c *Config) { c.Endpoint = "http://host/?x=1" }},
		{"Bucket", func(c *Config) { c.Bucket = "" }},
		{"Bucket", func(c *Config) { c.Bucket = "Upper" }},
		{"Bucket", func(c *Config) { c.Bucket = "-dash" }},
		{"Bucket", func(c *Config) { c.Bucket = "a..b" }},
		{"Bucket", func(c *Config) { c.Bucket = strings.Repeat("b", 64) }},
		{"SecretKey", func(c *Config) { c.SecretKey = "" }},
		{"AccessKey", func(c *Config) { c.AccessKey = "" }},
		{"PartSize", func(c *Config) { c.PartSize = MinPartSize - 1 }},
		{"PartSize", func(c *Config) { c.PartSize = MaxPartSize + 1 }},
		{"UploadConcurrency", func(c *Config) { c.UploadConcurrency = -1 }},
	}
	for _, tt := range tests {
		c := ok
		tt.edit(&c)
		err := c.Validate()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%+v: err = %v, want ErrInvalidConfig naming %s", c, err, tt.field)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("the error shows the secret: %v", err)
		}
		if _, err := New(t.Context(), c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New(%v): err = %v, want ErrInvalidConfig", c, err)
		}
	}
	if s := ok.String(); strings.Contains(s, "s3cr3t") || !strings.Contains(s, "my-bucket.1") {
		t.Errorf("String() = %s", s)
	}
}

// TestBucketAlreadyOwned checks that CreateBucket accepts an existing
// bucket of the same account.
func TestBucketAlreadyOwned(t *testing.T) {
	srv := testenv.StartS3(t)
	cfg := testConfig(srv)
	newStore(t, cfg)
	s2, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New with CreateBucket on an existing bucket: %v", err)
	}
	if _, err := s2.Stat(t.Context(), "none"); !errors.Is(err, offload.ErrNotFound) {
		t.Fatalf("Stat: %v", err)
	}
}
