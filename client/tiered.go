package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/chronos-go/chronos/events"
)

// TieredQuery is a tiered fetch: one record of a knowledge or metadata
// collection, looked up in a tenant's tier, a domain's tier and the
// generic tier.
type TieredQuery struct {
	// DBType is events.DBKnowledge or events.DBMetadata.
	DBType events.DBType
	// Collection is the collection's name, the same in every tier.
	Collection string
	// Tenant and Domain select the tiers besides generic; either may be "".
	Tenant, Domain string
	// ID selects the record by item id; else Filter (a Query filter) the
	// first match by _id. Exactly one of them is required.
	ID     string
	Filter map[string]any
	// Merge deep-merges the records of every tier found (generic, then
	// domain, then tenant, later tiers winning; objects merged, arrays
	// unioned without duplicates) instead of returning the first found of
	// tenant → domain → generic.
	Merge bool
}

// TieredResult is the answer of a tiered fetch.
type TieredResult struct {
	// Data is the record found first (tenant → domain → generic), or the
	// merge of all; the user's document only.
	Data json.RawMessage
	// Tier is the tier of Data without Merge.
	Tier events.Tier
	// TiersFound lists the tiers that hold a record, in merge order
	// (generic, domain, tenant).
	TiersFound []events.Tier
	// TierRecords are the records found, by tier, with Merge.
	TierRecords map[events.Tier]*Item
}

// Tiered fetches a record across tiers (GET /v1/{dbType}/tiered/
// {collection}). The API key must reach every tier asked for: one it does
// not reach fails the call with a 403 *APIError, whatever the other tiers
// hold. No tier holding the record is ErrNotFound. A tiered read spans
// several partitions, so it takes no MinSeq: read your writes with Get
// (AfterWrite) on each tier's collection first.
func (c *Client) Tiered(ctx context.Context, q TieredQuery) (*TieredResult, error) {
	if q.DBType != events.DBKnowledge && q.DBType != events.DBMetadata {
		return nil, fmt.Errorf("%w: a tiered fetch reads knowledge or metadata, not %q", ErrInvalidOption, q.DBType)
	}
	if err := events.ValidateToken("collection", q.Collection); err != nil {
		return nil, err
	}
	if (q.ID == "") == (len(q.Filter) == 0) {
		return nil, fmt.Errorf("%w: a tiered fetch takes ID or Filter, exactly one", ErrInvalidOption)
	}
	v := url.Values{}
	if q.Tenant != "" {
		v.Set("tenant", q.Tenant)
	}
	if q.Domain != "" {
		v.Set("domain", q.Domain)
	}
	if q.ID != "" {
		v.Set("id", q.ID)
	} else {
		f, err := json.Marshal(q.Filter)
		if err != nil {
			return nil, fmt.Errorf("%w: tiered filter: %v", ErrInvalidOption, err)
		}
		v.Set("filter", string(f))
	}
	if q.Merge {
		v.Set("merge", "true")
	}
	var res struct {
		Data        json.RawMessage                 `json:"data"`
		Tier        events.Tier                     `json:"tier"`
		TiersFound  []events.Tier                   `json:"tiersFound"`
		TierRecords map[events.Tier]json.RawMessage `json:"tierRecords"`
	}
	r := request{method: http.MethodGet, path: "/v1/" + string(q.DBType) + "/tiered/" + q.Collection, query: v, id: q.ID}
	if err := c.call(ctx, r, &res); err != nil {
		return nil, err
	}
	out := &TieredResult{Data: res.Data, Tier: res.Tier, TiersFound: res.TiersFound}
	if len(res.TierRecords) > 0 {
		out.TierRecords = make(map[events.Tier]*Item, len(res.TierRecords))
		for tier, raw := range res.TierRecords {
			it, err := splitItem(raw)
			if err != nil {
				return nil, err
			}
			out.TierRecords[tier] = it
		}
	}
	return out, nil
}
