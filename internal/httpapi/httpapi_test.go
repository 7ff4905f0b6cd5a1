package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/events"
)

var errGone = Sentinel("chronos: gone", http.StatusGone, "gone")

type conflict struct{}

func (conflict) Error() string               { return "conflict" }
func (conflict) HTTPStatus() (int, string)   { return 409, "version_conflict" }
func (conflict) ErrorFields() map[string]any { return map[string]any{"currentOv": 3} }

func TestClassify(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("wrapped: %w", errGone), 410, "gone"},
		{events.ErrTooLarge, 413, "payload_too_large"},
		{&events.ValidationError{Field: "x", Reason: "bad", Err: events.ErrInvalid}, 400, "invalid_input"},
		{fmt.Errorf("op: %w", context.DeadlineExceeded), 504, "timeout"},
		{errors.New("disk on fire"), 500, "internal"},
	}
	for _, tt := range tests {
		status, code, _ := Classify(tt.err)
		if status != tt.status || code != tt.code {
			t.Errorf("Classify(%v) = %d %s, want %d %s", tt.err, status, code, tt.status, tt.code)
		}
	}
	if !errors.Is(fmt.Errorf("x: %w", errGone), errGone) {
		t.Fatal("sentinel does not match through wrapping")
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, httptest.NewRequest("GET", "/", nil), nil, fmt.Errorf("ctx: %w", conflict{}))
	var body Body
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if w.Code != 409 || body.Error["code"] != "version_conflict" || body.Error["currentOv"] != 3.0 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	WriteError(w, httptest.NewRequest("GET", "/", nil), nil, errors.New("secret detail"))
	if w.Code != 500 || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Error["message"] == "secret detail" {
		t.Fatalf("500 leaked its detail: %s", w.Body)
	}
}

// Server faults are logged at ERROR; 501 and 504, answers rather than
// faults, at WARN; 4xx not at all.
func TestWriteErrorLogLevels(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New("disk on fire"), "level=ERROR"},
		{Sentinel("chronos: not configured", http.StatusNotImplemented, "unavailable"), "level=WARN"},
		{Sentinel("chronos: waited", http.StatusGatewayTimeout, "min_seq_timeout"), "level=WARN"},
		{errGone, ""},
	} {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		WriteError(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil), log, tc.err)
		got := buf.String()
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%v: logged %q, want %q", tc.err, got, tc.want)
		}
	}
}
