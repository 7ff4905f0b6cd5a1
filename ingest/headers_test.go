package ingest

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/events"
)

func TestParseActor(t *testing.T) {
	tests := []struct {
		in      string
		want    events.Actor
		wantErr string
	}{
		{"user:user-123 (John Doe)", events.Actor{Type: "user", Identifier: "user-123", Name: "John Doe"}, ""},
		{"system", events.Actor{Type: "system"}, ""},
		{"cron:nightly", events.Actor{Type: "cron", Identifier: "nightly"}, ""},
		{"agent (Bot)", events.Actor{Type: "agent", Name: "Bot"}, ""},
		{`{"type":"service","identifier":"billing","metadata":{"v":2}}`, events.Actor{Type: "service", Identifier: "billing"}, ""},
		{"", events.Actor{}, "Chronos-Actor"},
		{"user:a b", events.Actor{}, `must be "type:identifier (Name)"`},
		{"us er", events.Actor{}, "Chronos-Actor"},
		{`{"type":"bad type"}`, events.Actor{}, "Chronos-Actor.type"},
		{`{"type":"user","extra":1}`, events.Actor{}, "unknown field"},
	}
	for _, tt := range tests {
		a, err := ParseActor(tt.in)
		if tt.wantErr != "" {
			if !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseActor(%q) = %v, want ErrInvalid containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || a.Type != tt.want.Type || a.Identifier != tt.want.Identifier || a.Name != tt.want.Name {
			t.Errorf("ParseActor(%q) = %+v, %v; want %+v", tt.in, a, err, tt.want)
		}
	}
}

func TestExpectedOV(t *testing.T) {
	tests := []struct {
		url, ifMatch string
		want         int64 // -1: none
		wantErr      string
	}{
		{"/x", "", -1, ""},
		{"/x", `"3"`, 3, ""},
		{"/x", `3`, 3, ""},
		{"/x?expectedOv=4", "", 4, ""},
		{"/x?expectedOv=4", `"4"`, 4, ""},
		{"/x?expectedOv=4", `"5"`, 0, "disagree"},
		{"/x", `W/"3"`, 0, "weak"},
		{"/x", `"abc"`, 0, "If-Match"},
		{"/x?expectedOv=-1", "", 0, "expectedOv"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("PUT", tt.url, nil)
		if tt.ifMatch != "" {
			r.Header.Set("If-Match", tt.ifMatch)
		}
		ov, err := expectedOV(r)
		switch {
		case tt.wantErr != "":
			if !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s If-Match %s: %v, want error containing %q", tt.url, tt.ifMatch, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%s If-Match %s: %v", tt.url, tt.ifMatch, err)
		case tt.want == -1 && ov != nil, tt.want >= 0 && (ov == nil || *ov != uint64(tt.want)):
			t.Errorf("%s If-Match %s: got %v, want %d", tt.url, tt.ifMatch, ov, tt.want)
		}
	}
}

func TestWriteHeaders(t *testing.T) {
	r := httptest.NewRequest("PUT", "/x", nil)
	r.Header.Set(HeaderIdempotencyKey, "has space")
	if _, err := writeFromRequest(r); err == nil || !strings.Contains(err.Error(), HeaderIdempotencyKey) {
		t.Fatalf("bad idempotency key: %v", err)
	}
	r.Header.Set(HeaderIdempotencyKey, "k-1")
	r.Header.Set(HeaderReason, strings.Repeat("r", 1025))
	if _, err := writeFromRequest(r); err == nil || !strings.Contains(err.Error(), HeaderReason) {
		t.Fatalf("long reason: %v", err)
	}
	r.Header.Set(HeaderReason, "fix")
	w, err := writeFromRequest(r)
	if err != nil || w.IdempotencyKey != "k-1" || w.Reason != "fix" {
		t.Fatalf("write %+v %v", w, err)
	}
}

func TestJSONContentType(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json": true, "application/json; charset=utf-8": true, "application/merge-patch+json": true,
		"application/x-www-form-urlencoded": true, "text/plain": false, "multipart/form-data; boundary=x": false, ";;": false,
	} {
		if got := jsonContentType(ct); got != want {
			t.Errorf("jsonContentType(%q) = %v", ct, got)
		}
	}
}
