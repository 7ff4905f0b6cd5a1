package fallbackq

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/chronos-go/chronos/internal/httpapi"
)

// AdminPath is the route prefix of the DLQ administration API.
const AdminPath = "/v1/admin/dlq"

// HTTPHandler serves the DLQ over HTTP. It checks no rights itself: mount
// it behind the admin right.
//
//	GET    /v1/admin/dlq?consumer=C&tenant=T   list entries
//	GET    /v1/admin/dlq/{seq}                 one entry, headers and event
//	POST   /v1/admin/dlq/{seq}/replay          replay one entry
//	POST   /v1/admin/dlq/replay?consumer=&tenant=  replay the selection
//	DELETE /v1/admin/dlq?olderThan=24h         purge (all without olderThan)
type HTTPHandler struct {
	dlq *DLQ
	log *slog.Logger
}

// NewHTTPHandler returns the HTTP handler of d.
func NewHTTPHandler(d *DLQ, logger *slog.Logger) *HTTPHandler {
	if logger == nil {
		logger = slog.Default()
	}
	return &HTTPHandler{dlq: d, log: logger}
}

// Register adds the DLQ routes to mux.
func (h *HTTPHandler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+AdminPath, h.list)
	mux.HandleFunc("GET "+AdminPath+"/{seq}", h.get)
	mux.HandleFunc("POST "+AdminPath+"/{seq}/replay", h.replay)
	mux.HandleFunc("POST "+AdminPath+"/replay", h.replayAll)
	mux.HandleFunc("DELETE "+AdminPath, h.purge)
}

// EntryView is the JSON of one entry with its event: Event holds the body
// when it is JSON, Body (a string) otherwise.
type EntryView struct {
	Entry
	Event json.RawMessage `json:"event,omitempty"`
	Body  *string         `json:"body,omitempty"`
}

// View returns e with its body as JSON when it is JSON.
func (e *Entry) View() EntryView {
	v := EntryView{Entry: *e}
	if json.Valid(e.Data) {
		v.Event = json.RawMessage(e.Data)
	} else {
		s := string(e.Data)
		v.Body = &s
	}
	return v
}

func (h *HTTPHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteError(w, r, h.log, err)
}

func filterOf(r *http.Request) Filter {
	q := r.URL.Query()
	return Filter{Consumer: q.Get("consumer"), Tenant: q.Get("tenant")}
}

func seqOf(r *http.Request) (uint64, error) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		return 0, httpapi.Invalid("seq", strconv.Quote(r.PathValue("seq"))+" is not a DLQ sequence (a positive integer)")
	}
	return seq, nil
}

func (h *HTTPHandler) list(w http.ResponseWriter, r *http.Request) {
	entries, err := h.dlq.List(r.Context(), filterOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if entries == nil {
		entries = []Entry{}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"entries": entries, "count": len(entries)})
}

func (h *HTTPHandler) get(w http.ResponseWriter, r *http.Request) {
	seq, err := seqOf(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	e, err := h.dlq.Get(r.Context(), seq)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, e.View())
}

func (h *HTTPHandler) replay(w http.ResponseWriter, r *http.Request) {
	seq, err := seqOf(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.dlq.Replay(r.Context(), seq); err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusAccepted, map[string]any{"replayed": 1})
}

func (h *HTTPHandler) replayAll(w http.ResponseWriter, r *http.Request) {
	n, err := h.dlq.ReplayAll(r.Context(), filterOf(r))
	if err != nil && n == 0 {
		h.fail(w, r, err)
		return
	}
	body := map[string]any{"replayed": n}
	if err != nil {
		body["warning"] = err.Error()
	}
	httpapi.WriteJSON(w, http.StatusAccepted, body)
}

func (h *HTTPHandler) purge(w http.ResponseWriter, r *http.Request) {
	var older time.Duration
	if s := r.URL.Query().Get("olderThan"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			h.fail(w, r, httpapi.Invalid("olderThan", strconv.Quote(s)+" is not a non-negative duration such as 24h or 30m"))
			return
		}
		older = d
	}
	n, err := h.dlq.Purge(r.Context(), older)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"purged": n})
}
