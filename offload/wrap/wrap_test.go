package wrap_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chronos-go/chronos/internal/testenv"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/offload/local"
	"github.com/chronos-go/chronos/offload/s3"
	"github.com/chronos-go/chronos/offload/storetest"
	"github.com/chronos-go/chronos/offload/wrap"
)

// localStore is a fresh local store whose presigned URLs are served.
func localStore(t *testing.T) offload.Store {
	t.Helper()
	var s *local.Store
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.ServePresigned(w, r) }))
	t.Cleanup(srv.Close)
	s, err := local.OpenWith(t.TempDir(), local.Options{PresignBaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// s3Store is a fresh bucket on srv, emptied and removed at cleanup (an
// external server is shared).
func s3Store(t *testing.T, srv *testenv.S3) offload.Store {
	t.Helper()
	bucket := randomName("chronos-wrap-")
	s, err := s3.New(t.Context(), s3.Config{
		Endpoint: srv.Endpoint, Region: srv.Region, Bucket: bucket,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		ForcePathStyle: true, CreateBucket: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeBucket(t, srv, bucket) })
	return s
}

func removeBucket(t *testing.T, srv *testenv.S3, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := awss3.New(awss3.Options{
		Region: srv.Region, BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}, nil
		}),
	})
	p := awss3.NewListObjectsV2Paginator(client, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Logf("cleanup: listing %s: %v", bucket, err)
			return
		}
		if len(page.Contents) == 0 {
			continue
		}
		var ids []types.ObjectIdentifier
		for _, obj := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: obj.Key})
		}
		if _, err := client.DeleteObjects(ctx, &awss3.DeleteObjectsInput{
			Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		}); err != nil {
			t.Logf("cleanup: %v", err)
		}
	}
	if _, err := client.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Logf("cleanup: removing bucket %s: %v", bucket, err)
	}
}

// runWrappers runs the conformance suite through each wrapper over the
// stores newStore makes. shared, when not nil, is one store that every
// Prefix subtest shares under its own prefix, left with the other
// subtests' objects: tenants must not see each other.
func runWrappers(t *testing.T, newStore func(*testing.T) offload.Store, shared offload.Store) {
	// In parallel: most of a run waits on I/O or on presigned URLs to
	// expire.
	t.Run("Prefix", func(t *testing.T) {
		t.Parallel()
		const prefix = "tenants/acme-01/"
		if shared == nil {
			storetest.Run(t, func(t *testing.T) offload.Store { return wrap.Prefix(newStore(t), prefix) },
				storetest.Features{MaxKeyLen: offload.MaxKeyLen - len(prefix)})
			return
		}
		var n atomic.Int64
		storetest.Run(t, func(t *testing.T) offload.Store {
			return wrap.Prefix(shared, fmt.Sprintf("%s%03d/", prefix, n.Add(1)))
		}, storetest.Features{MaxKeyLen: offload.MaxKeyLen - len(prefix) - 4})
	})
	t.Run("Metrics", func(t *testing.T) {
		t.Parallel()
		reg := prometheus.NewRegistry()
		storetest.Run(t, func(t *testing.T) offload.Store { return wrap.Metrics(newStore(t), reg, "test") }, storetest.Features{})
	})
	t.Run("Faulty", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) offload.Store { return wrap.Faulty(newStore(t), wrap.Faults{}) }, storetest.Features{})
	})
}

func TestConformanceLocal(t *testing.T) {
	t.Parallel()
	runWrappers(t, localStore, nil)
}

func TestConformanceS3(t *testing.T) {
	t.Parallel()
	srv := testenv.StartS3(t)
	runWrappers(t, func(t *testing.T) offload.Store { return s3Store(t, srv) }, s3Store(t, srv))
}
