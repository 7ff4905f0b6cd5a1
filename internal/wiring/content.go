package wiring

import (
	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/offload"
	"github.com/chronos-go/chronos/tenancy"
)

// ContentBlobs returns the resolver of the content bucket of each
// collection (decoded base64Props content), keys prefixed with the
// route's scope prefix like Blobs. With a single `bucket` it is the same
// bucket as Blobs'; the content layout never collides with the version
// layout (see offload.ContentKey).
func (d *Deps) ContentBlobs() offload.Resolver {
	return d.bucketResolver("content", func(b tenancy.Buckets) string { return b.Content })
}

// Base64Props returns each collection's base64Props in the offloader's
// and the query service's terms (nil for a collection without any).
func (d *Deps) Base64Props() func(events.Collection) map[string]offload.ContentProp {
	return func(c events.Collection) map[string]offload.ContentProp {
		return contentProps(d.Config.CollectionMaps[c.Name].Base64Props)
	}
}

func contentProps(bp map[string]tenancy.Base64Prop) map[string]offload.ContentProp {
	if len(bp) == 0 {
		return nil
	}
	out := make(map[string]offload.ContentProp, len(bp))
	for name, p := range bp {
		out[name] = offload.ContentProp{ContentType: p.ContentType, Text: p.PreferredText, Charset: p.TextCharset}
	}
	return out
}
