// Package httpapi is the one place where Chronos errors become HTTP status
// codes and JSON bodies, shared by the ingest and query services:
//
//	{"error": {"code": "version_conflict", "message": "...", "currentOv": 3}}
//
// Domain packages declare their errors with Sentinel (or implement
// StatusError); everything else maps here: events.ErrTooLarge → 413,
// events.ErrInvalid → 400, deadlines → 504, anything unknown → 500 with the
// detail logged, never sent.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/chronos-go/chronos/events"
)

// StatusError is an error that knows its HTTP status and error code.
type StatusError interface {
	error
	HTTPStatus() (status int, code string)
}

// FieldsError adds fields to the JSON error body (e.g. currentOv).
type FieldsError interface {
	ErrorFields() map[string]any
}

type sentinel struct {
	msg    string
	status int
	code   string
}

func (s *sentinel) Error() string             { return s.msg }
func (s *sentinel) HTTPStatus() (int, string) { return s.status, s.code }

// Sentinel returns a sentinel error (match it with errors.Is) that maps to
// status and code wherever it is wrapped.
func Sentinel(msg string, status int, code string) error {
	return &sentinel{msg: msg, status: status, code: code}
}

// Body is the JSON error body.
type Body struct {
	Error map[string]any `json:"error"`
}

// Classify returns the status, code and client-safe message of err.
func Classify(err error) (status int, code, message string) {
	var se StatusError
	switch {
	case errors.As(err, &se):
		status, code = se.HTTPStatus()
		return status, code, err.Error()
	case errors.Is(err, events.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, "payload_too_large", err.Error()
	case errors.Is(err, events.ErrInvalid):
		return http.StatusBadRequest, "invalid_input", err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "timeout", "the request did not complete in time; it may be retried"
	case errors.Is(err, context.Canceled):
		return 499, "canceled", "the request was canceled"
	default:
		return http.StatusInternalServerError, "internal", "internal error; see the server log"
	}
}

// WriteError writes err as a JSON error body. 5xx details are logged, not
// sent: at ERROR for failures of the server, at WARN for 501 (a feature
// the configuration does not enable) and 504 (a bounded wait that ran
// out, such as minSeq), which are answers, not faults.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status, code, msg := Classify(err)
	if status >= 500 && log != nil {
		level := slog.LevelError
		if status == http.StatusNotImplemented || status == http.StatusGatewayTimeout {
			level = slog.LevelWarn
		}
		log.Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path, "status", status, "code", code, "err", err)
	}
	body := map[string]any{"code": code, "message": msg}
	var fe FieldsError
	if errors.As(err, &fe) {
		for k, v := range fe.ErrorFields() {
			body[k] = v
		}
	}
	WriteJSON(w, status, Body{Error: body})
}

// WriteJSON writes v as the JSON body with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// Invalid returns an error that maps to 400 invalid_input naming field.
func Invalid(field, reason string) error {
	return &events.ValidationError{Field: field, Reason: reason, Err: events.ErrInvalid}
}

// JSONContentType accepts JSON media types, and curl's default for -d
// (application/x-www-form-urlencoded) so that `curl -d '{...}'` works; the
// body must be a JSON document whatever the header says.
func JSONContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch {
	case mt == "application/json", mt == "application/x-ndjson", mt == "application/x-www-form-urlencoded":
		return true
	case strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"):
		return true
	}
	return false
}
