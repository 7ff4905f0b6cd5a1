package local

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/offload"
)

// openServed opens the store in dir with its ServePresigned on an httptest
// server mounted at /blobs/, and the given secret (nil: the process's).
func openServed(t *testing.T, dir string, secret []byte) *Store {
	t.Helper()
	var s *Store
	mux := http.NewServeMux()
	mux.HandleFunc("/blobs/", func(w http.ResponseWriter, r *http.Request) { s.ServePresigned(w, r) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s, err := OpenWith(dir, Options{PresignSecret: secret, PresignBaseURL: srv.URL + "/blobs/"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func status(t *testing.T, method, u string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestOpenWithValidates(t *testing.T) {
	tests := []struct {
		name  string
		o     Options
		field string
	}{
		{"short secret", Options{PresignSecret: []byte("short")}, "PresignSecret"},
		{"empty secret", Options{PresignSecret: []byte{}}, "PresignSecret"},
		{"relative URL", Options{PresignBaseURL: "/blobs"}, "PresignBaseURL"},
		{"other scheme", Options{PresignBaseURL: "ftp://host/blobs"}, "PresignBaseURL"},
		{"query", Options{PresignBaseURL: "http://host/blobs?x=1"}, "PresignBaseURL"},
		{"fragment", Options{PresignBaseURL: "http://host/blobs#x"}, "PresignBaseURL"},
		{"user info", Options{PresignBaseURL: "http://user:pw@host/blobs"}, "PresignBaseURL"},
	}
	for _, tt := range tests {
		_, err := OpenWith(t.TempDir(), tt.o)
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: err = %v, want ErrInvalidOptions naming %s", tt.name, err, tt.field)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("%s: the error shows the password: %v", tt.name, err)
		}
	}
}

func TestPresignWithoutBaseURL(t *testing.T) {
	s := open(t, t.TempDir())
	put(t, s, "a/b", "x")
	if _, err := s.Presign(t.Context(), "a/b", time.Minute); !errors.Is(err, offload.ErrPresignUnavailable) {
		t.Fatalf("Presign without a base URL: err = %v, want ErrPresignUnavailable", err)
	}
}

// TestPresignSharedSecret checks that a URL is valid wherever the same
// secret serves the same directory, and only there.
func TestPresignSharedSecret(t *testing.T) {
	dir := t.TempDir()
	secret := bytes.Repeat([]byte("s"), MinPresignSecret)
	issuer := openServed(t, dir, secret)
	sameSecret := openServed(t, dir, secret)
	otherSecret := openServed(t, dir, bytes.Repeat([]byte("o"), MinPresignSecret))
	put(t, issuer, "k/v", "payload")

	u, err := issuer.Presign(t.Context(), "k/v", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	query := u[strings.Index(u, "?"):]
	u2, _ := sameSecret.Presign(t.Context(), "k/v", time.Minute)
	u3, _ := otherSecret.Presign(t.Context(), "k/v", time.Minute)
	base := func(v string) string { return v[:strings.Index(v, "/blobs/")] }
	if code, body := status(t, http.MethodGet, base(u2)+"/blobs/k/v"+query); code != http.StatusOK || body != "payload" {
		t.Errorf("URL served by a store with the same secret: %d %q", code, body)
	}
	if code, _ := status(t, http.MethodGet, base(u3)+"/blobs/k/v"+query); code != http.StatusForbidden {
		t.Errorf("URL served by a store with another secret: %d, want 403", code)
	}
}

func TestServePresignedRequests(t *testing.T) {
	s := openServed(t, t.TempDir(), nil)
	put(t, s, "k/v", "0123456789")
	u, err := s.Presign(t.Context(), "k/v", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := status(t, http.MethodHead, u); code != http.StatusOK || body != "" {
		t.Errorf("HEAD: %d %q", code, body)
	}
	if code, _ := status(t, http.MethodPost, u); code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", code)
	}
	if code, _ := status(t, http.MethodDelete, u+"x"); code != http.StatusForbidden {
		t.Errorf("DELETE with a bad signature: %d, want 403 before 405", code)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	req.Header.Set("Range", "bytes=2-4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || string(body) != "234" {
		t.Errorf("Range GET: %d %q", resp.StatusCode, body)
	}
	if ct, nosniff := resp.Header.Get("Content-Type"), resp.Header.Get("X-Content-Type-Options"); ct != "application/octet-stream" || nosniff != "nosniff" {
		t.Errorf("headers: Content-Type %q, X-Content-Type-Options %q", ct, nosniff)
	}
	for _, bad := range []string{
		strings.Replace(u, "?", "?expires=1&", 1), // a second expiry
		strings.Replace(u, "/k/v?", "/k/v/?", 1),  // another path
		u[:strings.Index(u, "?")],                 // unsigned
	} {
		if code, _ := status(t, http.MethodGet, bad); code != http.StatusForbidden {
			t.Errorf("GET %s: %d, want 403", bad, code)
		}
	}
	// A "directory" of keys is not an object, even with a valid signature.
	put(t, s, "d/x/y", "z")
	du, _ := s.Presign(t.Context(), "d/x", time.Minute)
	if code, _ := status(t, http.MethodGet, du); code != http.StatusNotFound {
		t.Errorf("GET of a directory: %d, want 404", code)
	}
}

func TestOpenKeepsWorking(t *testing.T) {
	// Open with the process secret: URLs of one store verify in another
	// opened in the same process.
	srv := httptest.NewServer(nil)
	defer srv.Close()
	a, err := OpenWith(t.TempDir(), Options{PresignBaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	b := open(t, t.TempDir())
	if !bytes.Equal(a.signer.secret, b.signer.secret) || len(a.signer.secret) != MinPresignSecret {
		t.Fatal("stores opened without a secret do not share the process's secret")
	}
}
