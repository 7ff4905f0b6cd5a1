package projection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/events"
	clog "github.com/chronos-go/chronos/log"
)

// VerRetention bounds the versions a read model keeps
// (tenancy's retention.ver): versions older than Days days and versions
// past the MaxPerItem newest of an item are deleted, except the head's
// version, which is always kept. Zero fields do not bound.
type VerRetention struct {
	Days       int
	MaxPerItem int
}

// Enabled reports whether r bounds anything.
func (r VerRetention) Enabled() bool { return r.Days > 0 || r.MaxPerItem > 0 }

// VersionKey names one version of one item.
type VersionKey struct {
	ID string
	OV uint64
}

// VersionPruner is implemented by stores that can delete old versions.
// The retention janitor uses it; Store does not require it.
type VersionPruner interface {
	// ExpiredVersions returns the versions of c that r no longer keeps,
	// as of now: never an item's head version.
	ExpiredVersions(ctx context.Context, c events.Collection, r VerRetention, now time.Time) ([]VersionKey, error)
	// DeleteVersions deletes those versions' documents. Deleting a
	// missing version is not an error.
	DeleteVersions(ctx context.Context, c events.Collection, keys []VersionKey) error
}

// CounterRetention bounds the counter buckets a read model keeps
// (tenancy's retention.counters): Days daily buckets, Weeks weekly and
// Months monthly ones, the current period's included. Zero fields keep
// that period's buckets forever. Totals are never pruned.
type CounterRetention struct {
	Days, Weeks, Months int
}

// Enabled reports whether r bounds anything.
func (r CounterRetention) Enabled() bool { return r.Days > 0 || r.Weeks > 0 || r.Months > 0 }

// Keep returns how many buckets of period p r keeps; 0 keeps them all.
func (r CounterRetention) Keep(p Period) int {
	switch p {
	case PeriodDay:
		return r.Days
	case PeriodWeek:
		return r.Weeks
	case PeriodMonth:
		return r.Months
	}
	return 0
}

// Cutoff returns the start of the oldest bucket of period p that r keeps
// as of now: the current period's start moved back Keep(p)-1 periods, so
// that the current period and the Keep(p)-1 before it are kept (days 30
// on 2026-11-22 keeps 2026-10-24 to 2026-11-22). Buckets that start
// before it are deleted. ok is false when r keeps every bucket of p.
func (r CounterRetention) Cutoff(p Period, now time.Time) (cutoff time.Time, ok bool) {
	n := r.Keep(p)
	if n <= 0 {
		return time.Time{}, false
	}
	return p.Add(p.Start(now), -(n - 1)), true
}

// CounterPruner deletes old counter buckets. Every Store implements it
// (Store.PruneCounterBuckets).
type CounterPruner interface {
	PruneCounterBuckets(ctx context.Context, c events.Collection, p Period, before time.Time) (int, error)
}

// Pruner is what a Janitor deletes through: old versions and old counter
// buckets. Every store of this module implements it.
type Pruner interface {
	VersionPruner
	CounterPruner
}

// JanitorOptions configure a Janitor.
type JanitorOptions struct {
	// Retention is the version policy; Counters the counter bucket
	// policy. Run does work when either is Enabled.
	Retention VerRetention
	Counters  CounterRetention
	// Collections lists the collections to prune (LogCollections lists
	// those of the log). Required.
	Collections func(ctx context.Context) ([]events.Collection, error)
	// DeleteBlobs deletes the offloaded payload of a version (every
	// object under its key prefix). It is called before the version's
	// document is deleted, so a failed run leaves at worst a version whose
	// payload is read from the log. nil: no blobs.
	DeleteBlobs func(ctx context.Context, ref events.ItemRef, ov uint64) error
	// Every is the time between passes; default 1h.
	Every time.Duration
	// Now; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Janitor deletes the versions that the retention policy no longer keeps,
// with their blobs, and the counter buckets that it no longer keeps.
// Pruning is idempotent and safe to interrupt. A rebuild brings pruned
// versions and buckets back (they are in the log) until the next pass.
type Janitor struct {
	store Pruner
	opts  JanitorOptions
}

// JanitorStats counts what a pass deleted.
type JanitorStats struct {
	Collections int
	Versions    int
	// Buckets counts counter buckets, every period together.
	Buckets int
}

// NewJanitor returns a janitor of s.
func NewJanitor(s Pruner, o JanitorOptions) *Janitor {
	if o.Every <= 0 {
		o.Every = time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Janitor{store: s, opts: o}
}

// Run makes a pass every Every until ctx ends.
func (j *Janitor) Run(ctx context.Context) error {
	if !j.opts.Retention.Enabled() && !j.opts.Counters.Enabled() {
		return nil
	}
	for {
		st, err := j.Pass(ctx)
		if err != nil && ctx.Err() == nil {
			j.opts.Logger.Warn("retention janitor pass failed; next pass retries", "err", err)
		} else if st.Versions > 0 || st.Buckets > 0 {
			j.opts.Logger.Info("retention janitor pass", "collections", st.Collections,
				"versions_deleted", st.Versions, "counter_buckets_deleted", st.Buckets)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(j.opts.Every):
		}
	}
}

// Pass prunes every collection once: versions per Retention, then
// counter buckets per Counters.
func (j *Janitor) Pass(ctx context.Context) (JanitorStats, error) {
	var st JanitorStats
	colls, err := j.opts.Collections(ctx)
	if err != nil {
		return st, err
	}
	now := j.opts.Now()
	var errs []error
	for _, c := range colls {
		st.Collections++
		if j.opts.Retention.Enabled() {
			n, err := j.pruneCollection(ctx, c, now)
			st.Versions += n
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", c, err))
			}
		}
		for _, p := range Periods {
			before, ok := j.opts.Counters.Cutoff(p, now)
			if !ok {
				continue
			}
			n, err := j.store.PruneCounterBuckets(ctx, c, p, before)
			st.Buckets += n
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %s counter buckets: %w", c, p, err))
			}
		}
	}
	return st, errors.Join(errs...)
}

func (j *Janitor) pruneCollection(ctx context.Context, c events.Collection, now time.Time) (int, error) {
	keys, err := j.store.ExpiredVersions(ctx, c, j.opts.Retention, now)
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	if j.opts.DeleteBlobs != nil {
		for _, k := range keys {
			if err := j.opts.DeleteBlobs(ctx, c.Item(k.ID), k.OV); err != nil {
				return 0, fmt.Errorf("delete blobs of %s v%d: %w", k.ID, k.OV, err)
			}
		}
	}
	if err := j.store.DeleteVersions(ctx, c, keys); err != nil {
		return 0, err
	}
	return len(keys), nil
}

// LogCollections lists the collections that have events in the log, from
// the subjects of every partition stream (which the server keeps in
// memory: one call costs about one entry per item).
func LogCollections(l *clog.Log) func(ctx context.Context) ([]events.Collection, error) {
	return func(ctx context.Context) ([]events.Collection, error) {
		seen := map[events.Collection]bool{}
		var out []events.Collection
		for part := range l.Partitions() {
			s, err := l.JetStream().Stream(ctx, clog.StreamName(part))
			if err != nil {
				return nil, fmt.Errorf("chronos: stream %s: %w", clog.StreamName(part), err)
			}
			info, err := s.Info(ctx, jetstream.WithSubjectFilter(events.PartitionFilter(part)))
			if err != nil {
				return nil, fmt.Errorf("chronos: subjects of %s: %w", clog.StreamName(part), err)
			}
			for subj := range info.State.Subjects {
				_, ref, err := events.ParseSubject(subj)
				if err != nil || seen[ref.Collection] {
					continue
				}
				seen[ref.Collection] = true
				out = append(out, ref.Collection)
			}
		}
		slices.SortFunc(out, func(a, b events.Collection) int {
			if a.String() < b.String() {
				return -1
			}
			if a.String() > b.String() {
				return 1
			}
			return 0
		})
		return out, nil
	}
}
