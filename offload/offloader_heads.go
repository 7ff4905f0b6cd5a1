package offload

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	clog "github.com/chronos-go/chronos/log"
)

// maxHeadRounds bounds the rounds of offloadHead. An item written faster
// than its head can follow uses them up; the event is then retried later
// (fallbackq), when the item is likely quieter.
const maxHeadRounds = 8

// headCodecs are the codecs a head record may be stored with: one round
// writes the key of one and deletes the others, so that a change of codec
// (MinCompress, or a new default) leaves a single head.
var headCodecs = []Codec{CodecZstd, CodecS2, CodecNone}

// offloadHead makes the head record of rec's item (HeadKey in the store
// OffloaderOptions.Heads resolves) reflect the item's last event in the
// log: that event's payload, or no object at all once the item is
// deleted or erased.
//
// The offloader is order-free: events of one item are processed out of
// order, redelivered late, by several processes at once, so rec is not
// necessarily the item's last event, and its payload is not what the
// head should hold. Each call therefore runs rounds of
//
//  1. read the item's last event L from the log (direct get);
//  2. write the head of L (put its payload under the key of its codec and
//     delete the keys of the other codecs; or delete every key if L
//     deletes the item);
//  3. read the last event again; stop if it is still L, else repeat.
//
// A round is idempotent: it depends only on L, and it touches every head
// key of the item (one put, the other keys deleted). The rounds converge
// on the item's final event F: F's own processing runs a round after F is
// in the log, so that round reads F (or a later event). A round that read
// an older event may still write a key after F's round did; that write
// ended after F's round began, so after F was appended, and the re-read
// that follows it sees F and starts a round that writes F's head over it.
// So the last write of every head key comes from a round that read F,
// whatever the order and the number of offloaders. A call that uses up
// maxHeadRounds has not covered its last write, so it fails and the event
// is retried like a failed upload.
//
// The argument needs each read of the last event to see every event
// appended before it. A direct get (clog.Log.Last) does not promise that
// on a replicated stream: any replica may answer, one slightly behind the
// leader among them. So the rounds read with LastFromLeader, which the
// stream leader answers.
func (o *Offloader) offloadHead(ctx context.Context, rec *clog.Record) error {
	if o.opts.Heads == nil {
		return nil
	}
	store, err := o.opts.Heads(rec.Ref.Collection)
	if err != nil {
		return err
	}
	if store == nil {
		return nil // records and versions share a bucket: the read model holds heads
	}
	last, err := o.log.LastFromLeader(ctx, rec.Ref)
	for range maxHeadRounds {
		if err != nil {
			break
		}
		if err := o.writeHead(ctx, store, last); err != nil {
			return err
		}
		prev := last
		if last, err = o.log.LastFromLeader(ctx, rec.Ref); err == nil && last.Seq == prev.Seq {
			return nil
		}
	}
	switch {
	case errors.Is(err, clog.ErrNotFound):
		// The log no longer holds the item (an event replayed from the
		// DLQ after the stream lost it): there is no last event to
		// converge on, and the head is left as it is.
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("chronos: the head of %s did not settle in %d rounds: the item changes faster than its head is written", rec.Ref, maxHeadRounds)
}

// writeHead makes the head record of last's item hold last's payload, or
// removes it when last deletes the item (or, which validation never lets
// through, carries no payload).
func (o *Offloader) writeHead(ctx context.Context, store Store, last *clog.Record) error {
	ev, ref := last.Event, last.Ref
	keep := Codec("")
	if !ev.Deleted() && (len(ev.Payload) > 0 || ev.PayloadRef != nil) {
		payload := []byte(ev.Payload)
		if len(payload) == 0 && ev.PayloadRef != nil {
			// A claim-checked document: the claim is in the versions store.
			r, err := o.resolve(ref.Collection)
			if err != nil {
				return err
			}
			if payload, err = ReadRef(ctx, r, ev.PayloadRef, int64(o.maxPayload())); err != nil {
				return fmt.Errorf("chronos: read the claim-checked payload of %s v%d: %w", ref, ev.OV, err)
			}
		}
		keep = o.codecFor(len(payload))
		data, err := Compress(keep, payload)
		if err != nil {
			return err
		}
		key := HeadKey(ref.Name, ref.ID, keep)
		if err := store.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
			return fmt.Errorf("chronos: write the head of %s (v%d): %w", ref, ev.OV, err)
		}
		o.opts.OffloadMetrics.stored(KindHead, len(payload), len(data))
	}
	for _, c := range headCodecs {
		if c == keep {
			continue
		}
		if err := store.Delete(ctx, HeadKey(ref.Name, ref.ID, c)); err != nil {
			return fmt.Errorf("chronos: delete the head of %s: %w", ref, err)
		}
	}
	return nil
}
