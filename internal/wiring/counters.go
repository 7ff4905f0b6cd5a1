package wiring

import "github.com/chronos-go/chronos/projection"

// CounterRetention returns the config's retention.counters policy: how
// many daily, weekly and monthly counter buckets the retention janitor
// keeps (0: all).
func (d *Deps) CounterRetention() projection.CounterRetention {
	r := d.Config.Retention.Counters
	return projection.CounterRetention{Days: r.Days, Weeks: r.Weeks, Months: r.Months}
}
