package events

import (
	"encoding/json"
	"time"
)

// Limits bounds what Validate accepts.
type Limits struct {
	// MaxPayload is the largest inline payload in bytes; 0 means DefaultMaxPayload.
	MaxPayload int
}

// Validate checks that e is a well-formed v1 event: a known op, an ov
// consistent with it, timestamps set, and a payload (or a claim check) that
// ValidatePayload accepts. An erase carries no payload.
func (e *Event) Validate(lim Limits) error {
	if e.V != Version {
		return invalid("v", "envelope version %d is not supported; this build reads version %d", e.V, Version)
	}
	if !e.Op.Valid() {
		return invalid("op", "%q is not one of create, update, delete, enrich, restore, erase", e.Op)
	}
	if e.Op == OpCreate && e.OV != 0 {
		return invalid("ov", "a create has ov 0, not %d", e.OV)
	}
	if e.Op != OpCreate && e.OV == 0 {
		return invalid("ov", "only a create has ov 0; a %s has ov >= 1", e.Op)
	}
	if e.At.IsZero() {
		return invalid("at", "must be set")
	}
	if e.InsertedAt.IsZero() {
		return invalid("insertedAt", "must be set")
	}
	if e.At.Before(e.InsertedAt) {
		return invalid("at", "%s is before insertedAt %s", e.At.Format(time.RFC3339Nano), e.InsertedAt.Format(time.RFC3339Nano))
	}
	if e.Op == OpRestore && e.RestoredFrom == nil {
		return invalid("restoredFrom", "a restore names the ov it restores")
	}
	if e.Op == OpEnrich && e.FunctionID != "" {
		if err := validateFunctionID(e.FunctionID); err != nil {
			return err
		}
	}
	switch {
	case e.Op == OpErase:
		if len(e.Payload) > 0 || e.PayloadRef != nil {
			return invalid("payload", "an erase carries no payload")
		}
	case e.PayloadRef != nil:
		if len(e.Payload) > 0 {
			return invalid("payload", "an event has a payload or a payloadRef, not both")
		}
		if e.PayloadRef.Key == "" {
			return invalid("payloadRef.key", "must not be empty")
		}
	default:
		if err := ValidatePayload("payload", e.Payload, lim.MaxPayload); err != nil {
			return err
		}
	}
	for k, v := range e.Meta {
		if k == "" || k[0] == '$' || containsNUL(k) {
			return invalid("meta", "key %q is not a valid property name", truncate(k))
		}
		if !json.Valid(v) {
			return invalid("meta."+truncate(k), "is not valid JSON")
		}
	}
	return nil
}

func validateFunctionID(s string) error {
	if len(s) > 256 {
		return invalid("functionId", "is %d characters long; the limit is 256", len(s))
	}
	if containsNUL(s) {
		return invalid("functionId", "contains a NUL character")
	}
	return nil
}
