package query

import (
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/httpapi"
)

// BasePath is the route prefix of a collection.
const BasePath = "/v1/{dbType}/{tier}/{scope}/{collection}"

// maxListBody bounds the body of POST {base}/query.
const maxListBody = 1 << 20

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

// Register adds the read routes to mux:
//
//	GET  {base}/items/{id}           latest; ?ov=N a version; ?at=T as of a time
//	GET  {base}/items/{id}/versions  history: ?after=<ov>&limit=&order=asc|desc
//	GET  {base}/items/{id}/content/{prop}  a base64 prop's decoded content; ?ov=N
//	POST {base}/query                list (ListRequest)
//	GET  {base}/counters             write totals; ?period=day|week|month&from=&to= the period buckets
//	GET  {base}/watch                change feed (Server-Sent Events)
//	GET  /v1/{knowledge|metadata}/tiered/{collection}  tiered fetch
//
// Reads of a collection take ?minSeq= (or Chronos-Min-Seq) to wait until
// the projection has applied that sequence. Item reads take ?presign=true
// and ?ttl= to return a payload URL instead of the body.
//
// Item reads take ?fields=a,b, ?projection=<preset> and ?includeHidden=true
// (see Shape).
func (h *Handler) Register(mux *http.ServeMux) { httpapi.Register(mux, h.routes()) }

// Routes returns the patterns Register adds (for docs and route walks).
func (h *Handler) Routes() []string { return httpapi.Patterns(h.routes()) }

func (h *Handler) routes() []httpapi.Route {
	return []httpapi.Route{
		{Pattern: "GET " + BasePath + "/items/{id}", Handler: h.get},
		{Pattern: "GET " + BasePath + "/items/{id}/versions", Handler: h.versions},
		{Pattern: "GET " + BasePath + "/items/{id}/content/{prop}", Handler: httpapi.Handle(h.log, h.content)},
		{Pattern: "POST " + BasePath + "/query", Handler: h.list},
		{Pattern: "GET " + BasePath + "/counters", Handler: h.counters},
		{Pattern: "GET " + BasePath + "/watch", Handler: h.watch},
		{Pattern: "GET /v1/knowledge/tiered/{collection}", Handler: h.tiered},
		{Pattern: "GET /v1/metadata/tiered/{collection}", Handler: h.tiered},
	}
}

func collectionFromPath(r *http.Request) (events.Collection, error) {
	return httpapi.CollectionFromPath(r)
}

func itemFromPath(r *http.Request) (events.ItemRef, error) { return httpapi.ItemFromPath(r) }

// get serves latest, ?ov=N and ?at=<RFC3339>.
func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	it, err := h.read(r)
	if err == nil {
		err = writeItem(w, it)
	}
	if err != nil {
		httpapi.WriteError(w, r, h.log, err)
	}
}

func (h *Handler) read(r *http.Request) (*Item, error) {
	ref, err := itemFromPath(r)
	if err != nil {
		return nil, err
	}
	if err := h.awaitMinSeq(r, ref.Collection); err != nil {
		return nil, err
	}
	var q url.Values // nil reads as empty: most reads have no parameters
	if r.URL.RawQuery != "" {
		q = r.URL.Query()
	}
	var o ReadOptions
	if o.IncludeDeleted, err = boolParam(q, "includeDeleted"); err != nil {
		return nil, err
	}
	if o.Shape, err = shapeParams(q); err != nil {
		return nil, err
	}
	if o.Presign, err = presignParams(q); err != nil {
		return nil, err
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
		return h.svc.Version(r.Context(), ref, ov, o)
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

func boolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, httpapi.Invalid(name, "must be true or false, got "+strconv.Quote(v))
	}
	return b, nil
}

// shapeParams reads ?fields=a,b, ?projection= and ?includeHidden=.
func shapeParams(q url.Values) (Shape, error) {
	var sh Shape
	if q.Has("fields") {
		sh.Fields = []string{}
		for _, f := range strings.Split(q.Get("fields"), ",") {
			if f = strings.TrimSpace(f); f != "" {
				sh.Fields = append(sh.Fields, f)
			}
		}
	}
	sh.Projection = q.Get("projection")
	var err error
	sh.IncludeHidden, err = boolParam(q, "includeHidden")
	return sh, err
}

// versionsResponse is the body of a history page.
type versionsResponse struct {
	Items []*Item `json:"items"`
	// Next is the ?after= of the next page, a decimal ov; null at the end.
	Next *string `json:"next"`
}

func (h *Handler) versions(w http.ResponseWriter, r *http.Request) {
	page, err := h.history(r)
	if err != nil {
		httpapi.WriteError(w, r, h.log, err)
		return
	}
	res := versionsResponse{Items: page.Items}
	if page.Next != nil {
		next := strconv.FormatUint(*page.Next, 10)
		res.Next = &next
	}
	httpapi.WriteJSON(w, http.StatusOK, res)
}

func (h *Handler) history(r *http.Request) (*HistoryPage, error) {
	ref, err := itemFromPath(r)
	if err != nil {
		return nil, err
	}
	if err := h.awaitMinSeq(r, ref.Collection); err != nil {
		return nil, err
	}
	q := r.URL.Query()
	var o HistoryOptions
	if v := q.Get("after"); v != "" {
		ov, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, invalid("after", "must be an ov (a non-negative integer), got %s", strconv.Quote(v))
		}
		o.After = &ov
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxHistoryLimit {
			return nil, invalid("limit", "must be an integer between 1 and %d, got %s", MaxHistoryLimit, strconv.Quote(v))
		}
		o.Limit = n
	}
	switch v := q.Get("order"); v {
	case "", "asc":
	case "desc":
		o.Desc = true
	default:
		return nil, invalid("order", "must be asc or desc, got %s", strconv.Quote(v))
	}
	if o.Shape, err = shapeParams(q); err != nil {
		return nil, err
	}
	return h.svc.History(r.Context(), ref, o)
}

// listResponse is the body of a list page.
type listResponse struct {
	Items  []*Item `json:"items"`
	Cursor *string `json:"cursor"`
	Total  *int64  `json:"total,omitempty"`
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	res, err := h.doList(w, r)
	if err != nil {
		httpapi.WriteError(w, r, h.log, err)
		return
	}
	out := listResponse{Items: res.Items, Total: res.Total}
	if out.Items == nil {
		out.Items = []*Item{}
	}
	if res.Cursor != "" {
		out.Cursor = &res.Cursor
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) doList(w http.ResponseWriter, r *http.Request) (*ListResult, error) {
	c, err := collectionFromPath(r)
	if err != nil {
		return nil, err
	}
	body, err := httpapi.ReadBody(w, r, maxListBody, "body")
	if err != nil {
		return nil, err
	}
	req, err := decodeListRequest(body)
	if err != nil {
		return nil, err
	}
	if err := h.awaitMinSeq(r, c); err != nil {
		return nil, err
	}
	return h.svc.List(r.Context(), c, *req)
}

// counters serves the totals, or with ?period= the counter buckets.
func (h *Handler) counters(w http.ResponseWriter, r *http.Request) {
	c, err := collectionFromPath(r)
	var br *BucketRange
	if err == nil {
		br, err = bucketRange(r.URL.Query())
	}
	if err == nil {
		err = h.awaitMinSeq(r, c)
	}
	if err == nil && br != nil {
		var v *BucketsView
		if v, err = h.svc.CounterBuckets(r.Context(), c, *br); err == nil {
			httpapi.WriteJSON(w, http.StatusOK, v)
			return
		}
	}
	if err == nil {
		var v *CountersView
		if v, err = h.svc.Counters(r.Context(), c); err == nil {
			httpapi.WriteJSON(w, http.StatusOK, v)
			return
		}
	}
	httpapi.WriteError(w, r, h.log, err)
}
