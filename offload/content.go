package offload

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrNoContent is returned (wrapped, naming the property) by
// ContentOf when a document holds no decodable content under a base64
// property: the property is missing, null, not a string, or not valid
// base64 (a version written before the property was declared base64).
var ErrNoContent = errors.New("chronos: no base64 content")

// Names of the text charsets a base64 property may declare
// (textCharset); ParseCharset also takes the aliases utf8, ascii and
// latin1, in any case.
const (
	CharsetUTF8   = "utf-8"
	CharsetASCII  = "us-ascii"
	CharsetLatin1 = "iso-8859-1"
)

// ContentProp describes a property of a collection's documents that holds
// base64-encoded content (the configuration's base64Props), in the terms
// the offloader and the query service need.
type ContentProp struct {
	// ContentType is the MIME type of the decoded bytes.
	ContentType string
	// Text stores and serves the content as UTF-8 text (text.txt),
	// transcoded from Charset, instead of the decoded bytes (blob.bin).
	Text bool
	// Charset is the charset of the decoded bytes of a Text property:
	// one ParseCharset accepts; "" means utf-8.
	Charset string
}

// ContentKey is the key of the decoded content of property prop of
// version ov of an item:
//
//	<collection>/<itemId>/v<ov>/<prop>/blob.bin   (text false)
//	<collection>/<itemId>/v<ov>/<prop>/text.txt   (text true: preferredText)
//
// It shares the "v<ov>/" directory with VersionKey, so deleting a
// version's prefix deletes its content too when one bucket holds both, and
// every object stays a leaf: prop is a single key segment that does not
// begin with "item.json" (the configuration's validation refuses other
// names). ContentKey itself does not check.
func ContentKey(collection, itemID string, ov uint64, prop string, text bool) string {
	name := "/blob.bin"
	if text {
		name = "/text.txt"
	}
	return collection + "/" + itemID + "/v" + strconv.FormatUint(ov, 10) + "/" + prop + name
}

// ParseCharset returns the canonical name (CharsetUTF8, CharsetASCII or
// CharsetLatin1) of a textCharset: "" and utf-8/utf8 are UTF-8,
// us-ascii/ascii is US-ASCII, iso-8859-1/latin1 is ISO-8859-1, in any
// case. Another name is an error.
func ParseCharset(name string) (string, error) {
	switch strings.ToLower(name) {
	case "", "utf-8", "utf8":
		return CharsetUTF8, nil
	case "us-ascii", "ascii":
		return CharsetASCII, nil
	case "iso-8859-1", "latin1":
		return CharsetLatin1, nil
	}
	return "", fmt.Errorf("chronos: text charset %q is not one of utf-8, us-ascii, iso-8859-1 (latin1)", name)
}

// Decode returns the content of the base64 string s: its decoded bytes,
// or, for a Text property, those bytes transcoded from Charset to UTF-8.
// s may be padded or not (standard alphabet), as ingest accepts it.
//
// Transcoding never fails: bytes that are not valid in the charset (a
// malformed UTF-8 sequence, a US-ASCII byte above 0x7F) become U+FFFD, as
// a browser's decoder does, so the text form is always valid UTF-8.
// ISO-8859-1 maps each byte to the code point of the same value.
func (p ContentProp) Decode(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		var err2 error
		if b, err2 = base64.RawStdEncoding.DecodeString(s); err2 != nil {
			return nil, fmt.Errorf("%w: not valid base64: %v", ErrNoContent, err)
		}
	}
	if !p.Text {
		return b, nil
	}
	cs, err := ParseCharset(p.Charset)
	if err != nil {
		return nil, err
	}
	return toUTF8(cs, b), nil
}

func toUTF8(charset string, b []byte) []byte {
	switch charset {
	case CharsetASCII:
		out := make([]byte, 0, len(b))
		for _, c := range b {
			if c < utf8.RuneSelf {
				out = append(out, c)
			} else {
				out = utf8.AppendRune(out, utf8.RuneError)
			}
		}
		return out
	case CharsetLatin1:
		out := make([]byte, 0, len(b)+len(b)/4)
		for _, c := range b {
			out = utf8.AppendRune(out, rune(c))
		}
		return out
	}
	if utf8.Valid(b) {
		return b
	}
	return []byte(strings.ToValidUTF8(string(b), string(utf8.RuneError)))
}

// ServedType is the Content-Type of the stored content: ContentType, and
// for a Text property ContentType with its charset parameter set to
// utf-8 (the stored text is UTF-8, whatever Charset the bytes came in).
func (p ContentProp) ServedType() string {
	if !p.Text {
		return p.ContentType
	}
	mt, params, err := mime.ParseMediaType(p.ContentType)
	if err != nil {
		return "text/plain; charset=utf-8"
	}
	if params == nil {
		params = map[string]string{}
	}
	params["charset"] = "utf-8"
	if s := mime.FormatMediaType(mt, params); s != "" {
		return s
	}
	return "text/plain; charset=utf-8"
}

// ContentOf returns the content of property name of the JSON object doc
// (decoded as p says). A missing, null or non-string property, or one
// that is not valid base64, fails with an error wrapping ErrNoContent.
func ContentOf(doc []byte, name string, p ContentProp) ([]byte, error) {
	var root map[string]json.RawMessage
	if err := json.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("chronos: the document is not a JSON object: %w", err)
	}
	return contentOf(root, name, p)
}

func contentOf(root map[string]json.RawMessage, name string, p ContentProp) ([]byte, error) {
	raw, ok := root[name]
	if !ok || string(raw) == "null" {
		return nil, fmt.Errorf("%w: the document has no property %q", ErrNoContent, name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: property %q is not a string", ErrNoContent, name)
	}
	b, err := p.Decode(s)
	if err != nil {
		return nil, fmt.Errorf("property %q: %w", name, err)
	}
	return b, nil
}
