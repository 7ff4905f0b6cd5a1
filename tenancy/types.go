package tenancy

import (
	"encoding/json"
	"errors"
	"time"
)

// Duration is a time.Duration written in the file as a Go duration string:
// "90s", "2m", "1h30m".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`must be a duration string such as "90s" or "2m"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New(`must be a duration such as "90s" or "2m", got ` + quote(s))
	}
	*d = Duration(v)
	return nil
}

// FieldSet is a projection's include list: either every field ("*") or the
// listed ones.
type FieldSet struct {
	// All is set by "*".
	All bool
	// Fields lists the fields when All is false.
	Fields []string
}

// MarshalJSON writes "*" or the list.
func (f FieldSet) MarshalJSON() ([]byte, error) {
	if f.All {
		return []byte(`"*"`), nil
	}
	if f.Fields == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(f.Fields)
}

// UnmarshalJSON reads "*" or a list of field names.
func (f *FieldSet) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if s != "*" {
			return errors.New(`must be "*" or a list of field names`)
		}
		*f = FieldSet{All: true}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New(`must be "*" or a list of field names`)
	}
	*f = FieldSet{Fields: list}
	return nil
}

// Right is what an API key may do.
type Right string

// The rights of auth.keys[].rights.
const (
	// RightRead reads items, versions, history and counters.
	RightRead Right = "read"
	// RightWrite creates, updates, enriches, restores and deletes items.
	RightWrite Right = "write"
	// RightAdmin runs administrative operations (replay, DLQ, collection
	// restore) and implies read and write.
	RightAdmin Right = "admin"
)

func (r Right) valid() bool { return r == RightRead || r == RightWrite || r == RightAdmin }
