package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// The envelope codec keeps the payload out of encoding/json. encoding/json
// scans every byte of a json.RawMessage twice on decode (the decoder's
// buffer scan, then the value decode) and once more on encode (to compact
// it), at roughly 50-150 MB/s; the payload is most of an event's bytes and
// ValidatePayload checks it anyway. So Encode marshals the small fields and
// splices the payload in, and Decode cuts the payload out, decodes the rest
// with encoding/json, and lets Validate check the payload. Both produce
// exactly what the plain encoding/json codec (encodeStd, decodeStd) does:
// the same bytes, the same events, the same accepted and rejected inputs.
// FuzzDecodeValidate and TestSpliceMatchesStd hold them to that.

// eventHead and eventTail are the fields of Event before and after Payload,
// in Event's order, with its tags. TestSpliceFieldsMatchEvent fails when
// Event gains a field these do not mirror.
type eventHead struct {
	V          int                        `json:"v"`
	Op         Op                         `json:"op"`
	OV         uint64                     `json:"ov"`
	At         time.Time                  `json:"at"`
	Actor      *Actor                     `json:"actor,omitempty"`
	Reason     string                     `json:"reason,omitempty"`
	FunctionID string                     `json:"functionId,omitempty"`
	Lineage    *Lineage                   `json:"lineage,omitempty"`
	Meta       map[string]json.RawMessage `json:"meta,omitempty"`
}

type eventTail struct {
	PayloadRef   *BlobRef  `json:"payloadRef,omitempty"`
	InsertedAt   time.Time `json:"insertedAt"`
	Creator      *Actor    `json:"creator,omitempty"`
	FunctionIDs  []string  `json:"functionIds,omitempty"`
	RestoredFrom *uint64   `json:"restoredFrom,omitempty"`
}

// spliceMin is the payload size from which splicing beats encoding/json.
const spliceMin = 256

// Encode returns the JSON body of e. It does not validate: call Validate
// first on anything built from user input. The payload must be valid JSON
// (Validate guarantees it); it is copied compacted, as encoding/json
// would, without being re-scanned by encoding/json.
func Encode(e *Event) ([]byte, error) {
	if len(e.Payload) < spliceMin {
		return encodeStd(e)
	}
	head, err := marshalNoEscape(eventHead{e.V, e.Op, e.OV, e.At, e.Actor, e.Reason, e.FunctionID, e.Lineage, e.Meta})
	if err != nil {
		return nil, fmt.Errorf("chronos: encode event: %w", err)
	}
	tail, err := marshalNoEscape(eventTail{e.PayloadRef, e.InsertedAt, e.Creator, e.FunctionIDs, e.RestoredFrom})
	if err != nil {
		return nil, fmt.Errorf("chronos: encode event: %w", err)
	}
	// head is never "{}" (v, op, ov and at are always written), nor is
	// tail (insertedAt is).
	out := make([]byte, 0, len(head)+len(tail)+len(e.Payload)+12)
	out = append(out, head[:len(head)-1]...)
	out = append(out, `,"payload":`...)
	out = appendCompact(out, e.Payload)
	out = append(out, ',')
	return append(out, tail[1:]...), nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return b[:len(b)-1], nil // drop the encoder's newline
}

// encodeStd is Encode through encoding/json alone.
func encodeStd(e *Event) ([]byte, error) {
	b, err := marshalNoEscape(e)
	if err != nil {
		return nil, fmt.Errorf("chronos: encode event: %w", err)
	}
	return b, nil
}

// appendCompact appends valid JSON p to dst without the whitespace outside
// strings: what encoding/json does to a json.RawMessage when HTML escaping
// is off. A compact document (the common case) is copied in one append.
func appendCompact(dst, p []byte) []byte {
	for i := spaceOutsideStrings(p); i >= 0; i = spaceOutsideStrings(p) {
		dst = append(dst, p[:i]...)
		p = p[i+1:]
	}
	return append(dst, p...)
}

// isCompact reports whether valid JSON b has no whitespace outside strings.
func isCompact(b []byte) bool { return spaceOutsideStrings(b) < 0 }

// spaceOutsideStrings returns the index of the first whitespace byte of
// valid JSON b that is not inside a string, or -1. b must start outside a
// string: at a value, or after whitespace that ended one. Raw tabs and
// line breaks cannot occur inside JSON strings, so only spaces need the
// string scan, and a document without spaces needs none.
func spaceOutsideStrings(b []byte) int {
	if bytes.IndexByte(b, ' ') < 0 {
		return bytes.IndexAny(b, "\t\n\r")
	}
	in, esc := false, false
	for i, c := range b {
		switch {
		case esc:
			esc = false
		case in:
			if c == '\\' {
				esc = true
			} else if c == '"' {
				in = false
			}
		case c == '"':
			in = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return i
		}
	}
	return -1
}

// Decode parses a message body into an event and validates it. Unknown
// fields are rejected: a v1 reader must not silently drop what a newer writer
// meant, so envelope changes bump V.
func Decode(body []byte, lim Limits) (*Event, error) {
	ps, pe, ok := payloadSpan(body)
	if !ok || pe-ps < spliceMin {
		return decodeStd(body, lim)
	}
	// The envelope with its payload replaced by null: small, so
	// encoding/json decodes it quickly, with every check it makes on the
	// whole body (unknown fields, types, trailing data).
	rest := make([]byte, 0, len(body)-(pe-ps)+4)
	rest = append(rest, body[:ps]...)
	rest = append(rest, "null"...)
	rest = append(rest, body[pe:]...)
	e, err := decodeEnvelope(rest)
	if err != nil {
		return nil, err
	}
	e.Payload = bytes.Clone(body[ps:pe])
	// Validate runs ValidatePayload on the payload (every accepted event
	// with a payload passes it), which rejects what encoding/json's
	// RawMessage decode would have: invalid JSON, invalid UTF-8.
	if err := e.Validate(lim); err != nil {
		return nil, err
	}
	return e, nil
}

// decodeStd is Decode through encoding/json alone.
func decodeStd(body []byte, lim Limits) (*Event, error) {
	e, err := decodeEnvelope(body)
	if err != nil {
		return nil, err
	}
	if err := e.Validate(lim); err != nil {
		return nil, err
	}
	return e, nil
}

func decodeEnvelope(body []byte) (*Event, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var e Event
	if err := dec.Decode(&e); err != nil {
		return nil, invalid("event", "cannot decode the envelope: %v", err)
	}
	if dec.More() {
		return nil, invalid("event", "trailing data after the envelope")
	}
	return &e, nil
}

// payloadSpan finds the value of the envelope's top-level "payload" key:
// body[start:end]. ok is false when the fast path must not be taken: no
// payload, a key with escapes, a second key that encoding/json would also
// match to Payload (it matches names case-insensitively), or bytes this
// shallow scan cannot delimit. Whatever it returns, the bytes outside the
// span are decoded by encoding/json and the span by ValidatePayload, so a
// wrong guess on malformed input is rejected, never accepted.
func payloadSpan(b []byte) (start, end int, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, 0, false
	}
	i = skipSpace(b, i+1)
	found := false
	for i < len(b) && b[i] != '}' {
		if b[i] != '"' {
			return 0, 0, false
		}
		ks := i + 1
		ke := ks
		for ke < len(b) && b[ke] != '"' {
			if b[ke] == '\\' {
				return 0, 0, false
			}
			ke++
		}
		if ke >= len(b) {
			return 0, 0, false
		}
		key := b[ks:ke]
		i = skipSpace(b, ke+1)
		if i >= len(b) || b[i] != ':' {
			return 0, 0, false
		}
		vs := skipSpace(b, i+1)
		ve := skipValue(b, vs)
		if ve < 0 {
			return 0, 0, false
		}
		if bytes.EqualFold(key, []byte("payload")) {
			if found || string(key) != "payload" {
				return 0, 0, false
			}
			found, start, end = true, vs, ve
		}
		i = skipSpace(b, ve)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return start, end, found
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value starting at b[i], or -1. It
// delimits without validating: strings by their closing quote, objects
// and arrays by bracket depth, anything else up to a delimiter.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default:
		j := i
		for j < len(b) {
			switch b[j] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				if j == i {
					return -1
				}
				return j
			}
			j++
		}
		return -1
	}
}

// skipString returns the index after the string starting at b[i] (a '"'):
// the first quote not escaped, that is not preceded by an odd run of
// backslashes. IndexByte finds quotes at memory speed.
func skipString(b []byte, i int) int {
	start := i + 1
	for i = start; i < len(b); {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		q := i + j
		n := 0
		for k := q - 1; k >= start && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
	return -1
}
