package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/offload"
)

// DefaultClaimThreshold is the payload size above which a document is
// uploaded to the blob store before its event is appended (claim check).
const DefaultClaimThreshold = 256 << 10

// ClaimKey returns the content-addressed blob key of a claim-checked
// document: "<collection>/claims.sha256/<hex>.json.zst". The "." in the
// segment keeps it apart from every item id (ids have no ".").
func ClaimKey(collection, sum string) string {
	return collection + "/claims.sha256/" + sum + ".json" + offload.CodecZstd.Suffix()
}

// setPayload puts doc into ev: inline, or, above the claim threshold and
// with a blob store configured, uploaded first and referenced. The upload
// is content-addressed, so a retried write uploads the same bytes to the
// same key, and two items with the same document share one blob.
func (s *Service) setPayload(ctx context.Context, c events.Collection, ev *events.Event, doc []byte) error {
	if s.opts.Blobs == nil || len(doc) <= s.opts.ClaimThreshold {
		ev.Payload, ev.PayloadRef = json.RawMessage(doc), nil
		return nil
	}
	store, err := s.opts.Blobs(c)
	if err != nil {
		return err
	}
	h := sha256.Sum256(doc)
	sum := hex.EncodeToString(h[:])
	key := ClaimKey(c.Name, sum)
	if _, err := store.Stat(ctx, key); err != nil {
		data, err := offload.Compress(offload.CodecZstd, doc)
		if err != nil {
			return err
		}
		if err := store.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
			return fmt.Errorf("chronos: claim-check upload of %d bytes: %w", len(doc), err)
		}
	}
	ev.Payload = nil
	ev.PayloadRef = &events.BlobRef{Key: key, Codec: string(offload.CodecZstd), Size: int64(len(doc)), SHA256: sum}
	return nil
}

// document returns the whole document an event carries, fetching a
// claim-checked one from the blob store.
func (s *Service) document(ctx context.Context, c events.Collection, ev *events.Event) ([]byte, error) {
	if ev.PayloadRef == nil {
		return ev.Payload, nil
	}
	if s.opts.Blobs == nil {
		return nil, fmt.Errorf("%w: the document is claim-checked and this service has no blob store", ErrUnsupported)
	}
	store, err := s.opts.Blobs(c)
	if err != nil {
		return nil, err
	}
	return offload.ReadRef(ctx, store, ev.PayloadRef, int64(s.opts.MaxPayload))
}
