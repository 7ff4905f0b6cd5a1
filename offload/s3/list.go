package s3

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chronos-go/chronos/offload"
)

// List returns one page of the keys matching o with ListObjectsV2, whose
// StartAfter and byte order are those of offload.ListOptions. Keys that no
// valid offload key can be (a "dir/" marker another tool wrote) are
// skipped; when a whole response is such keys, List asks for the next one.
func (s *Store) List(ctx context.Context, o offload.ListOptions) (offload.ListPage, error) {
	if err := ctx.Err(); err != nil {
		return offload.ListPage{}, backend.OpError("list", o.Prefix, err)
	}
	limit := o.Limit
	if limit <= 0 || limit > offload.DefaultListLimit {
		limit = offload.DefaultListLimit
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), MaxKeys: aws.Int32(int32(limit))}
	if o.Prefix != "" {
		in.Prefix = aws.String(o.Prefix)
	}
	after := o.StartAfter
	for {
		if after != "" {
			in.StartAfter = aws.String(after)
		}
		out, err := s.client.ListObjectsV2(ctx, in)
		if err != nil {
			return offload.ListPage{}, callError(ctx, "list", o.Prefix, err)
		}
		var page offload.ListPage
		before := after
		for _, obj := range out.Contents {
			key := aws.ToString(obj.Key)
			if key <= after || !strings.HasPrefix(key, o.Prefix) {
				continue // not what was asked: never trust a server blindly
			}
			after = key
			if offload.ValidateKey(key) != nil {
				continue
			}
			page.Objects = append(page.Objects, info(key, obj.Size, obj.LastModified))
		}
		if !aws.ToBool(out.IsTruncated) || after == before {
			return page, nil // the end, or a server that does not move on
		}
		if len(page.Objects) > 0 {
			page.Next = after
			return page, nil
		}
	}
}
