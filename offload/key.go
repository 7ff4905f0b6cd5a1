package offload

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// MaxKeyLen is the longest key in bytes (S3's and Azure's limit).
	MaxKeyLen = 1024
	// MaxSegmentLen is the longest segment (the text between slashes) in
	// bytes: a file name on common POSIX file systems, so that the local
	// store and file-backed S3 servers can hold every valid key.
	MaxSegmentLen = 255
)

// ValidateKey reports whether key can name an object in every backend. A
// valid key is non-empty, at most MaxKeyLen bytes of valid UTF-8, has no
// leading or trailing '/', no empty segment ("//"), no "." or ".." segment,
// no segment over MaxSegmentLen bytes, no backslash, and no control
// character (C0, DEL or C1, NUL included). The error wraps ErrInvalidKey and
// names the key and the rule.
//
// ValidateKey cannot check that no key is the "directory" of another; see
// the package documentation.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return invalidKey(key, "is empty")
	case len(key) > MaxKeyLen:
		return invalidKey(key, fmt.Sprintf("is %d bytes, longer than %d", len(key), MaxKeyLen))
	case !utf8.ValidString(key):
		return invalidKey(key, "is not valid UTF-8")
	case strings.HasPrefix(key, "/"):
		return invalidKey(key, "begins with '/'")
	case strings.HasSuffix(key, "/"):
		return invalidKey(key, "ends with '/'")
	case strings.Contains(key, "//"):
		return invalidKey(key, "contains an empty segment (\"//\")")
	case strings.ContainsRune(key, '\\'):
		return invalidKey(key, "contains a backslash")
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return invalidKey(key, fmt.Sprintf("contains the control character %U", r))
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "." || seg == "..":
			return invalidKey(key, fmt.Sprintf("contains a %q segment", seg))
		case len(seg) > MaxSegmentLen:
			return invalidKey(key, fmt.Sprintf("has a segment of %d bytes, longer than %d", len(seg), MaxSegmentLen))
		}
	}
	return nil
}

func invalidKey(key, rule string) error {
	if len(key) > 80 {
		key = key[:80] + "..."
	}
	return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, rule)
}

// VersionKey is the key of the offloaded payload of version ov of an item:
//
//	<collection>/<itemId>/v<ov>/item.json<c.Suffix()>
//
// for example "orders/01J9Z.../v3/item.json.zst". The key is deterministic, so
// a retried offload overwrites the same object. ov is written in decimal
// without padding, so listing an item's versions returns them in byte order
// (v0, v1, v10, v11, v2, ...), not in ov order. collection and itemID are
// expected to be valid event tokens ([A-Za-z0-9_-]), which makes the key
// valid; VersionKey itself does not check.
func VersionKey(collection, itemID string, ov uint64, c Codec) string {
	return collection + "/" + itemID + "/v" + strconv.FormatUint(ov, 10) + "/item.json" + c.Suffix()
}

// HeadKey is the key of an item's head record, the payload of its latest
// version, in the records bucket of a route that keeps one apart from its
// versions bucket:
//
//	<collection>/<itemId>/head.json<c.Suffix()>
//
// for example "orders/01J9Z.../head.json.zst". It is a sibling of the
// item's version directories (v<ov>/, never "head.json..."), so it is a
// leaf in every layout: a bucket may hold head records next to versions
// and content. collection and itemID are expected to be valid event
// tokens; HeadKey itself does not check.
func HeadKey(collection, itemID string, c Codec) string {
	return collection + "/" + itemID + "/head.json" + c.Suffix()
}
