package storetest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chronos-go/chronos/offload"
)

// httpClient fetches presigned URLs the way an outside client would: no
// credentials, nothing shared with the store.
var httpClient = &http.Client{Timeout: 30 * time.Second}

func fetch(t testing.TB, u string) (int, []byte) {
	t.Helper()
	resp, err := httpClient.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", u, err)
	}
	return resp.StatusCode, b
}

func presign(t testing.TB, s offload.Store, key string, ttl time.Duration) string {
	t.Helper()
	u, err := s.Presign(t.Context(), key, ttl)
	if err != nil {
		t.Fatalf("Presign(%q, %v): %v", key, ttl, err)
	}
	return u
}

// expectRefused checks that fetching u fails with 403, or with any 4xx
// when anyStatus is set, and does not return the object.
func expectRefused(t testing.TB, what, u string, data []byte, anyStatus bool) {
	t.Helper()
	status, body := fetch(t, u)
	want, bad := "403", status != http.StatusForbidden
	if anyStatus {
		want, bad = "4xx", status < 400 || status > 499
	}
	if bad || bytes.Equal(body, data) {
		t.Errorf("%s: GET %s = %d (%d bytes), want a refusal (%s)", what, u, status, len(body), want)
	} else if status != http.StatusForbidden {
		t.Logf("%s: refused with %d", what, status)
	}
}

// tamperValue changes the first letter or digit of v to another of its
// kind, so that the value stays well-formed but means something else.
func tamperValue(v string) string {
	b := []byte(v)
	for i, c := range b {
		switch {
		case c >= '0' && c <= '8', c >= 'a' && c <= 'y', c >= 'A' && c <= 'Y':
			b[i] = c + 1
			return string(b)
		case c == '9', c == 'z', c == 'Z':
			b[i] = c - 1
			return string(b)
		}
	}
	return v + "0"
}

func testPresign(t *testing.T, s offload.Store, _ Features) {
	keys := []string{"ps/item.json", "ps/other.json", "ps/with space/+plus%20é🙂"}
	contents := map[string][]byte{}
	for _, k := range keys {
		contents[k] = randomBytes(t, 10<<10)
		put(t, s, k, contents[k])
	}
	for _, k := range keys {
		if status, body := fetch(t, presign(t, s, k, time.Minute)); status != http.StatusOK || !bytes.Equal(body, contents[k]) {
			t.Fatalf("GET of a presigned URL of %q = %d with %d bytes, want 200 with the %d bytes put", k, status, len(body), len(contents[k]))
		}
	}

	// Tampered: another object's path under the first one's signature, or
	// any query parameter changed.
	data := contents[keys[0]]
	good := presign(t, s, keys[0], time.Minute)
	other, err := url.Parse(presign(t, s, keys[1], time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	moved := *u
	moved.Path, moved.RawPath = other.Path, other.RawPath
	expectRefused(t, "path changed to another object", moved.String(), contents[keys[1]], false)
	params := u.Query()
	if len(params) == 0 {
		t.Fatalf("presigned URL %s has no query parameters: nothing signs it", good)
	}
	for name, values := range params {
		q := u.Query()
		q.Set(name, tamperValue(values[0]))
		bad := *u
		bad.RawQuery = q.Encode()
		expectRefused(t, "query parameter "+name+" changed", bad.String(), data, true)
	}
	if status, _ := fetch(t, good); status != http.StatusOK {
		t.Fatalf("the untampered URL stopped working: %d", status)
	}

	// A missing object.
	if status, _ := fetch(t, presign(t, s, "ps/missing", time.Minute)); status != http.StatusNotFound {
		t.Errorf("GET of a presigned URL of a missing key = %d, want 404", status)
	}

	// Bad arguments, before any I/O.
	if _, err := s.Presign(t.Context(), "ps/../x", time.Minute); !errors.Is(err, offload.ErrInvalidKey) {
		t.Errorf("Presign of an invalid key: err = %v, want ErrInvalidKey", err)
	}
	for _, ttl := range []time.Duration{0, -time.Second, offload.MaxPresignTTL + time.Second} {
		if _, err := s.Presign(t.Context(), keys[0], ttl); !errors.Is(err, offload.ErrInvalidTTL) {
			t.Errorf("Presign with ttl %v: err = %v, want ErrInvalidTTL", ttl, err)
		}
	}
	if _, err := s.Presign(t.Context(), keys[0], offload.MaxPresignTTL); err != nil {
		t.Errorf("Presign with ttl MaxPresignTTL: %v", err)
	}

	// Expired. Expiry is checked at whole seconds: wait for the second the
	// URL ends in to pass, and one more for the clocks of a remote server.
	issued := time.Now()
	short := presign(t, s, keys[0], time.Second)
	time.Sleep(time.Until(issued.Add(3 * time.Second)))
	expectRefused(t, "expired", short, data, false)
}
