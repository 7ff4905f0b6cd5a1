package query

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
)

// jsonContentType is the Content-Type value of JSON answers, shared:
// net/http never modifies header values.
var jsonContentType = []string{"application/json"}

// maxPooledBuffer bounds the answer buffers kept for reuse.
const maxPooledBuffer = 64 << 10

var bufferPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// writeItem writes it as the JSON body of a 200 with its ETag, byte for
// byte what httpapi.WriteJSON writes (compact, HTML characters of user
// data as they are, a trailing newline), without the encoder: a latest
// read is answered in one append into a pooled buffer, with its length.
func writeItem(w http.ResponseWriter, it *Item) error {
	bp := bufferPool.Get().(*[]byte)
	b, err := it.appendJSON((*bp)[:0])
	if err != nil {
		return err
	}
	if !isCompactJSON(b) {
		var c bytes.Buffer
		if err := json.Compact(&c, b); err != nil {
			return err
		}
		b = append(b[:0], c.Bytes()...)
	}
	b = append(b, '\n')
	h := w.Header()
	h["Content-Type"] = jsonContentType
	vals := make([]string, 2) // one allocation for both headers
	vals[0], vals[1] = strconv.Itoa(len(b)), `"`+strconv.FormatUint(it.System.OV, 10)+`"`
	h["Content-Length"], h["Etag"] = vals[0:1:1], vals[1:2:2]
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= maxPooledBuffer {
		*bp = b[:0]
		bufferPool.Put(bp)
	}
	return nil
}

// appendJSON appends the JSON of it (see MarshalJSON) to b.
func (it *Item) appendJSON(b []byte) ([]byte, error) {
	sys, err := json.Marshal(it.System)
	if err != nil {
		return nil, err
	}
	if it.systemKeys != nil {
		if sys, err = pickMembers(sys, func(k string) bool { return slices.Contains(it.systemKeys, k) }); err != nil {
			return nil, err
		}
	}
	b = append(b, `{"_id":`...)
	if isToken(it.ID) {
		b = append(append(append(b, '"'), it.ID...), '"')
	} else {
		id, _ := json.Marshal(it.ID)
		b = append(b, id...)
	}
	if inner := objectInner(it.Data); len(inner) > 0 {
		b = append(append(b, ','), inner...)
	}
	if it.systemKeys == nil || len(it.systemKeys) > 0 {
		b = append(append(b, `,"_system":`...), sys...)
	}
	if it.Payload != nil {
		pu, err := json.Marshal(it.Payload)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"_payload":`...), pu...)
	}
	return append(b, '}'), nil
}

// isToken reports whether s is JSON-encoded as itself between quotes: an
// item id's characters (events tokens) need no escaping.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// isCompactJSON reports whether valid JSON b has no whitespace outside
// strings, i.e. json.Compact would not change it.
func isCompactJSON(b []byte) bool {
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString:
			if c == '\\' {
				escaped = true
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ', c == '\t', c == '\n', c == '\r':
			return false
		}
	}
	return true
}
