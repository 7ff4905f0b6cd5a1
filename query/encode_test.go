package query

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/httpapi"
	"github.com/chronos-go/chronos/projection"
)

// writeItem answers exactly what httpapi.WriteJSON answers for the same
// item: the same bytes, Content-Type and ETag.
func TestWriteItemMatchesWriteJSON(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)
	ov := uint64(2)
	sys := projection.System{
		OV: 3, CV: 41, Seq: 41, InsertedAt: at, UpdatedAt: at.Add(time.Second), DeletedAt: &at, Deleted: true,
		FunctionIDs: []string{"f<1>"}, ParentID: "p", Creator: &events.Actor{Type: "user", Identifier: "u&1", Name: "Ann Ö"},
		Op: events.OpRestore, Reason: "a <b> & c", RestoredFrom: &ov, Size: 99, SHA256: "ab",
	}
	items := []*Item{
		{ID: "o-1", Data: json.RawMessage(`{"a":1,"s":"x y","h":"<b>&amp;</b>","n":{"k":[1,2]}}`), System: sys},
		{ID: "o-2", Data: json.RawMessage(" {\n  \"a\" : 1,\t\"s\": \"with \\\" quote and space\" } "), System: sys},
		{ID: "o-3", Data: json.RawMessage(`{}`), System: sys, systemKeys: []string{}},
		{ID: "o-4", Data: json.RawMessage(`{"a":"\u2028"}`), System: sys, systemKeys: []string{"ov", "reason"}},
		{ID: "ö <id>", Data: json.RawMessage(`{}`), System: sys, Payload: &PayloadURL{URL: "http://h/v1/blobs/b/k?expires=1&signature=ab", ExpiresAt: at, Codec: "zstd", Size: 7}},
	}
	for _, it := range items {
		want := httptest.NewRecorder()
		want.Header().Set("ETag", `"3"`)
		httpapi.WriteJSON(want, 200, it)
		got := httptest.NewRecorder()
		if err := writeItem(got, it); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
			t.Errorf("item %s:\n got %s\nwant %s", it.ID, got.Body.Bytes(), want.Body.Bytes())
		}
		for _, h := range []string{"Content-Type", "ETag"} {
			if got.Header().Get(h) != want.Header().Get(h) {
				t.Errorf("item %s: %s %q, want %q", it.ID, h, got.Header().Get(h), want.Header().Get(h))
			}
		}
		if got.Header().Get("Content-Length") != itoa(got.Body.Len()) {
			t.Errorf("item %s: Content-Length %q for %d bytes", it.ID, got.Header().Get("Content-Length"), got.Body.Len())
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
