package tenancy

import (
	"encoding/json"
	"log/slog"
	"strings"
)

// Mask replaces a secret wherever one would be shown.
const Mask = "*****"

// Secret is a configuration value that must never be shown: an access key,
// a secret key, the hash of an API key. Printing it (fmt %v, %s, %q, %#v),
// logging it (slog) or marshaling it to JSON yields Mask, or "" when it is
// empty; only Reveal returns the value.
type Secret string

// Reveal returns the secret itself, for handing to a client library.
func (s Secret) Reveal() string { return string(s) }

// String returns Mask, or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Mask
}

// GoString masks %#v like String.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// LogValue masks the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes the masked form: a Secret never leaves the process
// through JSON.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// ConnString is a connection string that may carry credentials (a MongoDB
// URI, a NATS URL). Printing, logging and JSON show it with the password
// of every user:password@ part, and the value of every query parameter
// whose name mentions a password, secret, token or key (and
// authMechanismProperties), replaced by Mask. Reveal returns it unmasked.
type ConnString string

// Reveal returns the connection string itself, for handing to a driver.
func (c ConnString) Reveal() string { return string(c) }

// String returns the masked form.
func (c ConnString) String() string { return maskConnString(string(c)) }

// GoString masks %#v like String.
func (c ConnString) GoString() string { return `"` + c.String() + `"` }

// LogValue masks the connection string in slog output.
func (c ConnString) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON writes the masked form.
func (c ConnString) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// maskConnString masks the passwords and sensitive query values of every
// scheme://user:password@host part of s (s may list several, comma-separated).
// A string without "://" that is not empty is masked whole: it cannot be
// told apart from a bare secret.
func maskConnString(s string) string {
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		return Mask
	}
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "://")
		if i < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i+3])
		rest = rest[i+3:]
		// The authority ends at the next "/", "?" or "#" (or the next
		// URL); userinfo is what comes before its last "@".
		end := len(rest)
		if j := strings.Index(rest, "://"); j >= 0 {
			end = j
		}
		if j := strings.IndexAny(rest[:end], "/?#"); j >= 0 {
			end = j
		}
		if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
			user, _, hasPass := strings.Cut(rest[:at], ":")
			b.WriteString(user)
			if hasPass {
				b.WriteString(":" + Mask)
			}
			b.WriteString("@")
			rest = rest[at+1:]
		}
		// Copy up to the query, mask the query's sensitive values.
		q := strings.IndexByte(rest, '?')
		next := strings.Index(rest, "://")
		if q < 0 || (next >= 0 && next < q) {
			continue
		}
		b.WriteString(rest[:q+1])
		rest = rest[q+1:]
		qend := len(rest)
		if j := strings.IndexAny(rest, "#,"); j >= 0 {
			qend = j
		}
		b.WriteString(maskQuery(rest[:qend]))
		rest = rest[qend:]
	}
	return b.String()
}

func maskQuery(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, ok := strings.Cut(p, "=")
		if ok && sensitiveParam(k) {
			parts[i] = k + "=" + Mask
		}
	}
	return strings.Join(parts, "&")
}

func sensitiveParam(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"password", "secret", "token", "key", "authmechanismproperties", "credential"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// Masked returns the configuration as indented JSON with every secret
// masked: what `chronos config show` prints. Defaults are filled in.
func (c *Config) Masked() ([]byte, error) {
	return json.MarshalIndent(c, "", "  ")
}

// String returns the configuration as compact JSON with every secret
// masked, so that printing a Config never leaks one.
func (c *Config) String() string {
	b, err := json.Marshal(c)
	if err != nil {
		return "chronos: config: " + err.Error()
	}
	return string(b)
}

// scrubbedError carries an error whose message had secrets removed; it
// still unwraps to the original for errors.Is and errors.As.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrub returns err with every occurrence of each secret (and of the
// password part of each connection string) in its message replaced by a
// masked form. Drivers quote connection strings in their errors.
func scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		masked := maskConnString(s)
		msg = strings.ReplaceAll(msg, s, masked)
		for _, pw := range passwords(s) {
			msg = strings.ReplaceAll(msg, pw, Mask)
		}
	}
	if msg == err.Error() {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

// passwords returns the passwords of the user:password@ parts of a
// connection string (at least 4 bytes long, so that masking them in a
// message cannot shred it).
func passwords(s string) []string {
	var out []string
	rest := s
	for {
		i := strings.Index(rest, "://")
		if i < 0 {
			return out
		}
		rest = rest[i+3:]
		end := len(rest)
		if j := strings.Index(rest, "://"); j >= 0 {
			end = j
		}
		if j := strings.IndexAny(rest[:end], "/?#"); j >= 0 {
			end = j
		}
		if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok && len(pw) >= 4 {
				out = append(out, pw)
			}
		}
	}
}
