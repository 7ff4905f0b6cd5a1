package wiring_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/wiring"
	"github.com/chronos-go/chronos/projection"
	"github.com/chronos-go/chronos/projection/sqlitestore"
	"github.com/chronos-go/chronos/tenancy"
)

// The example SaaS configuration's retention.counters (30 days, 12
// weeks, 6 months) drives the retention janitor: over a read model with
// an event every third day of 2026, a pass on 9 November keeps the day
// buckets from 11 October, the week buckets from 24 August and the month
// buckets from June, and keeps the totals.
func TestCounterRetentionFromConfig(t *testing.T) {
	env := map[string]string{
		"MONGO_URI": "mongodb://mongo-1:27017/?replicaSet=rs0", "S3_ACCESS_KEY": "AKIAEXAMPLEACCESS",
		"S3_SECRET_KEY": "s3-secret-key-value", "NATS_PASSWORD": "nats-secret-pw",
	}
	cfg, err := tenancy.LoadEnv("../../tenancy/testdata/saas.json", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	d := &wiring.Deps{Config: cfg}
	r := d.CounterRetention()
	if r != (projection.CounterRetention{Days: 30, Weeks: 12, Months: 6}) || !r.Enabled() {
		t.Fatalf("CounterRetention() = %+v, want the file's 30 days, 12 weeks, 6 months", r)
	}
	if (&wiring.Deps{Config: &tenancy.Config{}}).CounterRetention().Enabled() {
		t.Error("a config without retention.counters enables counter retention")
	}

	ctx := t.Context()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "read.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	c := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "orders"}
	var batch []projection.Change
	for at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC); !at.After(time.Date(2026, 11, 9, 12, 0, 0, 0, time.UTC)); at = at.AddDate(0, 0, 3) {
		e := &events.Event{V: events.Version, Op: events.OpCreate, At: at, InsertedAt: at,
			Actor: &events.Actor{Type: "user", Identifier: "u"}, Payload: json.RawMessage(`{"n":1}`)}
		e.Creator = e.Actor
		ref := c.Item("i" + at.Format("20060102"))
		batch = append(batch, projection.Change{Ref: ref, Part: events.Partition(c, 8), Seq: uint64(len(batch) + 1), Event: e})
	}
	if err := st.Apply(ctx, batch); err != nil {
		t.Fatal(err)
	}
	count := func(p projection.Period, from time.Time) int {
		bs, err := st.CounterBuckets(ctx, c, p, from, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		return len(bs)
	}
	cutoffs := map[projection.Period]time.Time{
		projection.PeriodDay:   time.Date(2026, 10, 11, 0, 0, 0, 0, time.UTC),
		projection.PeriodWeek:  time.Date(2026, 8, 24, 0, 0, 0, 0, time.UTC),
		projection.PeriodMonth: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
	}
	want, deleted := map[projection.Period]int{}, 0
	for p, cut := range cutoffs {
		want[p] = count(p, cut)
		deleted += count(p, time.Time{}) - want[p]
	}
	if want[projection.PeriodMonth] != 6 || deleted == 0 {
		t.Fatalf("test data: %v buckets kept, %d to delete", want, deleted)
	}
	j := projection.NewJanitor(st, projection.JanitorOptions{
		Retention:   d.VerRetention(),
		Counters:    r,
		Collections: func(context.Context) ([]events.Collection, error) { return []events.Collection{c}, nil },
		Now:         func() time.Time { return time.Date(2026, 11, 9, 18, 30, 0, 0, time.UTC) },
	})
	stats, err := j.Pass(ctx)
	if err != nil || stats.Buckets != deleted {
		t.Fatalf("janitor pass: %+v, %v; want %d buckets deleted", stats, err, deleted)
	}
	for p, cut := range cutoffs {
		if got := count(p, time.Time{}); got != want[p] || count(p, cut) != want[p] {
			t.Errorf("%s buckets after the pass: %d, want the %d from %s", p, got, want[p], cut.Format(time.DateOnly))
		}
	}
	if n, err := st.Counters(ctx, c); err != nil || n.Created != int64(len(batch)) {
		t.Errorf("totals after the pass: %+v, %v; want %d created", n, err, len(batch))
	}
}
