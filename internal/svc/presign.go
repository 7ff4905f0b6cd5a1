package svc

import (
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/chronos-go/chronos/internal/wiring"
)

// Environment variables of the query service's presigned local blob URLs.
const (
	// PublicURLEnv is the default of --public-url: the base URL at which
	// clients reach the service, e.g. https://query.example.com.
	PublicURLEnv = "CHRONOS_PUBLIC_URL"
	// PresignSecretEnv holds the secret (at least 32 bytes) that signs
	// presigned URLs of local blob stores. Replicas behind one address
	// need the same; unset, each process signs with a random secret of
	// its own, and its URLs die with it.
	PresignSecretEnv = "CHRONOS_PRESIGN_SECRET"
)

// PresignOptions returns the dependencies' options for presigned URLs of
// local blob stores, served by a service whose clients reach it at
// publicURL. Without publicURL, presign=true on a local blob answers 501
// with a message naming flag (and PublicURLEnv).
func PresignOptions(publicURL, flag string) (wiring.Options, error) {
	var o wiring.Options
	if s := os.Getenv(PresignSecretEnv); s != "" {
		if len(s) < 32 {
			return o, fmt.Errorf("chronos: %s must hold at least 32 bytes, has %d", PresignSecretEnv, len(s))
		}
		o.PresignSecret = []byte(s)
	}
	if publicURL == "" {
		o.PresignHelp = fmt.Sprintf("local blob stores issue URLs of the query service itself: start it with %s <the URL clients reach it at> (or set %s)", flag, PublicURLEnv)
		return o, nil
	}
	o.PresignBaseURL = strings.TrimSuffix(publicURL, "/") + wiring.PresignPath
	return o, nil
}

// WithPresignedBlobs serves the presigned URLs of deps' local blob stores
// (GET /v1/blobs/{bucket}/{key...}) in front of api, without a key: the
// signature is the authorization. Every path under /v1/blobs/ is theirs;
// they have a mux of their own, as {key...} overlaps every
// /v1/{dbType}/... pattern of api, and the API's requests pay one prefix
// test for it.
func WithPresignedBlobs(api http.Handler, deps *wiring.Deps) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/blobs/{bucket}/{key...}", deps.ServePresigned)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, wiring.PresignPath+"/") {
			mux.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}
