package azure

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/chronos-go/chronos/internal/testenv"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/offload/storetest"
)

// testConfig is the Config of a new, uniquely named container on srv.
func testConfig(srv *testenv.Azure) Config {
	b := make([]byte, 6)
	rand.Read(b)
	return Config{
		Endpoint:        srv.Endpoint,
		Account:         srv.Account,
		Key:             srv.Key,
		Container:       "chronos-test-" + hex.EncodeToString(b),
		CreateContainer: true,
	}
}

// newStore creates the container of cfg and deletes it, blobs included,
// at cleanup (an external server is shared).
func newStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.client.Delete(ctx, nil); err != nil {
			t.Logf("cleanup: deleting container %s: %v", s.container, err)
		}
	})
	return s
}

// features are the differences of an Azure store that the conformance
// suite allows for.
var features = storetest.Features{ListOrderUTF16: true}

func TestConformance(t *testing.T) {
	srv := testenv.StartAzure(t)
	storetest.Run(t, func(t *testing.T) offload.Store { return newStore(t, testConfig(srv)) }, features)
}

// onlyReader hides Seek and ReaderAt, as a network body would.
func onlyReader(b []byte) io.Reader { return struct{ io.Reader }{bytes.NewReader(b)} }

type failing struct{ err error }

func (f *failing) Read([]byte) (int, error) { return 0, f.err }

// TestLargeObjectInBlocks puts 20 MiB of unknown size with 1 MiB blocks:
// UploadStream stages 20 blocks and commits them at once; a stream that
// fails midway leaves the committed blob as it was.
func TestLargeObjectInBlocks(t *testing.T) {
	srv := testenv.StartAzure(t)
	cfg := testConfig(srv)
	cfg.BlockSize = MinBlockSize
	s := newStore(t, cfg)

	data := make([]byte, 20<<20)
	rand.Read(data)
	if err := s.Put(t.Context(), "big/item.json", onlyReader(data), -1); err != nil {
		t.Fatalf("Put of 20 MiB: %v", err)
	}
	bl, err := s.client.NewBlockBlobClient("big/item.json").GetBlockList(t.Context(), blockblob.BlockListTypeAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(bl.CommittedBlocks) != 20 || len(bl.UncommittedBlocks) != 0 {
		t.Errorf("block list: %d committed, %d uncommitted; want 20 and 0", len(bl.CommittedBlocks), len(bl.UncommittedBlocks))
	}
	rc, info, err := s.Get(t.Context(), "big/item.json")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, rc)
	rc.Close()
	if want := sha256.Sum256(data); err != nil || n != int64(len(data)) || info.Size != n || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("read back %d bytes (info %d, err %v), equal: %v", n, info.Size, err, bytes.Equal(h.Sum(nil), want[:]))
	}

	boom := errors.New("reader broke")
	r := io.MultiReader(bytes.NewReader(data[:12<<20]), &failing{boom})
	if err := s.Put(t.Context(), "big/item.json", r, -1); !errors.Is(err, boom) {
		t.Fatalf("failing Put: err = %v, want the reader's error", err)
	}
	if err := s.Put(t.Context(), "big/item.json", onlyReader(data[:3<<20]), 4<<20); !errors.Is(err, offload.ErrSizeMismatch) {
		t.Fatalf("short Put: err = %v, want ErrSizeMismatch", err)
	}
	if st, err := s.Stat(t.Context(), "big/item.json"); err != nil || st.Size != int64(len(data)) {
		t.Fatalf("after failed Puts: %+v, %v", st, err)
	}

	// A body within one block is a single Put Blob, which commits no block.
	if err := s.Put(t.Context(), "small/item.json", onlyReader(data[:MinBlockSize]), -1); err != nil {
		t.Fatal(err)
	}
	bl, err = s.client.NewBlockBlobClient("small/item.json").GetBlockList(t.Context(), blockblob.BlockListTypeAll, nil)
	if err != nil || len(bl.CommittedBlocks) != 0 {
		t.Fatalf("a body of one block: %d committed blocks (%v), want a single Put Blob", len(bl.CommittedBlocks), err)
	}
}

func status(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestPresignSAS checks on Azurite, which enforces SAS signatures, what
// the conformance suite checks generically.
func TestPresignSAS(t *testing.T) {
	srv := testenv.StartAzure(t)
	s := newStore(t, testConfig(srv))
	if err := s.Put(t.Context(), "p/item.json", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	raw, err := s.Presign(t.Context(), "p/item.json", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(raw)
	q := u.Query()
	if q.Get("sp") != "r" || q.Get("st") != "" || q.Get("se") == "" {
		t.Errorf("SAS %s: want read only, no start time, an expiry", u.RawQuery)
	}
	if code := status(t, raw); code != http.StatusOK {
		t.Fatalf("GET presigned: %d", code)
	}
	// Changed, each of these must be refused with 403.
	for p, v := range map[string]string{
		"sig": "A" + q.Get("sig")[1:],
		"se":  time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05Z"),
		"sp":  "rw",
	} {
		bad := *u
		qq := u.Query()
		qq.Set(p, v)
		bad.RawQuery = qq.Encode()
		if code := status(t, bad.String()); code != http.StatusForbidden {
			t.Errorf("%s changed to %q: GET = %d, want 403", p, v, code)
		}
	}
}

// containerSAS returns a SAS for cfg's container granting what a Store
// needs.
func containerSAS(t *testing.T, cfg Config, perms sas.ContainerPermissions) string {
	t.Helper()
	cred, err := azblob.NewSharedKeyCredential(cfg.Account, cfg.Key)
	if err != nil {
		t.Fatal(err)
	}
	qp, err := sas.BlobSignatureValues{
		ContainerName: cfg.Container,
		Permissions:   perms.String(),
		ExpiryTime:    time.Now().Add(time.Hour).UTC(),
	}.SignWithSharedKey(cred)
	if err != nil {
		t.Fatal(err)
	}
	return qp.Encode()
}

func TestSASConfig(t *testing.T) {
	srv := testenv.StartAzure(t)
	keyed := testConfig(srv)
	newStore(t, keyed)
	cfg := keyed
	cfg.Key, cfg.Account, cfg.CreateContainer = "", "", false
	cfg.SAS = "?" + containerSAS(t, keyed, sas.ContainerPermissions{Read: true, Create: true, Write: true, Delete: true, List: true})
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New with a SAS: %v", err)
	}
	if err := s.Put(t.Context(), "k/v", strings.NewReader("sas"), 3); err != nil {
		t.Fatal(err)
	}
	if page, err := s.List(t.Context(), offload.ListOptions{}); err != nil || len(page.Objects) != 1 {
		t.Fatalf("List with a SAS: %+v, %v", page, err)
	}
	if err := s.Delete(t.Context(), "k/v"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Presign(t.Context(), "k/v", time.Minute); !errors.Is(err, offload.ErrPresignUnavailable) {
		t.Fatalf("Presign with a SAS: err = %v, want ErrPresignUnavailable", err)
	}

	sig, _ := url.ParseQuery(strings.TrimPrefix(cfg.SAS, "?"))
	for name, bad := range map[string]Config{
		"tampered SAS": func() Config {
			c := cfg
			c.SAS = strings.Replace(cfg.SAS, "sig=", "sig=A", 1)
			return c
		}(),
		"read-only SAS": func() Config {
			c := cfg
			c.SAS = containerSAS(t, keyed, sas.ContainerPermissions{Read: true})
			return c
		}(),
		"unreachable": func() Config {
			c := cfg
			c.Endpoint = "http://127.0.0.1:1/devstoreaccount1"
			return c
		}(),
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second) // the SDK retries an unreachable server for longer
		_, err := New(ctx, bad)
		cancel()
		if err == nil {
			t.Errorf("%s: New succeeded", name)
			continue
		}
		if strings.Contains(err.Error(), sig.Get("sig")) || strings.Contains(err.Error(), url.QueryEscape(sig.Get("sig"))) {
			t.Errorf("%s: the error shows the SAS signature: %v", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}

func TestBadKey(t *testing.T) {
	srv := testenv.StartAzure(t)
	good := testConfig(srv)
	newStore(t, good)
	cfg := good
	cfg.Key = base64.StdEncoding.EncodeToString([]byte("not the account key, but base64"))
	cfg.CreateContainer = false
	_, err := New(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), "access denied") || strings.Contains(err.Error(), cfg.Key) {
		t.Fatalf("wrong key: err = %v, want access denied without the key", err)
	}
	cfg = good
	cfg.Container, cfg.CreateContainer = "chronos-test-missing", false
	if _, err := New(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "no such container") {
		t.Fatalf("missing container: err = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	ok := Config{Endpoint: "https://acct.blob.core.windows.net", Account: "acct", Key: key, Container: "my-container1"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		field string
		edit  func(*Config)
	}{
		{"Endpoint", func(c *Config) { c.Endpoint = "" }},
		{"Endpoint", func(c *Config) { c.Endpoint = "acct.blob.core.windows.net" }},
		{"Endpoint", func(c *Config) { c.Endpoint = "https://acct.blob.core.windows.net/?sv=1&sig=s3cr3t" }},
		{"Key and SAS", func(c *Config) { c.Key = "" }},
		{"Key and SAS", func(c *Config) { c.SAS = "sv=1&sig=s3cr3t" }},
		{"Account", func(c *Config) { c.Account = "" }},
		{"Key", func(c *Config) { c.Key = "s3cr3t!not-base64" }},
		{"SAS", func(c *Config) { c.Key, c.SAS = "", "s3cr3t" }},
		{"Container", func(c *Config) { c.Container = "ab" }},
		{"Container", func(c *Config) { c.Container = "Upper" }},
		{"Container", func(c *Config) { c.Container = "a--b" }},
		{"Container", func(c *Config) { c.Container = "ab-" }},
		{"BlockSize", func(c *Config) { c.BlockSize = MinBlockSize - 1 }},
		{"BlockSize", func(c *Config) { c.BlockSize = MaxBlockSize + 1 }},
		{"UploadConcurrency", func(c *Config) { c.UploadConcurrency = -1 }},
	}
	for _, tt := range tests {
		c := ok
		tt.edit(&c)
		err := c.Validate()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%v: err = %v, want ErrInvalidConfig naming %s", c, err, tt.field)
		}
		if err != nil && (strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), key)) {
			t.Errorf("the error shows a secret: %v", err)
		}
		if _, err := New(t.Context(), c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New(%v): err = %v, want ErrInvalidConfig", c, err)
		}
	}
	c := ok
	c.SAS = "sig=s3cr3t"
	if s := c.String(); strings.Contains(s, "s3cr3t") || strings.Contains(s, key) || !strings.Contains(s, "my-container1") {
		t.Errorf("String() = %s", s)
	}
}
