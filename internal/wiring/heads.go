package wiring

import (
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/tenancy"
)

// HeadBlobs returns the resolver of the store of each collection's head
// records (offload.HeadKey, the latest payload of every item): the
// route's records bucket, keys prefixed with the route's scope prefix
// like Blobs. It resolves a nil Store, and the offloader writes no head
// records, for a route whose records bucket is its versions bucket (a
// single `bucket`, or a multi-bucket set without its own versionsBucket):
// there the read model holds heads, and the bucket holds versions only.
func (d *Deps) HeadBlobs() offload.Resolver {
	return d.bucketResolver("head", func(b tenancy.Buckets) string {
		if b.Records == b.Versions {
			return ""
		}
		return b.Records
	})
}
