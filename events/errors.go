package events

import (
	"errors"
	"fmt"
)

// ErrInvalid is the sentinel matched (errors.Is) by every validation error of
// this package: a bad token, a bad payload, an undecodable envelope.
var ErrInvalid = errors.New("chronos: invalid input")

// ErrTooLarge is matched by a payload over the configured size limit. It also
// matches ErrInvalid.
var ErrTooLarge = fmt.Errorf("%w: payload too large", ErrInvalid)

// ValidationError names the field that failed and why. Field is a path such as
// "collection", "itemId" or "payload.a.b".
type ValidationError struct {
	Field  string
	Reason string
	// Err is ErrInvalid or ErrTooLarge.
	Err error
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("chronos: invalid %s: %s", e.Field, e.Reason)
}

// Unwrap returns ErrInvalid or ErrTooLarge.
func (e *ValidationError) Unwrap() error {
	if e.Err == nil {
		return ErrInvalid
	}
	return e.Err
}

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...), Err: ErrInvalid}
}
