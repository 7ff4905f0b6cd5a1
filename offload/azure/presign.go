package azure

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/chronos-go/chronos/offload"
)

// Presign returns the blob's URL with a service SAS granting read only,
// signed locally (no request) with the account key, with no start time (so
// a client clock behind the server's does not matter) and https only when
// the endpoint is https. The expiry is rounded up to the second, the unit
// of the SAS. A store configured with a SAS instead of a key returns
// offload.ErrPresignUnavailable: it cannot sign a narrower one.
func (s *Store) Presign(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := backend.Begin(ctx, "presign", key); err != nil {
		return "", err
	}
	if err := offload.ValidatePresignTTL(ttl); err != nil {
		return "", backend.OpError("presign", key, err)
	}
	if s.cred == nil {
		return "", backend.OpError("presign", key, fmt.Errorf("%w: the store holds a SAS, not the account key", offload.ErrPresignUnavailable))
	}
	expiry := time.Now().Add(ttl)
	if t := expiry.Truncate(time.Second); !t.Equal(expiry) {
		expiry = t.Add(time.Second)
	}
	protocol := sas.ProtocolHTTPSandHTTP
	if s.https {
		protocol = sas.ProtocolHTTPS
	}
	qp, err := sas.BlobSignatureValues{
		Protocol:      protocol,
		ExpiryTime:    expiry.UTC(),
		Permissions:   (&sas.BlobPermissions{Read: true}).String(),
		ContainerName: s.container,
		BlobName:      key,
	}.SignWithSharedKey(s.cred)
	if err != nil {
		return "", backend.OpError("presign", key, err)
	}
	return s.client.NewBlobClient(key).URL() + "?" + qp.Encode(), nil
}
