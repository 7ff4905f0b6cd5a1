package log

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Replicas returns the replicas of the log's first partition stream, 1
// when there is none yet: the replication the operator chose for the log,
// which the buckets and streams Chronos keeps beside it (progress,
// generations, the DLQ) follow unless told otherwise.
func Replicas(ctx context.Context, js jetstream.JetStream) int {
	s, err := js.Stream(ctx, StreamName(0))
	if err != nil {
		return 1
	}
	return max(1, s.CachedInfo().Config.Replicas)
}

// EnsureKV binds to the key-value bucket cfg names, creating it with cfg
// when it does not exist; cfg.Replicas 0 means Replicas. A bucket that
// exists is left as it is: its replicas and limits are the operator's (a
// service or CLI starting with other settings must not rewrite a bucket
// someone moved to R3).
func EnsureKV(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if err == nil {
		return kv, nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("chronos: bucket %s: %w", cfg.Bucket, err)
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = Replicas(ctx, js)
	}
	kv, err = js.CreateKeyValue(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = js.KeyValue(ctx, cfg.Bucket) // created by another process meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("chronos: bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}
