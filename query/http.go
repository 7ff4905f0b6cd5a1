package query

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/httpapi"
)

// BasePath is the route prefix of a collection.
const BasePath = "/v1/{dbType}/{tier}/{scope}/{collection}"

// Handler serves the read routes of the HTTP API.
type Handler struct {
	svc *Service
	log *slog.Logger
}

// NewHandler returns the HTTP handler of svc.
func NewHandler(svc *Service, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return &Handler{svc: svc, log: logger}
}

// Register adds the read routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+BasePath+"/items/{id}", h.get)
}

func itemFromPath(r *http.Request) (events.ItemRef, error) {
	ref := events.ItemRef{
		Collection: events.Collection{
			DBType: events.DBType(r.PathValue("dbType")),
			Tier:   events.Tier(r.PathValue("tier")),
			Scope:  r.PathValue("scope"),
			Name:   r.PathValue("collection"),
		},
		ID: r.PathValue("id"),
	}
	return ref, ref.Validate()
}

// get serves latest, ?ov=N and ?at=<RFC3339>.
func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	it, err := h.read(r)
	if err != nil {
		httpapi.WriteError(w, r, h.log, err)
		return
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatUint(it.System.OV, 10)))
	httpapi.WriteJSON(w, http.StatusOK, it)
}

func (h *Handler) read(r *http.Request) (*Item, error) {
	ref, err := itemFromPath(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	var o ReadOptions
	if v := q.Get("includeDeleted"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, httpapi.Invalid("includeDeleted", "must be true or false, got "+strconv.Quote(v))
		}
		o.IncludeDeleted = b
	}
	ovs, ats := q.Get("ov"), q.Get("at")
	switch {
	case ovs != "" && ats != "":
		return nil, httpapi.Invalid("ov", "give ?ov= or ?at=, not both")
	case ovs != "":
		ov, err := strconv.ParseUint(ovs, 10, 64)
		if err != nil {
			return nil, httpapi.Invalid("ov", "must be a non-negative integer, got "+strconv.Quote(ovs))
		}
		return h.svc.Version(r.Context(), ref, ov)
	case ats != "":
		at, err := time.Parse(time.RFC3339Nano, ats)
		if err != nil {
			return nil, httpapi.Invalid("at", "must be an RFC 3339 time such as 2026-01-02T15:04:05Z, got "+strconv.Quote(ats))
		}
		return h.svc.AsOf(r.Context(), ref, at, o)
	default:
		return h.svc.Latest(r.Context(), ref, o)
	}
}
