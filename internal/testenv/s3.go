package testenv

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// S3 is an S3-compatible server that a test can use, with credentials that
// it accepts. It enforces request signatures.
type S3 struct {
	// Endpoint is the base URL, e.g. http://127.0.0.1:PORT; clients use
	// path-style addressing.
	Endpoint string
	// Region to sign requests for.
	Region string
	// AccessKey and SecretKey are the credentials of an account that may
	// create buckets.
	AccessKey, SecretKey string
}

// StartS3 returns an S3 server whose endpoint answers.
//
// By default it is a versitygw process (posix backend) on a free port of
// 127.0.0.1, with random credentials, its buckets in t.TempDir(), stopped at
// cleanup; it is ready when its /health endpoint answers 200. When
// CHRONOS_TEST_S3_ENDPOINT is set, it returns that server instead, with
// CHRONOS_TEST_S3_ACCESS_KEY, CHRONOS_TEST_S3_SECRET_KEY (both required) and
// CHRONOS_TEST_S3_REGION (default us-east-1).
func StartS3(t testing.TB) *S3 {
	t.Helper()
	if endpoint := os.Getenv("CHRONOS_TEST_S3_ENDPOINT"); endpoint != "" {
		s := &S3{
			Endpoint:  strings.TrimSuffix(endpoint, "/"),
			Region:    os.Getenv("CHRONOS_TEST_S3_REGION"),
			AccessKey: os.Getenv("CHRONOS_TEST_S3_ACCESS_KEY"),
			SecretKey: os.Getenv("CHRONOS_TEST_S3_SECRET_KEY"),
		}
		if s.AccessKey == "" || s.SecretKey == "" {
			t.Fatalf("testenv: CHRONOS_TEST_S3_ENDPOINT is set but CHRONOS_TEST_S3_ACCESS_KEY or CHRONOS_TEST_S3_SECRET_KEY is empty: set both, or unset the endpoint to use versitygw")
		}
		if s.Region == "" {
			s.Region = "us-east-1"
		}
		return s
	}

	bin := mustFindTool(t, "bin", "versitygw", "CHRONOS_TEST_S3_ENDPOINT")
	root := t.TempDir()
	data := filepath.Join(root, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	s := &S3{
		Region:    "us-east-1",
		AccessKey: "AK" + strings.ToUpper(randomHex(9)),
		SecretKey: randomHex(20),
	}
	port := startServer(t, serverSpec{
		name: "versitygw",
		path: bin,
		dir:  root,
		args: func(port int) []string {
			return []string{
				"--port", "127.0.0.1:" + strconv.Itoa(port),
				"--access", s.AccessKey,
				"--secret", s.SecretKey,
				"--region", s.Region,
				"--health", "/health",
				"--keep-alive",
				"--quiet",
				"posix", data,
			}
		},
		readyAt: func(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) + "/health" },
		ready:   func(r *http.Response) bool { return r.StatusCode == http.StatusOK },
		timeout: 30 * time.Second,
	})
	s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
	return s
}
