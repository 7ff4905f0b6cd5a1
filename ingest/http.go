package ingest

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/httpapi"
)

// BasePath is the route prefix of a collection.
const BasePath = "/v1/{dbType}/{tier}/{scope}/{collection}"

// Handler serves the write routes of the HTTP API.
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

// Register adds the write routes to mux.
func (h *Handler) Register(mux *http.ServeMux) { httpapi.Register(mux, h.routes()) }

// Routes returns the patterns Register adds (for docs and route walks).
func (h *Handler) Routes() []string { return httpapi.Patterns(h.routes()) }

func (h *Handler) routes() []httpapi.Route {
	route := func(pattern string, f func(w http.ResponseWriter, r *http.Request) error) httpapi.Route {
		return httpapi.Route{Pattern: pattern, Handler: httpapi.Handle(h.log, f)}
	}
	return []httpapi.Route{
		route("POST "+BasePath+"/items", h.create),
		route("PUT "+BasePath+"/items/{id}", h.update),
		route("DELETE "+BasePath+"/items/{id}", h.delete),
		route("PATCH "+BasePath+"/items/{id}", h.enrich),
		route("POST "+BasePath+"/items/{id}/restore", h.restore),
		route("POST "+BasePath+"/items:batch", h.batch),
		route("POST "+BasePath+"/restore", h.restoreCollection),
	}
}

// CollectionFromPath reads and validates the collection of a request.
func CollectionFromPath(r *http.Request) (events.Collection, error) {
	return httpapi.CollectionFromPath(r)
}

// readBody reads a document body of at most MaxPayload bytes.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return httpapi.ReadBody(w, r, int64(h.svc.opts.MaxPayload), "document")
}

// collectionWrite reads a collection route's collection and write headers.
func collectionWrite(r *http.Request) (events.Collection, Write, error) {
	c, err := CollectionFromPath(r)
	if err != nil {
		return c, Write{}, err
	}
	meta, err := writeFromRequest(r)
	return c, meta, err
}

// itemWrite reads an item route's item and write headers.
func itemWrite(r *http.Request) (events.ItemRef, Write, error) {
	ref, err := httpapi.ItemFromPath(r)
	if err != nil {
		return ref, Write{}, err
	}
	meta, err := writeFromRequest(r)
	return ref, meta, err
}

// reply writes a write's result with its version as the ETag.
func reply(w http.ResponseWriter, res Result, err error) error {
	if err != nil {
		return err
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatUint(res.OV, 10)))
	httpapi.WriteJSON(w, http.StatusOK, res)
	return nil
}

// jsonContentType: see httpapi.JSONContentType.
func jsonContentType(ct string) bool { return httpapi.JSONContentType(ct) }

func (h *Handler) create(w http.ResponseWriter, r *http.Request) error {
	c, meta, err := collectionWrite(r)
	if err != nil {
		return err
	}
	if meta.ExpectedOV != nil {
		return httpapi.Invalid("expectedOv", "a create has no expected version; use PUT to update")
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	res, err := h.svc.Create(r.Context(), c, r.URL.Query().Get("id"), body, meta)
	if err != nil {
		return err
	}
	w.Header().Set("Location", r.URL.Path+"/"+res.ID)
	w.Header().Set("ETag", strconv.Quote(strconv.FormatUint(res.OV, 10)))
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	httpapi.WriteJSON(w, status, res)
	return nil
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request) error {
	ref, meta, err := itemWrite(r)
	if err != nil {
		return err
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	res, err := h.svc.Update(r.Context(), ref, body, meta)
	return reply(w, res, err)
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) error {
	ref, meta, err := itemWrite(r)
	if err != nil {
		return err
	}
	res, err := h.svc.Delete(r.Context(), ref, meta)
	return reply(w, res, err)
}

func (h *Handler) enrich(w http.ResponseWriter, r *http.Request) error {
	ref, meta, err := itemWrite(r)
	if err != nil {
		return err
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	patches, err := decodePatches(body)
	if err != nil {
		return err
	}
	res, err := h.svc.Enrich(r.Context(), ref, patches, r.Header.Get(HeaderFunctionID), meta)
	return reply(w, res, err)
}

func (h *Handler) restore(w http.ResponseWriter, r *http.Request) error {
	ref, meta, err := itemWrite(r)
	if err != nil {
		return err
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	t, err := decodeRestore(body)
	if err != nil {
		return err
	}
	res, err := h.svc.Restore(r.Context(), ref, t, meta)
	return reply(w, res, err)
}

func (h *Handler) batch(w http.ResponseWriter, r *http.Request) error {
	c, meta, err := collectionWrite(r)
	if err != nil {
		return err
	}
	if meta.ExpectedOV != nil {
		return httpapi.Invalid("expectedOv", "a batch takes expectedOv per record, not for the request")
	}
	atomic := false
	if v := r.URL.Query().Get("atomic"); v != "" {
		if atomic, err = strconv.ParseBool(v); err != nil {
			return httpapi.Invalid("atomic", "must be true or false")
		}
	}
	body, err := httpapi.ReadBody(w, r, int64(h.svc.opts.MaxBatchBytes), "batch")
	if err != nil {
		return err
	}
	recs, err := decodeBatch(body)
	if err != nil {
		return err
	}
	var res []BatchResult
	if atomic {
		res, err = h.svc.BatchAtomic(r.Context(), c, recs, meta)
	} else {
		res, err = h.svc.Batch(r.Context(), c, recs, meta)
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"results": res})
	return nil
}

// decodeRestore reads a restore body: {"ov": N} or {"at": "<RFC 3339>"}.
func decodeRestore(body []byte) (RestoreTarget, error) {
	var t RestoreTarget
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return t, httpapi.Invalid("restore", `the body must be {"ov": N} or {"at": "<RFC 3339 time>"}: `+err.Error())
	}
	if dec.More() {
		return t, httpapi.Invalid("restore", "trailing data after the body")
	}
	return t, t.Validate()
}

func (h *Handler) restoreCollection(w http.ResponseWriter, r *http.Request) error {
	c, meta, err := collectionWrite(r)
	if err != nil {
		return err
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	var t CollectionTarget
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return httpapi.Invalid("restore", `the body must be {"cv": N} or {"at": "<RFC 3339 time>"}: `+err.Error())
	}
	rep, err := h.svc.RestoreCollection(r.Context(), c, t, meta, nil)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, rep)
	return nil
}
