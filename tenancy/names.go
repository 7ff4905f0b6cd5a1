package tenancy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/chronos-go/chronos/events"
)

// MaxDBName is the longest MongoDB database name accepted, in bytes
// (MongoDB allows 64, FerretDB 63).
const MaxDBName = 63

// dbNameProblem returns why name is not a usable MongoDB database name, or "".
func dbNameProblem(name string) string {
	if name == "" {
		return "must not be empty"
	}
	if len(name) > MaxDBName {
		return quote(name) + " is " + strconv.Itoa(len(name)) + " bytes long; the limit is " + strconv.Itoa(MaxDBName)
	}
	if i := strings.IndexAny(name, "/\\. \"$*<>:|?\x00"); i >= 0 {
		return quote(name) + " has " + strconv.QuoteRune(rune(name[i])) + "; a MongoDB database name may not contain / \\ . space \" $ * < > : | ? or NUL"
	}
	return ""
}

// shortenDBName keeps a generated database name within MaxDBName bytes:
// a longer one becomes its start, "_" and 16 hex digits of the SHA-256 of
// the whole name, so distinct long names stay distinct.
func shortenDBName(name string) string {
	if len(name) <= MaxDBName {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:MaxDBName-17] + "_" + hex.EncodeToString(sum[:8])
}

// bucketProblem returns why name is not a valid bucket name for a backend
// kind, or "". S3 rules apply to s3 and local (so that a configuration
// moves between them); Azure container rules to azure.
func bucketProblem(kind, name string) string {
	if kind == BackendAzure {
		return containerProblem(name)
	}
	const what = "is not a valid S3 bucket name: "
	q := quote(name)
	switch {
	case len(name) < 3 || len(name) > 63:
		return q + " " + what + "it must be 3 to 63 characters long"
	case strings.IndexFunc(name, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') }) >= 0:
		return q + " " + what + "only lower-case letters, digits, '.' and '-' are allowed"
	case !alnum(name[0]) || !alnum(name[len(name)-1]):
		return q + " " + what + "it must begin and end with a letter or digit"
	case strings.Contains(name, ".."):
		return q + " " + what + "it must not contain two adjacent periods"
	case isIPv4(name):
		return q + " " + what + "it must not look like an IP address"
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return q + " " + what + "the prefix " + quote(p) + " is reserved"
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return q + " " + what + "the suffix " + quote(s) + " is reserved"
		}
	}
	return ""
}

func containerProblem(name string) string {
	const what = "is not a valid Azure container name: "
	q := quote(name)
	switch {
	case len(name) < 3 || len(name) > 63:
		return q + " " + what + "it must be 3 to 63 characters long"
	case strings.IndexFunc(name, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') }) >= 0:
		return q + " " + what + "only lower-case letters, digits and '-' are allowed"
	case !alnum(name[0]) || !alnum(name[len(name)-1]):
		return q + " " + what + "it must begin and end with a letter or digit"
	case strings.Contains(name, "--"):
		return q + " " + what + "it must not contain two adjacent hyphens"
	}
	return ""
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func isIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

// tokenProblem returns why s is not a valid scope or collection token (the
// rules of events.ValidateToken), or "".
func tokenProblem(s string) string {
	if err := events.ValidateToken("token", s); err != nil {
		var ve *events.ValidationError
		if errors.As(err, &ve) {
			return ve.Reason
		}
		return err.Error()
	}
	return ""
}

// scopeProblem is tokenProblem plus the generic scope's reservation.
func scopeProblem(s string) string {
	if s == events.GenericScope {
		return quote(s) + " is reserved for the generic tier"
	}
	return tokenProblem(s)
}
