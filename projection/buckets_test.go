package projection_test

import (
	"errors"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestPeriodBuckets(t *testing.T) {
	plus3 := time.FixedZone("+03", 3*3600)
	tests := []struct {
		p          projection.Period
		at         time.Time
		key        string
		start, end time.Time
	}{
		{projection.PeriodDay, time.Date(2026, 11, 22, 23, 59, 59, 999_999_999, time.UTC), "2026-11-22", date(2026, 11, 22), date(2026, 11, 23)},
		{projection.PeriodDay, time.Date(2026, 11, 22, 1, 0, 0, 0, plus3), "2026-11-21", date(2026, 11, 21), date(2026, 11, 22)}, // UTC
		{projection.PeriodDay, date(2026, 12, 31), "2026-12-31", date(2026, 12, 31), date(2027, 1, 1)},
		{projection.PeriodWeek, time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), "2026-W47", date(2026, 11, 16), date(2026, 11, 23)}, // a Sunday
		{projection.PeriodWeek, date(2026, 11, 16), "2026-W47", date(2026, 11, 16), date(2026, 11, 23)},                             // a Monday
		{projection.PeriodWeek, date(2026, 12, 31), "2026-W53", date(2026, 12, 28), date(2027, 1, 4)},
		{projection.PeriodWeek, time.Date(2027, 1, 3, 23, 0, 0, 0, time.UTC), "2026-W53", date(2026, 12, 28), date(2027, 1, 4)},
		{projection.PeriodWeek, date(2027, 1, 4), "2027-W01", date(2027, 1, 4), date(2027, 1, 11)},
		{projection.PeriodWeek, date(2025, 12, 29), "2026-W01", date(2025, 12, 29), date(2026, 1, 5)}, // ISO year starts in December
		{projection.PeriodMonth, time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC), "2026-11", date(2026, 11, 1), date(2026, 12, 1)},
		{projection.PeriodMonth, time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), "2026-12", date(2026, 12, 1), date(2027, 1, 1)},
	}
	for _, tt := range tests {
		b := projection.BucketOf(tt.p, tt.at)
		if b.Period != tt.p || b.Key != tt.key || !b.Start.Equal(tt.start) || !b.End.Equal(tt.end) || b.Start.Location() != time.UTC {
			t.Errorf("BucketOf(%s, %v) = %s %s [%v, %v), want %s [%v, %v)", tt.p, tt.at, b.Period, b.Key, b.Start, b.End, tt.key, tt.start, tt.end)
		}
	}
	for _, s := range []string{"", "Day", "hour", "year"} {
		if _, err := projection.ParsePeriod(s); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("ParsePeriod(%q) = %v, want events.ErrInvalid", s, err)
		}
	}
}

func TestCounterRetentionCutoff(t *testing.T) {
	now := time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC) // a Sunday
	tests := []struct {
		r    projection.CounterRetention
		p    projection.Period
		now  time.Time
		want time.Time // zero: keeps everything
	}{
		{projection.CounterRetention{Days: 30}, projection.PeriodDay, now, date(2026, 10, 24)},
		{projection.CounterRetention{Days: 1}, projection.PeriodDay, now, date(2026, 11, 22)},
		{projection.CounterRetention{Weeks: 12}, projection.PeriodWeek, now, date(2026, 8, 31)},
		{projection.CounterRetention{Weeks: 1}, projection.PeriodWeek, now, date(2026, 11, 16)},
		{projection.CounterRetention{Months: 6}, projection.PeriodMonth, now, date(2026, 6, 1)},
		{projection.CounterRetention{Months: 1}, projection.PeriodMonth, time.Date(2026, 3, 31, 23, 0, 0, 0, time.UTC), date(2026, 3, 1)},
		{projection.CounterRetention{Months: 3}, projection.PeriodMonth, time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC), date(2025, 11, 1)},
		{projection.CounterRetention{Days: 30, Months: 6}, projection.PeriodWeek, now, time.Time{}},
		{projection.CounterRetention{}, projection.PeriodDay, now, time.Time{}},
	}
	for _, tt := range tests {
		got, ok := tt.r.Cutoff(tt.p, tt.now)
		if ok != !tt.want.IsZero() || !got.Equal(tt.want) {
			t.Errorf("%+v.Cutoff(%s, %v) = %v, %v; want %v", tt.r, tt.p, tt.now, got, ok, tt.want)
		}
	}
	if (projection.CounterRetention{}).Enabled() || !(projection.CounterRetention{Weeks: 1}).Enabled() {
		t.Error("Enabled is true exactly when a field is positive")
	}
}
