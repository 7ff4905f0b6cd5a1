package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/chronos-go/chronos/events"
)

// ErrNotFound matches a missing item, version or time (HTTP 404), and a
// write to an item that does not exist or is deleted.
var ErrNotFound = errors.New("chronos: not found")

// ErrConflict matches every conflict (HTTP 409): a stale expected version
// (*ConflictError), a create whose id is taken (ErrExists), a rejected
// atomic batch.
var ErrConflict = errors.New("chronos: conflict")

// ErrExists matches a create whose item id is already taken. It also
// matches ErrConflict.
var ErrExists = fmt.Errorf("%w: item already exists", ErrConflict)

// ErrInvalid matches input the server (HTTP 400, 413) or this package
// refused before sending anything. It is events.ErrInvalid, so validation
// errors of the events package match it too.
var ErrInvalid = events.ErrInvalid

// ErrTooLarge matches a document or batch over the server's size limit
// (HTTP 413). It also matches ErrInvalid.
var ErrTooLarge = events.ErrTooLarge

// ErrInvalidOption wraps every error of a bad option or argument
// combination, such as WithExpectedOV on a create.
var ErrInvalidOption = errors.New("chronos: invalid option")

// ErrBehind matches a read whose MinSeq the read model had not reached
// when the server stopped waiting (HTTP 504 min_seq_timeout); the error is
// a *BehindError.
var ErrBehind = errors.New("chronos: the read model is behind the sequence asked for")

// ErrClosed is returned by a Producer after Close.
var ErrClosed = errors.New("chronos: producer is closed")

// APIError is an error answer of the HTTP API that has no more specific
// type: the status, and the code and message of the error body
// {"error":{"code","message",...}}. The message is the server's own.
type APIError struct {
	Status  int
	Code    string
	Message string
	// Field names the input the server rejected, when it says: a query
	// parameter, a body key, or a path into one such as "filter.color".
	Field string
	// Fields holds the other members of the error body, if any.
	Fields map[string]json.RawMessage
}

// Error returns the server's message with the status and code.
func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d %s)", e.Message, e.Status, e.Code)
}

// Is matches the sentinels by status: ErrNotFound (404), ErrConflict
// (409), ErrExists (409 already_exists), ErrInvalid (400, 413) and
// ErrTooLarge (413).
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrExists:
		return e.Status == http.StatusConflict && e.Code == "already_exists"
	case ErrInvalid:
		return e.Status == http.StatusBadRequest || e.Status == http.StatusRequestEntityTooLarge
	case ErrTooLarge:
		return e.Status == http.StatusRequestEntityTooLarge
	}
	return false
}

// ConflictError reports that a write expected version ExpectedOV of an
// item whose current version is CurrentOV: someone else wrote first, and
// nothing was written. Retry with CurrentOV after reading it.
type ConflictError struct {
	ID         string
	ExpectedOV uint64
	CurrentOV  uint64
	// Message is the server's message (empty for Producer conflicts).
	Message string
}

// Error names the item and both versions.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("chronos: version conflict on %s: expected ov %d, current ov is %d", e.ID, e.ExpectedOV, e.CurrentOV)
}

// Is reports whether target is ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// BehindError reports that the read model had applied sequence Position
// of the collection's partition, short of the MinSeq the read asked for,
// when the server stopped waiting. Nothing was read; retry later.
type BehindError struct {
	Partition int
	MinSeq    uint64
	Position  uint64
	// Message is the server's message.
	Message string
}

// Error names the partition and both sequences.
func (e *BehindError) Error() string {
	return fmt.Sprintf("chronos: the read model of partition %d is at seq %d, short of minSeq %d (HTTP 504 min_seq_timeout)", e.Partition, e.Position, e.MinSeq)
}

// Is reports whether target is ErrBehind.
func (e *BehindError) Is(target error) bool { return target == ErrBehind }

// errorBody is the JSON error body of the HTTP API.
type errorBody struct {
	Error map[string]json.RawMessage `json:"error"`
}

// decodeError turns an error response into a typed error. id names the
// item of the request, for conflicts.
func decodeError(status int, body []byte, id string) error {
	var b errorBody
	if err := json.Unmarshal(body, &b); err != nil || b.Error == nil {
		// Not ours (a proxy, a load balancer): keep what it said.
		return &APIError{Status: status, Code: "http_" + strconv.Itoa(status), Message: "chronos: " + http.StatusText(status) + ": " + excerpt(body)}
	}
	return errorFromFields(status, b.Error, id)
}

func errorFromFields(status int, f map[string]json.RawMessage, id string) error {
	var code, msg string
	_ = json.Unmarshal(f["code"], &code)
	_ = json.Unmarshal(f["message"], &msg)
	if status == http.StatusConflict && code == "version_conflict" {
		ce := &ConflictError{ID: id, Message: msg}
		cur, okCur := f["currentOv"]
		if okCur && json.Unmarshal(cur, &ce.CurrentOV) == nil {
			_ = json.Unmarshal(f["expectedOv"], &ce.ExpectedOV)
			return ce
		}
	}
	if status == http.StatusGatewayTimeout && code == "min_seq_timeout" {
		be := &BehindError{Message: msg}
		if json.Unmarshal(f["position"], &be.Position) == nil && json.Unmarshal(f["minSeq"], &be.MinSeq) == nil {
			_ = json.Unmarshal(f["partition"], &be.Partition)
			return be
		}
	}
	var field string
	_ = json.Unmarshal(f["field"], &field)
	rest := make(map[string]json.RawMessage, len(f))
	for k, v := range f {
		if k != "code" && k != "message" && k != "field" {
			rest[k] = v
		}
	}
	if len(rest) == 0 {
		rest = nil
	}
	return &APIError{Status: status, Code: code, Message: msg, Field: field, Fields: rest}
}

// excerpt returns the start of a non-JSON error body, for messages.
func excerpt(b []byte) string {
	const max = 256
	if len(b) > max {
		b = b[:max]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
		return string(b) + "…"
	}
	return string(b)
}
