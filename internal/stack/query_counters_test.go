package stack_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/internal/stack"
	"github.com/chronos-go/chronos/query"
	"github.com/chronos-go/chronos/tenancy"
)

// GET {base}/counters?period=day|week|month&from=&to= answers the period
// buckets of event time (all of today's here: ingest stamps the events)
// with rule and distinct counts per bucket; without period the totals
// answer is unchanged; bad parameters are 400s naming the parameter.
func TestQueryCounterBuckets(t *testing.T) {
	cfg := tenancy.DevDefault(filepath.Join(t.TempDir(), "chronos"))
	cfg.CounterRules = tenancy.CounterRules{Rules: []tenancy.CounterRule{
		{Name: "paid", On: []string{"UPDATE"}, Scope: "payload", When: map[string]json.RawMessage{"status": json.RawMessage(`"paid"`)}, CountUnique: []string{"customer"}},
	}}
	s := startStack(t, stack.Config{Tenancy: cfg, MongoURI: sqliteStore})
	base := s.URL() + ordersPath
	before := time.Now().UTC()
	for i := range 4 {
		mustStatus(t, call(t, "POST", base+fmt.Sprintf("/items?id=b%d", i), fmt.Sprintf(`{"status":"new","customer":"c%d"}`, i%3)), 201)
	}
	for i := range 4 {
		mustStatus(t, call(t, "PUT", base+fmt.Sprintf("/items/b%d", i), fmt.Sprintf(`{"status":"paid","customer":"c%d"}`, i%3)), 200)
	}
	mustStatus(t, call(t, "DELETE", base+"/items/b3", ""), 200)
	after := time.Now().UTC()
	if before.Day() != after.Day() {
		t.Logf("the writes straddled midnight UTC: day buckets %s and %s", before.Format(time.DateOnly), after.Format(time.DateOnly))
	}

	var totals map[string]any
	eventually(t, "the totals to count 9 events", func() bool {
		totals = mustStatus(t, call(t, "GET", base+"/counters", ""), 200).json(t)
		return totals["lastSeq"] != 0.0 && totals["created"] == 4.0 && totals["updated"] == 4.0 && totals["deleted"] == 1.0
	})
	if _, ok := totals["buckets"]; ok {
		t.Errorf("the totals answer changed: %v", totals)
	}

	get := func(q string) query.BucketsView {
		t.Helper()
		var v query.BucketsView
		r := mustStatus(t, call(t, "GET", base+"/counters?"+q, ""), 200)
		if err := json.Unmarshal(r.Body, &v); err != nil {
			t.Fatalf("counters?%s: %v\n%s", q, err, r.Body)
		}
		return v
	}
	for _, p := range []string{"day", "week", "month"} {
		v := get("period=" + p)
		if v.Period != p || len(v.Buckets) == 0 {
			t.Fatalf("period %s: %+v", p, v)
		}
		var created, updated, deleted, paid int64
		for _, b := range v.Buckets {
			if b.Period != p || !b.End.After(b.Start) || b.LastAt.Before(b.Start) || !b.LastAt.Before(b.End) {
				t.Errorf("period %s: bucket %+v", p, b)
			}
			created, updated, deleted = created+b.Created, updated+b.Updated, deleted+b.Deleted
			paid += b.Rules["paid"].Count
		}
		if created != 4 || updated != 4 || deleted != 1 || paid != 4 {
			t.Errorf("period %s: buckets count created %d updated %d deleted %d paid %d, want 4 4 1 4", p, created, updated, deleted, paid)
		}
		last := v.Buckets[len(v.Buckets)-1]
		if len(v.Buckets) == 1 && last.Rules["paid"].Unique["customer"] != 3 {
			t.Errorf("period %s: distinct customers of paid %v, want 3", p, last.Rules["paid"])
		}
		wantKey := map[string]string{"day": after.Format(time.DateOnly), "month": after.Format("2006-01")}[p]
		if y, w := after.ISOWeek(); p == "week" {
			wantKey = fmt.Sprintf("%d-W%02d", y, w)
		}
		if last.Key != wantKey {
			t.Errorf("period %s: last bucket %q, want %q", p, last.Key, wantKey)
		}
	}

	// Ranges: dates and times, inclusive of the periods that hold them.
	today := after.Format(time.DateOnly)
	if v := get("period=day&from=" + today + "&to=" + today); len(v.Buckets) != 1 || v.Buckets[0].Key != today {
		t.Errorf("day from=to=%s: %+v", today, v.Buckets)
	}
	if v := get("period=day&from=" + after.Format(time.RFC3339Nano)); len(v.Buckets) != 1 || v.Buckets[0].Key != today {
		t.Errorf("day from=%s: %+v", after.Format(time.RFC3339Nano), v.Buckets)
	}
	if v := get("period=month&to=" + before.AddDate(0, -1, -before.Day()+1).Format(time.DateOnly)); len(v.Buckets) != 0 {
		t.Errorf("month up to last month: %+v, want none", v.Buckets)
	}
	if v := get("period=week&from=" + after.AddDate(0, 0, 8).Format(time.RFC3339)); len(v.Buckets) != 0 {
		t.Errorf("week from next week: %+v, want none", v.Buckets)
	}

	for _, tt := range []struct{ q, param string }{
		{"period=hour", "period"},
		{"period=", "period"},
		{"period=day&period=week", "period"},
		{"from=2026-11-01", "period"},
		{"to=2026-11-01", "period"},
		{"period=day&from=yesterday", "from"},
		{"period=day&from=2026-13-01", "from"},
		{"period=day&to=2026-11-22T10:00", "to"},
		{"period=day&to=", "to"},
		{"period=week&from=2026-11-22&to=2026-11-21", "to"},
	} {
		r := mustStatus(t, call(t, "GET", base+"/counters?"+tt.q, ""), 400)
		if msg := string(r.Body); !strings.Contains(msg, "invalid "+tt.param+":") {
			t.Errorf("counters?%s: %s, want an error naming %s", tt.q, msg, tt.param)
		}
	}
}
