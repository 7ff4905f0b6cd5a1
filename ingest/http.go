package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
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
func (h *Handler) Register(mux *http.ServeMux) {
	for _, r := range h.routes() {
		mux.HandleFunc(r.pattern, r.handle)
	}
}

// Routes returns the patterns Register adds (for docs and route walks).
func (h *Handler) Routes() []string {
	var out []string
	for _, r := range h.routes() {
		out = append(out, r.pattern)
	}
	return out
}

type route struct {
	pattern string
	handle  http.HandlerFunc
}

func (h *Handler) routes() []route {
	return []route{
		{"POST " + BasePath + "/items", h.create},
		{"PUT " + BasePath + "/items/{id}", h.update},
		{"DELETE " + BasePath + "/items/{id}", h.delete},
		{"PATCH " + BasePath + "/items/{id}", h.enrich},
		{"POST " + BasePath + "/items/{id}/restore", h.restore},
		{"POST " + BasePath + "/items:batch", h.batch},
		{"POST " + BasePath + "/restore", h.restoreCollection},
	}
}

// CollectionFromPath reads and validates the collection of a request.
func CollectionFromPath(r *http.Request) (events.Collection, error) {
	c := events.Collection{
		DBType: events.DBType(r.PathValue("dbType")),
		Tier:   events.Tier(r.PathValue("tier")),
		Scope:  r.PathValue("scope"),
		Name:   r.PathValue("collection"),
	}
	return c, c.Validate()
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteError(w, r, h.log, err)
}

// readBody reads a JSON request body of at most max bytes.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !jsonContentType(ct) {
		return nil, httpapi.Sentinel("chronos: Content-Type must be application/json, got "+strconv.Quote(ct), http.StatusUnsupportedMediaType, "unsupported_media_type")
	}
	limit := int64(h.svc.opts.MaxPayload)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, &events.ValidationError{Field: "document", Reason: "is larger than the limit of " + strconv.FormatInt(limit, 10) + " bytes", Err: events.ErrTooLarge}
	}
	if err != nil {
		return nil, httpapi.Invalid("body", "could not be read: "+err.Error())
	}
	return body, nil
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	c, err := CollectionFromPath(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	meta, err := writeFromRequest(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if meta.ExpectedOV != nil {
		h.fail(w, r, httpapi.Invalid("expectedOv", "a create has no expected version; use PUT to update"))
		return
	}
	body, err := h.readBody(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.svc.Create(r.Context(), c, r.URL.Query().Get("id"), body, meta)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", r.URL.Path+"/"+res.ID)
	w.Header().Set("ETag", strconv.Quote(strconv.FormatUint(res.OV, 10)))
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	httpapi.WriteJSON(w, status, res)
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request) {
	ref, meta, ok := h.itemWrite(w, r)
	if !ok {
		return
	}
	body, err := h.readBody(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, r)(h.svc.Update(r.Context(), ref, body, meta))
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	ref, meta, ok := h.itemWrite(w, r)
	if !ok {
		return
	}
	h.reply(w, r)(h.svc.Delete(r.Context(), ref, meta))
}

func (h *Handler) itemWrite(w http.ResponseWriter, r *http.Request) (events.ItemRef, Write, bool) {
	c, err := CollectionFromPath(r)
	if err == nil {
		ref := c.Item(r.PathValue("id"))
		if err = ref.Validate(); err == nil {
			var meta Write
			if meta, err = writeFromRequest(r); err == nil {
				return ref, meta, true
			}
		}
	}
	h.fail(w, r, err)
	return events.ItemRef{}, Write{}, false
}

func (h *Handler) reply(w http.ResponseWriter, r *http.Request) func(Result, error) {
	return func(res Result, err error) {
		if err != nil {
			h.fail(w, r, err)
			return
		}
		w.Header().Set("ETag", strconv.Quote(strconv.FormatUint(res.OV, 10)))
		httpapi.WriteJSON(w, http.StatusOK, res)
	}
}

// jsonContentType: see httpapi.JSONContentType.
func jsonContentType(ct string) bool { return httpapi.JSONContentType(ct) }

func (h *Handler) enrich(w http.ResponseWriter, r *http.Request) {
	ref, meta, ok := h.itemWrite(w, r)
	if !ok {
		return
	}
	body, err := h.readBody(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	patches, err := decodePatches(body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, r)(h.svc.Enrich(r.Context(), ref, patches, r.Header.Get(HeaderFunctionID), meta))
}

func (h *Handler) restore(w http.ResponseWriter, r *http.Request) {
	ref, meta, ok := h.itemWrite(w, r)
	if !ok {
		return
	}
	body, err := h.readBody(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	t, err := decodeRestore(body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, r)(h.svc.Restore(r.Context(), ref, t, meta))
}

func (h *Handler) batch(w http.ResponseWriter, r *http.Request) {
	c, err := CollectionFromPath(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	meta, err := writeFromRequest(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if meta.ExpectedOV != nil {
		h.fail(w, r, httpapi.Invalid("expectedOv", "a batch takes expectedOv per record, not for the request"))
		return
	}
	atomic := false
	if v := r.URL.Query().Get("atomic"); v != "" {
		if atomic, err = strconv.ParseBool(v); err != nil {
			h.fail(w, r, httpapi.Invalid("atomic", "must be true or false"))
			return
		}
	}
	body, err := h.readBatchBody(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	recs, err := decodeBatch(body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var res []BatchResult
	if atomic {
		res, err = h.svc.BatchAtomic(r.Context(), c, recs, meta)
	} else {
		res, err = h.svc.Batch(r.Context(), c, recs, meta)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"results": res})
}

// readBatchBody reads a batch body of at most MaxBatchBytes.
func (h *Handler) readBatchBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !jsonContentType(ct) {
		return nil, httpapi.Sentinel("chronos: Content-Type must be application/json or application/x-ndjson, got "+strconv.Quote(ct), http.StatusUnsupportedMediaType, "unsupported_media_type")
	}
	limit := int64(h.svc.opts.MaxBatchBytes)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, &events.ValidationError{Field: "batch", Reason: "is larger than the limit of " + strconv.FormatInt(limit, 10) + " bytes", Err: events.ErrTooLarge}
	}
	if err != nil {
		return nil, httpapi.Invalid("body", "could not be read: "+err.Error())
	}
	return body, nil
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

func (h *Handler) restoreCollection(w http.ResponseWriter, r *http.Request) {
	c, err := CollectionFromPath(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	meta, err := writeFromRequest(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	body, err := h.readBody(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var t CollectionTarget
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		h.fail(w, r, httpapi.Invalid("restore", `the body must be {"cv": N} or {"at": "<RFC 3339 time>"}: `+err.Error()))
		return
	}
	rep, err := h.svc.RestoreCollection(r.Context(), c, t, meta, nil)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, rep)
}
