package client

import (
	"bytes"
	"encoding/json"

	"github.com/nats-io/nats.go"

	"github.com/chronos-go/chronos/events"
	clog "github.com/chronos-go/chronos/log"
)

// placeholder stands in for the payload while the envelope is encoded.
// It is valid, compact JSON, so events.Encode copies it unchanged.
var placeholder = []byte(`"\u0000chronos:payload\u0000"`)

// spliceMin is the payload size from which splicing pays off.
const spliceMin = 256

// newMsg returns the message log.NewMsg builds for ev, byte for byte.
// events.Encode spends most of its time re-scanning the payload to
// compact it (encoding/json does so for every json.RawMessage); a payload
// that is already compact comes out unchanged, so the envelope is encoded
// around a placeholder and the payload spliced in. ev must be valid
// (Event.Validate), which guarantees the payload is JSON.
func newMsg(l *clog.Log, ref events.ItemRef, ev *events.Event, o clog.AppendOptions) (*nats.Msg, error) {
	doc := ev.Payload
	if len(doc) < spliceMin || !isCompact(doc) {
		return l.NewMsg(ref, ev, o)
	}
	shell := *ev
	shell.Payload = json.RawMessage(placeholder)
	m, err := l.NewMsg(ref, &shell, o)
	if err != nil {
		return nil, err
	}
	i := bytes.Index(m.Data, placeholder)
	if i < 0 || bytes.Contains(m.Data[i+1:], placeholder) {
		// The placeholder's bytes also occur elsewhere (in a reason, say):
		// do not guess which is which.
		return l.NewMsg(ref, ev, o)
	}
	body := make([]byte, 0, len(m.Data)-len(placeholder)+len(doc))
	body = append(body, m.Data[:i]...)
	body = append(body, doc...)
	m.Data = append(body, m.Data[i+len(placeholder):]...)
	return m, nil
}

// isCompact reports whether valid JSON b has no whitespace outside
// strings: compacting it would change nothing. Raw tabs and line breaks
// cannot occur inside JSON strings, so only spaces need the string scan.
func isCompact(b []byte) bool {
	if bytes.IndexByte(b, '\n') >= 0 || bytes.IndexByte(b, '\r') >= 0 || bytes.IndexByte(b, '\t') >= 0 {
		return false
	}
	if bytes.IndexByte(b, ' ') < 0 {
		return true
	}
	in, esc := false, false
	for _, c := range b {
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
		case c == ' ':
			return false
		}
	}
	return true
}
