package wiring

import (
	"context"
	"fmt"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/offload/wrap"
)

// HeadBlobs returns the resolver of the store of each collection's head
// records (offload.HeadKey, the latest payload of every item): the
// route's records bucket, keys prefixed with the route's scope prefix
// like Blobs. It resolves a nil Store, and the offloader writes no head
// records, for a route whose records bucket is its versions bucket (a
// single `bucket`, or a multi-bucket set without its own versionsBucket):
// there the read model holds heads, and the bucket holds versions only.
func (d *Deps) HeadBlobs() offload.Resolver {
	return func(c events.Collection) (offload.Store, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rt, err := d.Router.RouteContext(ctx, c)
		if err != nil {
			return nil, err
		}
		if rt.Buckets.Records == rt.Buckets.Versions {
			return nil, nil
		}
		st, err := d.Pool.Bucket(ctx, rt, rt.Buckets.Records)
		if err != nil {
			return nil, fmt.Errorf("chronos: head store of %s: %w", c, err)
		}
		return wrap.Prefix(st, rt.KeyPrefix), nil
	}
}
