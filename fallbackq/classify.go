package fallbackq

import (
	"context"
	"errors"
	"net/http"

	"github.com/chronos-go/chronos/events"
)

// Class says what to do with an event whose processing failed.
type Class int

const (
	// Retryable failures may succeed later (a timeout, a 5xx, a connection
	// reset, anything unknown): the event is redelivered on the policy's
	// schedule, then dead-lettered when its deliveries are used up.
	Retryable Class = iota
	// Terminal failures cannot succeed by trying again (an invalid or
	// undecodable event, a 4xx from a store): the event is dead-lettered at
	// once.
	Terminal
)

// String returns "retryable" or "terminal".
func (c Class) String() string {
	if c == Terminal {
		return "terminal"
	}
	return "retryable"
}

// ErrTerminal is matched (errors.Is) by the errors of MarkTerminal.
var ErrTerminal = errors.New("chronos: terminal failure")

// MarkTerminal wraps err so that Classify calls it Terminal, for failures
// that only the caller knows cannot be retried. errors.Is still matches err
// and ErrTerminal. MarkTerminal(nil) is nil.
func MarkTerminal(err error) error {
	if err == nil {
		return nil
	}
	return &terminalError{err: err}
}

type terminalError struct{ err error }

func (e *terminalError) Error() string        { return e.err.Error() }
func (e *terminalError) Unwrap() error        { return e.err }
func (e *terminalError) Is(target error) bool { return target == ErrTerminal }

// StatusCoder is an error that carries an HTTP status code, as the errors of
// object store SDKs do (smithy-go's ResponseError has HTTPStatusCode). A
// backend whose SDK errors have no such method maps them to one.
type StatusCoder interface {
	error
	HTTPStatusCode() int
}

type statusCoder2 interface {
	error
	StatusCode() int
}

type temporary interface {
	error
	Temporary() bool
}

type timeout interface {
	error
	Timeout() bool
}

// Classify decides whether a failure is worth retrying. It never calls an
// error Terminal unless it is sure: unknown errors are Retryable, so that
// nothing is dead-lettered before its retries are used up.
//
// Terminal: events.ErrInvalid (invalid or undecodable events), ErrTerminal
// (MarkTerminal), an HTTP status 4xx (except 408, 409, 425 and 429, which
// say "later"). Retryable: context deadlines and cancellations, errors
// reporting Timeout() or Temporary(), network errors, 5xx, everything else.
func Classify(err error) Class {
	switch {
	case err == nil:
		return Retryable
	case errors.Is(err, ErrTerminal), errors.Is(err, events.ErrInvalid):
		return Terminal
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return Retryable
	}
	if t, ok := errors.AsType[timeout](err); ok && t.Timeout() {
		return Retryable
	}
	if t, ok := errors.AsType[temporary](err); ok && t.Temporary() {
		return Retryable
	}
	if status, ok := statusOf(err); ok && status >= 400 && status < 500 {
		switch status {
		case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests:
			return Retryable
		}
		return Terminal
	}
	return Retryable
}

func statusOf(err error) (int, bool) {
	if s, ok := errors.AsType[StatusCoder](err); ok {
		return s.HTTPStatusCode(), true
	}
	if s, ok := errors.AsType[statusCoder2](err); ok {
		return s.StatusCode(), true
	}
	return 0, false
}
