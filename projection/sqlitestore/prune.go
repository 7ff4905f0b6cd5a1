package sqlitestore

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

var _ projection.VersionPruner = (*Store)(nil)

// ExpiredVersions returns the versions of c that r no longer keeps: older
// than r.Days days, or past the r.MaxPerItem newest of their item — never
// an item's head version. One query (a window function over the version
// table, joined to the heads).
func (s *Store) ExpiredVersions(ctx context.Context, c events.Collection, r projection.VerRetention, now time.Time) ([]projection.VersionKey, error) {
	if !r.Enabled() {
		return nil, nil
	}
	n, ok, err := s.tables(ctx, c)
	if err != nil || !ok {
		return nil, err
	}
	cutoff := int64(math.MinInt64)
	if r.Days > 0 {
		cutoff = now.Add(-time.Duration(r.Days) * 24 * time.Hour).UnixNano()
	}
	maxPer := int64(math.MaxInt64)
	if r.MaxPerItem > 0 {
		maxPer = int64(r.MaxPerItem)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT v.item, v.ov FROM (
		SELECT item, ov, at_ns, ROW_NUMBER() OVER (PARTITION BY item ORDER BY ov DESC) AS rk FROM `+verTable(n)+`
	) v LEFT JOIN `+headTable(n)+` h ON h.id = v.item
	WHERE (v.at_ns < ? OR v.rk > ?) AND (h.ov IS NULL OR h.ov <> v.ov)
	ORDER BY v.item, v.ov`, cutoff, maxPer)
	if err != nil {
		return nil, fmt.Errorf("chronos: sqlitestore: expired versions of %s: %w", c, err)
	}
	defer rows.Close()
	var out []projection.VersionKey
	for rows.Next() {
		var k projection.VersionKey
		var ov int64
		if err := rows.Scan(&k.ID, &ov); err != nil {
			return nil, fmt.Errorf("chronos: sqlitestore: expired versions of %s: %w", c, err)
		}
		k.OV = uint64(ov)
		out = append(out, k)
	}
	return out, rows.Err()
}

// DeleteVersions deletes the version rows of keys in one transaction.
// Deleting a missing version is not an error.
func (s *Store) DeleteVersions(ctx context.Context, c events.Collection, keys []projection.VersionKey) error {
	if len(keys) == 0 {
		return nil
	}
	n, ok, err := s.tables(ctx, c)
	if err != nil || !ok {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.wconn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("chronos: sqlitestore: delete versions of %s: %w", c, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	st, err := tx.PrepareContext(ctx, `DELETE FROM `+verTable(n)+` WHERE item = ? AND ov = ?`)
	if err != nil {
		return fmt.Errorf("chronos: sqlitestore: delete versions of %s: %w", c, err)
	}
	defer st.Close()
	for _, k := range keys {
		if _, err := st.ExecContext(ctx, k.ID, int64(k.OV)); err != nil {
			return fmt.Errorf("chronos: sqlitestore: delete %s v%d: %w", k.ID, k.OV, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("chronos: sqlitestore: delete versions of %s: %w", c, err)
	}
	return nil
}
