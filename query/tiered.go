package query

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/httpapi"
	"github.com/chronos-go/chronos/tenancy"
)

// TieredRequest is a tiered fetch (the seed's getKnowledge / getMetadata):
// one record of collection Name of DBType, looked up in the tenant, the
// domain and the generic tier.
type TieredRequest struct {
	DBType events.DBType // knowledge or metadata
	Name   string
	// Tenant and Domain select the tiers besides generic; either may be "".
	Tenant, Domain string
	// ID selects the record by item id; else Filter (a listByMeta filter,
	// JSON) selects the first match by _id; one of them is required.
	ID     string
	Filter json.RawMessage
	// Merge deep-merges every tier found (generic, then domain, then
	// tenant, later tiers winning; objects merged, arrays unioned without
	// duplicates) instead of returning the first found of tenant → domain
	// → generic.
	Merge bool
}

// TieredResult is the answer of a tiered fetch.
type TieredResult struct {
	// Data is the record found first (tenant → domain → generic), or the
	// merge of all; user data only.
	Data json.RawMessage `json:"data"`
	// Tier is the tier of Data without merge.
	Tier events.Tier `json:"tier,omitempty"`
	// TiersFound lists the tiers that hold a record, in merge order
	// (generic, domain, tenant).
	TiersFound []events.Tier `json:"tiersFound"`
	// TierRecords are the records found, by tier (whole items), with merge.
	TierRecords map[events.Tier]*Item `json:"tierRecords,omitempty"`
}

// Tiered fetches a record across tiers. Every tier it reads is authorized
// with Options.Auth first; a tier the caller may not read is a 403.
func (s *Service) Tiered(ctx context.Context, req TieredRequest) (*TieredResult, error) {
	if req.DBType != events.DBKnowledge && req.DBType != events.DBMetadata {
		return nil, invalid("dbType", "tiered fetch reads knowledge or metadata, got %q", req.DBType)
	}
	if (req.ID == "") == (len(req.Filter) == 0) {
		return nil, invalid("id", "give id= or filter=, exactly one")
	}
	var lr *ListRequest
	if len(req.Filter) > 0 {
		body := append(append([]byte(`{"filter":`), req.Filter...), `,"limit":1}`...)
		var err error
		if lr, err = decodeListRequest(body); err != nil {
			return nil, err
		}
	}
	type tierScope struct {
		tier  events.Tier
		scope string
	}
	order := []tierScope{} // tenant → domain → generic
	if req.Tenant != "" {
		order = append(order, tierScope{events.TierTenant, req.Tenant})
	}
	if req.Domain != "" {
		order = append(order, tierScope{events.TierDomain, req.Domain})
	}
	order = append(order, tierScope{events.TierGeneric, events.GenericScope})
	res := &TieredResult{TiersFound: []events.Tier{}}
	found := map[events.Tier]*Item{}
	for _, ts := range order {
		c := events.Collection{DBType: req.DBType, Tier: ts.tier, Scope: ts.scope, Name: req.Name}
		if err := c.Validate(); err != nil {
			return nil, err
		}
		if err := s.authorizeTier(ctx, c); err != nil {
			return nil, err
		}
		it, err := s.tierRecord(ctx, c, req.ID, lr)
		if err != nil {
			return nil, err
		}
		if it == nil {
			continue
		}
		if !req.Merge {
			res.Data, res.Tier, res.TiersFound = it.Data, ts.tier, []events.Tier{ts.tier}
			return res, nil
		}
		found[ts.tier] = it
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%w: no tier of %s %s holds the record", ErrNotFound, req.DBType, req.Name)
	}
	var merged any = map[string]any{}
	res.TierRecords = found
	for i := len(order) - 1; i >= 0; i-- {
		it, ok := found[order[i].tier]
		if !ok {
			continue
		}
		res.TiersFound = append(res.TiersFound, order[i].tier)
		v, err := decodeJSON(it.Data)
		if err != nil {
			return nil, err
		}
		merged = deepMerge(merged, v)
	}
	data, err := json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	res.Data = data
	return res, nil
}

// tierRecord returns the record of c, or nil when c holds none.
func (s *Service) tierRecord(ctx context.Context, c events.Collection, id string, lr *ListRequest) (*Item, error) {
	if lr == nil {
		ref := c.Item(id)
		if err := ref.Validate(); err != nil {
			return nil, err
		}
		it, err := s.Latest(ctx, ref, ReadOptions{})
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		return it, err
	}
	page, err := s.List(ctx, c, *lr)
	if err != nil || len(page.Items) == 0 {
		return nil, err
	}
	return page.Items[0], nil
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	return v, dec.Decode(&v)
}

// deepMerge merges over into base: objects member by member, arrays as a
// union without duplicates (base's elements first), anything else replaced.
func deepMerge(base, over any) any {
	switch o := over.(type) {
	case map[string]any:
		b, ok := base.(map[string]any)
		if !ok {
			return o
		}
		for k, v := range o {
			if bv, ok := b[k]; ok {
				b[k] = deepMerge(bv, v)
			} else {
				b[k] = v
			}
		}
		return b
	case []any:
		b, ok := base.([]any)
		if !ok {
			return o
		}
		seen := map[string]bool{}
		out := make([]any, 0, len(b)+len(o))
		for _, e := range append(b, o...) {
			k, _ := json.Marshal(e)
			if !seen[string(k)] {
				seen[string(k)] = true
				out = append(out, e)
			}
		}
		return out
	default:
		return over
	}
}

// authorizeTier runs Options.Auth; without one, a request that carries a
// tenancy.Principal (it came through the auth middleware, which leaves
// tiered reads to this check) is held to PrincipalAuth, so a service that
// forgot to set Auth does not serve every tenant's tier to any key.
func (s *Service) authorizeTier(ctx context.Context, c events.Collection) error {
	if s.opts.Auth != nil {
		return s.opts.Auth(ctx, c)
	}
	if _, ok := tenancy.PrincipalFrom(ctx); ok {
		return PrincipalAuth(ctx, c)
	}
	return nil
}

// PrincipalAuth is an Options.Auth that allows what the request's
// tenancy.Principal may read (no principal: refused).
func PrincipalAuth(ctx context.Context, c events.Collection) error {
	p, ok := tenancy.PrincipalFrom(ctx)
	if !ok {
		return httpapi.Sentinel("chronos: no authenticated principal", http.StatusUnauthorized, "unauthorized")
	}
	return p.Allows(c, tenancy.RightRead)
}

// tiered serves GET /v1/{knowledge|metadata}/tiered/{collection}
// ?tenant=&domain=&id=|filter=&merge=.
func (h *Handler) tiered(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := TieredRequest{
		DBType: events.DBType(strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/"), "/")[0]),
		Name:   r.PathValue("collection"),
		Tenant: q.Get("tenant"), Domain: q.Get("domain"), ID: q.Get("id"),
	}
	if f := q.Get("filter"); f != "" {
		req.Filter = json.RawMessage(f)
	}
	var err error
	if req.Merge, err = boolParam(q, "merge"); err == nil {
		var res *TieredResult
		if res, err = h.svc.Tiered(r.Context(), req); err == nil {
			httpapi.WriteJSON(w, http.StatusOK, res)
			return
		}
	}
	httpapi.WriteError(w, r, h.log, err)
}
