package local

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chronos-go/chronos/offload"
)

// ErrInvalidOptions is returned (wrapped, naming the field and why) by
// OpenWith for options it cannot use.
var ErrInvalidOptions = errors.New("chronos: invalid local store options")

// MinPresignSecret is the shortest PresignSecret OpenWith accepts, in bytes:
// the output size of SHA-256, below which the HMAC key is the weak link.
const MinPresignSecret = 32

// Query parameters of a presigned URL.
const (
	paramExpires   = "expires"
	paramSignature = "signature"
)

// Options configure a Store opened with OpenWith. The zero value is what
// Open uses.
type Options struct {
	// PresignSecret is the HMAC-SHA256 key that signs presigned URLs, at
	// least MinPresignSecret bytes. Every process that serves URLs another
	// issued (ServePresigned) must be given the same secret. Empty: a random
	// secret generated once per process, so that URLs are valid only until
	// the process exits, and only in it.
	PresignSecret []byte
	// PresignBaseURL is the absolute http or https URL at which
	// ServePresigned is reachable, e.g. "https://query.example.com/v1/blobs".
	// Presign returns <PresignBaseURL>/<escaped key>?expires=..&signature=..
	// It must have no query or fragment; a trailing "/" is ignored. Empty:
	// Presign returns offload.ErrPresignUnavailable.
	PresignBaseURL string
}

// processSecret signs the URLs of stores opened without a PresignSecret.
var processSecret = sync.OnceValue(func() []byte {
	b := make([]byte, MinPresignSecret)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
})

// signer issues and checks presigned URLs.
type signer struct {
	secret   []byte
	base     string // PresignBaseURL without a trailing "/"; "" if unset
	basePath string // the decoded path of base, without a trailing "/"
}

func newSigner(o Options) (signer, error) {
	sg := signer{secret: processSecret()}
	if o.PresignSecret != nil {
		if len(o.PresignSecret) < MinPresignSecret {
			return signer{}, fmt.Errorf("%w: PresignSecret is %d bytes, want at least %d", ErrInvalidOptions, len(o.PresignSecret), MinPresignSecret)
		}
		sg.secret = append([]byte(nil), o.PresignSecret...)
	}
	if o.PresignBaseURL == "" {
		return sg, nil
	}
	u, err := url.Parse(o.PresignBaseURL)
	switch {
	case err != nil:
		return signer{}, fmt.Errorf("%w: PresignBaseURL: %v", ErrInvalidOptions, err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return signer{}, fmt.Errorf("%w: PresignBaseURL %q is not an absolute http or https URL", ErrInvalidOptions, o.PresignBaseURL)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return signer{}, fmt.Errorf("%w: PresignBaseURL %q has a query or fragment", ErrInvalidOptions, o.PresignBaseURL)
	case u.User != nil:
		return signer{}, fmt.Errorf("%w: PresignBaseURL has user information", ErrInvalidOptions)
	}
	sg.base = strings.TrimSuffix(o.PresignBaseURL, "/")
	sg.basePath = strings.TrimSuffix(u.Path, "/")
	return sg, nil
}

// mac is the signature of key until expires (Unix seconds). The key holds
// no control character (offload.ValidateKey), so the input is unambiguous.
func (sg signer) mac(key string, expires int64) []byte {
	h := hmac.New(sha256.New, sg.secret)
	h.Write([]byte("chronos-presign-v1\n" + key + "\n" + strconv.FormatInt(expires, 10)))
	return h.Sum(nil)
}

// Presign returns a URL of ServePresigned, signed with HMAC-SHA256 over the
// key and the expiry time, valid until ttl has passed (rounded up to the
// second).
func (s *Store) Presign(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := backend.Begin(ctx, "presign", key); err != nil {
		return "", err
	}
	if err := offload.ValidatePresignTTL(ttl); err != nil {
		return "", backend.OpError("presign", key, err)
	}
	if s.signer.base == "" {
		return "", backend.OpError("presign", key, fmt.Errorf("%w: the store has no PresignBaseURL", offload.ErrPresignUnavailable))
	}
	exp := time.Now().Add(ttl)
	expires := exp.Unix()
	if exp.Nanosecond() != 0 {
		expires++
	}
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	q := url.Values{
		paramExpires:   {strconv.FormatInt(expires, 10)},
		paramSignature: {hex.EncodeToString(s.signer.mac(key, expires))},
	}
	return s.signer.base + "/" + strings.Join(segs, "/") + "?" + q.Encode(), nil
}

// ServePresigned serves the object named by a URL that Presign issued, to
// be mounted at the path of PresignBaseURL (for example with
// mux.Handle("/v1/blobs/", http.HandlerFunc(store.ServePresigned)), not
// behind http.StripPrefix). It answers
//
//   - 403 Forbidden when the signature does not match the path and expiry
//     (checked in constant time) or the URL has expired;
//   - 405 Method Not Allowed for a method other than GET and HEAD;
//   - 404 Not Found when no object is under the key;
//   - else the object, as application/octet-stream with nosniff (stored
//     payloads never run as a page of the serving origin), with Range and
//     conditional requests honoured.
func (s *Store) ServePresigned(w http.ResponseWriter, r *http.Request) {
	key, ok := s.verify(r)
	if !ok {
		http.Error(w, "forbidden: invalid or expired signature", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, err := os.Open(s.path(key))
	if err != nil {
		if isMissing(err) {
			http.Error(w, "not found", http.StatusNotFound)
		} else {
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.Error(w, "not found", http.StatusNotFound) // a directory of other keys
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// verify returns the key of r's path if its signature matches and it has
// not expired.
func (s *Store) verify(r *http.Request) (string, bool) {
	key, ok := strings.CutPrefix(r.URL.Path, s.signer.basePath+"/")
	if !ok || offload.ValidateKey(key) != nil {
		return "", false
	}
	q := r.URL.Query()
	if len(q[paramExpires]) != 1 || len(q[paramSignature]) != 1 {
		return "", false
	}
	expires, err := strconv.ParseInt(q.Get(paramExpires), 10, 64)
	if err != nil {
		return "", false
	}
	sig, err := hex.DecodeString(q.Get(paramSignature))
	if err != nil || !hmac.Equal(sig, s.signer.mac(key, expires)) {
		return "", false
	}
	if time.Now().After(time.Unix(expires, 0)) {
		return "", false
	}
	return key, true
}
