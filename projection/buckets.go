package projection

import (
	"fmt"
	"time"

	"github.com/chronos-go/chronos/events"
)

// Period is the length of a counter bucket: a UTC day, an ISO 8601 week
// (Monday to Sunday, UTC) or a UTC calendar month.
type Period string

// Periods of counter buckets.
const (
	PeriodDay   Period = "day"
	PeriodWeek  Period = "week"
	PeriodMonth Period = "month"
)

// Periods lists every Period, shortest first. The projector keeps a
// bucket of each for every event.
var Periods = []Period{PeriodDay, PeriodWeek, PeriodMonth}

// ParsePeriod reads "day", "week" or "month". Other text is an error
// matching events.ErrInvalid.
func ParsePeriod(s string) (Period, error) {
	p := Period(s)
	if !p.Valid() {
		return "", fmt.Errorf("%w: period %q is not day, week or month", events.ErrInvalid, s)
	}
	return p, nil
}

// Valid reports whether p is one of Periods.
func (p Period) Valid() bool {
	return p == PeriodDay || p == PeriodWeek || p == PeriodMonth
}

// Start returns the start of the period of p that holds t: midnight UTC,
// the Monday of t's ISO week at midnight UTC, or the first of the month
// at midnight UTC.
func (p Period) Start(t time.Time) time.Time {
	t = t.UTC()
	y, m, d := t.Date()
	switch p {
	case PeriodWeek:
		// Monday is day 0 of an ISO week; Go's Sunday is 0.
		back := (int(t.Weekday()) + 6) % 7
		return time.Date(y, m, d-back, 0, 0, 0, 0, time.UTC)
	case PeriodMonth:
		return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	default:
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
}

// Add returns the start of the period n periods after the one that starts
// at start (before it for a negative n). start must be a Start of p.
func (p Period) Add(start time.Time, n int) time.Time {
	switch p {
	case PeriodWeek:
		return start.AddDate(0, 0, 7*n)
	case PeriodMonth:
		// start is the first of a month: AddDate never normalises here.
		return start.AddDate(0, n, 0)
	default:
		return start.AddDate(0, 0, n)
	}
}

// Key names the period of p that holds t: "2026-11-22" (the UTC date),
// "2026-W47" (the ISO 8601 week-numbering year and week: 2026-12-31 is
// in 2026-W53, 2027-01-04 in 2027-W01) or "2026-11".
func (p Period) Key(t time.Time) string {
	t = t.UTC()
	switch p {
	case PeriodWeek:
		y, w := t.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	case PeriodMonth:
		return t.Format("2006-01")
	default:
		return t.Format("2006-01-02")
	}
}

// CounterBucket is a collection's counters over one period: the writes
// whose event time (Event.At, the ingest time, not the time they were
// projected) falls in [Start, End). Counters has the totals' meaning
// within the period, distinct counts included: a value seen in two
// periods counts once in each. LastSeq is the last partition sequence
// counted in this bucket.
type CounterBucket struct {
	Period Period    `json:"period"`
	Key    string    `json:"key"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Counters
}

// BucketOf returns the (empty) bucket of period p that holds t.
func BucketOf(p Period, t time.Time) CounterBucket {
	start := p.Start(t)
	return CounterBucket{Period: p, Key: p.Key(t), Start: start, End: p.Add(start, 1)}
}

// CounterTally is what one event adds to a counter document: its
// operation class and the counter rules it matches, each with the
// distinct values it shows. Stores compute it once per event and add it
// to the totals and to each period's bucket.
type CounterTally struct {
	Seq uint64
	At  time.Time
	// Class is RuleOnCreate, RuleOnUpdate or RuleOnDelete.
	Class string
	Rules []RuleHit
}

// RuleHit is one counter rule an event matched, with the values of the
// rule's CountUnique props it shows.
type RuleHit struct {
	Rule    string
	Uniques []UniqueValue
}

// Tally evaluates rules on the event of ch.
func Tally(ch Change, rules []CounterRule) CounterTally {
	t := CounterTally{Seq: ch.Seq, At: ch.Event.At, Class: Class(ch.Event.Op)}
	for i := range rules {
		r := &rules[i]
		if r.Match(ch.Event) {
			t.Rules = append(t.Rules, RuleHit{Rule: r.Name, Uniques: r.Uniques(ch.Event)})
		}
	}
	return t
}

// CounterDelta accumulates tallies: what a run of events adds to one
// counter document. Rules[name].Unique is not used: distinct values are
// in Uniques, each once.
type CounterDelta struct {
	Created, Updated, Deleted int64
	// LastSeq and LastAt are those of the last tally added.
	LastSeq uint64
	LastAt  time.Time
	Rules   map[string]RuleCounters
	Uniques []RuleUnique
	seen    map[RuleUnique]bool
}

// RuleUnique is one distinct value seen by a rule.
type RuleUnique struct {
	Rule string
	UniqueValue
}

// Empty reports whether nothing was added.
func (d *CounterDelta) Empty() bool { return d.LastSeq == 0 }

// Add adds t. The caller adds tallies in stream order, only those past
// the document's last counted sequence.
func (d *CounterDelta) Add(t *CounterTally) {
	d.LastSeq, d.LastAt = t.Seq, t.At
	switch t.Class {
	case RuleOnCreate:
		d.Created++
	case RuleOnDelete:
		d.Deleted++
	default:
		d.Updated++
	}
	for _, h := range t.Rules {
		if d.Rules == nil {
			d.Rules = make(map[string]RuleCounters)
		}
		rc := d.Rules[h.Rule]
		rc.Count++
		switch t.Class {
		case RuleOnCreate:
			rc.Created++
		case RuleOnDelete:
			rc.Deleted++
		default:
			rc.Updated++
		}
		d.Rules[h.Rule] = rc
		for _, u := range h.Uniques {
			ru := RuleUnique{Rule: h.Rule, UniqueValue: u}
			if d.seen[ru] {
				continue
			}
			if d.seen == nil {
				d.seen = make(map[RuleUnique]bool)
			}
			d.seen[ru] = true
			d.Uniques = append(d.Uniques, ru)
		}
	}
}
