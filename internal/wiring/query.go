package wiring

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	clog "github.com/chronos-go/chronos/log"
	"github.com/chronos-go/chronos/query"
)

// QueryOptions are the query.Options of every process that serves reads
// (chronos dev and cmd/query), so that none forgets one: the collection
// maps, the content buckets, per-tier authorization of tiered reads by the
// request's principal, and progress, the projector's positions that minSeq
// reads wait for (see FollowProjector).
func (d *Deps) QueryOptions(progress query.Progress) query.Options {
	return query.Options{
		CollectionMaps: d.QueryMaps(),
		Content:        d.ContentBlobs().ReadOnly(),
		Auth:           query.PrincipalAuth,
		Progress:       progress,
	}
}

// FollowProjector follows the positions the projector publishes in the
// progress bucket, until ctx ends.
func FollowProjector(ctx context.Context, js jetstream.JetStream) (*clog.Follower, error) {
	prog, err := clog.OpenProgress(ctx, js, 0)
	if err != nil {
		return nil, fmt.Errorf("chronos: open the progress bucket: %w", err)
	}
	return prog.Follow(ctx, "projector")
}
