package httpapi

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/chronos-go/chronos/events"
)

// Route is one route of a service: a ServeMux pattern and its handler.
type Route struct {
	Pattern string
	Handler http.HandlerFunc
}

// Register adds routes to mux.
func Register(mux *http.ServeMux, routes []Route) {
	for _, r := range routes {
		mux.HandleFunc(r.Pattern, r.Handler)
	}
}

// Patterns returns the patterns of routes (for docs and route walks).
func Patterns(routes []Route) []string {
	out := make([]string, len(routes))
	for i, r := range routes {
		out[i] = r.Pattern
	}
	return out
}

// Handle adapts a handler that returns its error: a non-nil error is
// written with WriteError, so a handler writes only its success.
func Handle(log *slog.Logger, h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteError(w, r, log, err)
		}
	}
}

// CollectionFromPath reads and validates the collection of a request
// routed under /v1/{dbType}/{tier}/{scope}/{collection}.
func CollectionFromPath(r *http.Request) (events.Collection, error) {
	c := events.Collection{
		DBType: events.DBType(r.PathValue("dbType")),
		Tier:   events.Tier(r.PathValue("tier")),
		Scope:  r.PathValue("scope"),
		Name:   r.PathValue("collection"),
	}
	return c, c.Validate()
}

// ItemFromPath reads and validates the item of a request routed under
// /v1/{dbType}/{tier}/{scope}/{collection}/.../{id}.
func ItemFromPath(r *http.Request) (events.ItemRef, error) {
	c, err := CollectionFromPath(r)
	if err != nil {
		return events.ItemRef{}, err
	}
	ref := c.Item(r.PathValue("id"))
	return ref, ref.Validate()
}

// ReadBody reads a JSON (or NDJSON) request body of at most limit bytes:
// 415 for another Content-Type (curl's default for -d is accepted, see
// JSONContentType), 413 naming field when it is larger.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64, field string) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !JSONContentType(ct) {
		return nil, Sentinel("chronos: Content-Type must be application/json (or application/x-ndjson), got "+strconv.Quote(ct), http.StatusUnsupportedMediaType, "unsupported_media_type")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, &events.ValidationError{Field: field, Reason: "is larger than the limit of " + strconv.FormatInt(limit, 10) + " bytes", Err: events.ErrTooLarge}
	}
	if err != nil {
		return nil, Invalid("body", "could not be read: "+err.Error())
	}
	return body, nil
}
