package query

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/httpapi"
	"github.com/chronos-go/chronos/projection"
)

// BucketView is the JSON shape of one counter bucket: a collection's
// counters over one period (a UTC day, an ISO week, a UTC month) of event
// time, [start, end).
type BucketView struct {
	Period string `json:"period"`
	// Key names the period: "2026-11-22", "2026-W47", "2026-11".
	Key     string    `json:"key"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Created int64     `json:"created"`
	Updated int64     `json:"updated"`
	Deleted int64     `json:"deleted"`
	// LastAt is the time of the last event counted in the bucket.
	LastAt time.Time `json:"lastAt"`
	// LastSeq is the partition sequence of the last event counted in the
	// bucket.
	LastSeq uint64 `json:"lastSeq"`
	// Rules holds the counter rules that matched an event of the period,
	// with their distinct counts within the period.
	Rules map[string]projection.RuleCounters `json:"rules,omitempty"`
}

// BucketsView is the answer of GET {base}/counters?period=…: the buckets
// of the period, oldest first.
type BucketsView struct {
	Period  string       `json:"period"`
	Buckets []BucketView `json:"buckets"`
}

// BucketRange selects counter buckets: those of Period whose period holds
// an instant of [From, To]. A zero From or To does not bound.
type BucketRange struct {
	Period   projection.Period
	From, To time.Time
}

// CounterBuckets returns a collection's counter buckets of r.Period whose
// period overlaps [r.From, r.To], oldest first (none when nothing of the
// collection was written in the range, or retention pruned it).
func (s *Service) CounterBuckets(ctx context.Context, c events.Collection, r BucketRange) (*BucketsView, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p, err := projection.ParsePeriod(string(r.Period))
	if err != nil {
		return nil, err
	}
	// The store selects on Start in [from, to): from is the start of the
	// period holding r.From, to the start of the one after r.To's.
	var from time.Time
	to := maxBucketTime
	if !r.From.IsZero() {
		from = p.Start(r.From)
	}
	if !r.To.IsZero() {
		to = p.Add(p.Start(r.To), 1)
	}
	bs, err := s.store.CounterBuckets(ctx, c, p, from, to)
	if err != nil {
		return nil, err
	}
	v := &BucketsView{Period: string(p), Buckets: make([]BucketView, 0, len(bs))}
	for _, b := range bs {
		v.Buckets = append(v.Buckets, BucketView{
			Period: string(b.Period), Key: b.Key, Start: b.Start.UTC(), End: b.End.UTC(),
			Created: b.Created, Updated: b.Updated, Deleted: b.Deleted,
			LastAt: b.LastAt.UTC(), LastSeq: b.LastSeq, Rules: b.Rules,
		})
	}
	return v, nil
}

// maxBucketTime bounds a range without an end.
var maxBucketTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// bucketRange reads ?period=day|week|month&from=&to= of GET
// {base}/counters; nil without period (the totals). from and to are RFC
// 3339 times or dates (YYYY-MM-DD, UTC); errors name the parameter.
func bucketRange(q url.Values) (*BucketRange, error) {
	ps, hasPeriod := q["period"]
	if !hasPeriod {
		for _, name := range []string{"from", "to"} {
			if q.Has(name) {
				return nil, httpapi.Invalid("period", name+" selects counter buckets: give period=day, week or month with it")
			}
		}
		return nil, nil
	}
	p, err := projection.ParsePeriod(ps[0])
	if err != nil || len(ps) > 1 {
		return nil, httpapi.Invalid("period", "must be day, week or month, once; got "+strconv.Quote(q.Get("period")))
	}
	r := &BucketRange{Period: p}
	if r.From, err = bucketTime(q, "from"); err != nil {
		return nil, err
	}
	if r.To, err = bucketTime(q, "to"); err != nil {
		return nil, err
	}
	if !r.From.IsZero() && !r.To.IsZero() && r.To.Before(r.From) {
		return nil, httpapi.Invalid("to", "must not be before from ("+q.Get("to")+" < "+q.Get("from")+")")
	}
	return r, nil
}

// bucketTime reads parameter name: absent is the zero time.
func bucketTime(q url.Values, name string) (time.Time, error) {
	vs, ok := q[name]
	if !ok {
		return time.Time{}, nil
	}
	if len(vs) == 1 && vs[0] != "" {
		if t, err := time.Parse(time.RFC3339Nano, vs[0]); err == nil && t.Year() >= 1 && t.Year() < maxBucketTime.Year() {
			return t.UTC(), nil
		}
		if t, err := time.Parse(time.DateOnly, vs[0]); err == nil && t.Year() >= 1 && t.Year() < maxBucketTime.Year() {
			return t, nil
		}
	}
	return time.Time{}, httpapi.Invalid(name, "must be one RFC 3339 time such as 2026-11-22T15:04:05Z or a date such as 2026-11-22 (UTC) before 9999, got "+
		strconv.Quote(q.Get(name)))
}
