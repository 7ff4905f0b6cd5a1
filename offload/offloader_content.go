package offload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/fallbackq"
	clog "github.com/chronos-go/chronos/log"
)

// offloadContent writes the content of rec's base64 properties to the
// collection's content store. A property the version does not hold as
// base64 (missing, null, not a string, or not valid base64: written
// before the collection map declared it) has no content and is skipped;
// the query service answers 404 for it the same way.
func (o *Offloader) offloadContent(ctx context.Context, rec *clog.Record) error {
	if o.opts.Content == nil || o.opts.Base64Props == nil {
		return nil
	}
	ev := rec.Event
	props := o.opts.Base64Props(rec.Ref.Collection)
	if len(props) == 0 || ev.Op == events.OpErase {
		return nil
	}
	payload := []byte(ev.Payload)
	if len(payload) == 0 {
		if ev.PayloadRef == nil {
			return nil
		}
		// A claim-checked document: its content is in the claim blob of
		// the versions store, which ingest wrote before the event.
		r, err := o.resolve(rec.Ref.Collection)
		if err != nil {
			return err
		}
		if payload, err = ReadRef(ctx, r, ev.PayloadRef, int64(o.maxPayload())); err != nil {
			return fmt.Errorf("chronos: read the claim-checked payload of %s v%d: %w", rec.Ref, ev.OV, err)
		}
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal(payload, &root); err != nil {
		return fallbackq.MarkTerminal(fmt.Errorf("chronos: payload of %s v%d is not a JSON object: %w", rec.Ref, ev.OV, err))
	}
	var store Store
	for _, name := range slices.Sorted(maps.Keys(props)) {
		p := props[name]
		data, err := contentOf(root, name, p)
		if errors.Is(err, ErrNoContent) {
			if _, present := root[name]; present && string(root[name]) != "null" {
				o.opts.Logger.Warn("offloader: base64 property holds no base64 content; nothing stored",
					"item", rec.Ref.String(), "ov", ev.OV, "err", err)
			}
			continue
		}
		if err != nil {
			return fallbackq.MarkTerminal(err)
		}
		if store == nil {
			if store, err = o.opts.Content(rec.Ref.Collection); err != nil {
				return err
			}
		}
		key := ContentKey(rec.Ref.Name, rec.Ref.ID, ev.OV, name, p.Text)
		if err := store.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
			return fmt.Errorf("chronos: offload content %q of %s v%d: %w", name, rec.Ref, ev.OV, err)
		}
		o.opts.OffloadMetrics.stored(KindContent, len(data), len(data))
	}
	return nil
}

func (o *Offloader) maxPayload() int {
	if n := o.log.Limits().MaxPayload; n > 0 {
		return n
	}
	return events.DefaultMaxPayload
}
