package sqlitestore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// DefaultHistoryLimit is the page size of History when the query names none.
const DefaultHistoryLimit = 50

const headColumns = `id, data, meta, sys`

// Head returns the latest version of an item, deleted or not, with Data
// when the payload is inline. An item never applied is
// projection.ErrNotFound.
func (s *Store) Head(ctx context.Context, ref events.ItemRef) (*projection.Doc, error) {
	n, ok, err := s.item(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("head of " + ref.String())
	}
	st, err := s.stmt(ctx, `SELECT `+headColumns+` FROM `+headTable(n)+` WHERE id = ?`)
	if err != nil {
		return nil, err
	}
	d, err := scanDoc(st.QueryRowContext(ctx, ref.ID))
	return d, readErr("head of "+ref.String(), err)
}

// Version returns version ov of an item, without Data. An unknown item or
// ov is projection.ErrNotFound.
func (s *Store) Version(ctx context.Context, ref events.ItemRef, ov uint64) (*projection.Doc, error) {
	what := fmt.Sprintf("version %d of %s", ov, ref)
	n, ok, err := s.item(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !ok || ov > math.MaxInt64 {
		return nil, notFound(what)
	}
	st, err := s.stmt(ctx, `SELECT item, NULL, meta, sys FROM `+verTable(n)+` WHERE item = ? AND ov = ?`)
	if err != nil {
		return nil, err
	}
	d, err := scanDoc(st.QueryRowContext(ctx, ref.ID, int64(ov)))
	return d, readErr(what, err)
}

// AsOf returns the version in force at time at, without Data: the highest
// ov whose event time is at or before at, compared to the nanosecond.
// projection.ErrNotFound if the item did not exist yet.
func (s *Store) AsOf(ctx context.Context, ref events.ItemRef, at time.Time) (*projection.Doc, error) {
	what := fmt.Sprintf("%s as of %s", ref, at.UTC().Format(time.RFC3339Nano))
	n, ok, err := s.item(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound(what)
	}
	st, err := s.stmt(ctx, `SELECT item, NULL, meta, sys FROM `+verTable(n)+
		` WHERE item = ? AND at_ns <= ? ORDER BY ov DESC LIMIT 1`)
	if err != nil {
		return nil, err
	}
	d, err := scanDoc(st.QueryRowContext(ctx, ref.ID, nanos(at)))
	return d, readErr(what, err)
}

// History returns a page of an item's versions in ascending ov
// (descending with q.Desc), without Data; an empty page past the last
// version or for an unknown item. A negative Limit is events.ErrInvalid.
func (s *Store) History(ctx context.Context, ref events.ItemRef, q projection.HistoryQuery) ([]projection.Doc, error) {
	limit := q.Limit
	switch {
	case limit < 0:
		return nil, fmt.Errorf("%w: history limit %d is negative", events.ErrInvalid, limit)
	case limit == 0:
		limit = DefaultHistoryLimit
	}
	n, ok, err := s.item(ctx, ref)
	if err != nil || !ok {
		return nil, err
	}
	after, op, dir := int64(-1), ">", "ASC"
	if q.Desc {
		after, op, dir = math.MaxInt64, "<", "DESC"
	}
	if q.AfterOV != nil {
		if *q.AfterOV > math.MaxInt64 {
			if !q.Desc {
				return nil, nil
			}
		} else {
			after = int64(*q.AfterOV)
		}
	}
	st, err := s.stmt(ctx, `SELECT item, NULL, meta, sys FROM `+verTable(n)+
		` WHERE item = ? AND ov `+op+` ? ORDER BY ov `+dir+` LIMIT ?`)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, ref.ID, after, limit)
	if err != nil {
		return nil, readErr("history of "+ref.String(), err)
	}
	defer rows.Close()
	docs := make([]projection.Doc, 0, min(limit, 16))
	for rows.Next() {
		d, err := scanDoc(rows)
		if err != nil {
			return nil, readErr("history of "+ref.String(), err)
		}
		docs = append(docs, *d)
	}
	if err := rows.Err(); err != nil {
		return nil, readErr("history of "+ref.String(), err)
	}
	return docs, nil
}

// item validates ref and returns its table set.
func (s *Store) item(ctx context.Context, ref events.ItemRef) (int64, bool, error) {
	if err := events.ValidateToken("itemId", ref.ID); err != nil {
		return 0, false, err
	}
	return s.tables(ctx, ref.Collection)
}

type scanner interface{ Scan(dest ...any) error }

// scanDoc reads a row of id, data, meta, sys.
func scanDoc(row scanner) (*projection.Doc, error) {
	var id string
	var data, meta sql.NullString
	var sys []byte
	if err := row.Scan(&id, &data, &meta, &sys); err != nil {
		return nil, err
	}
	return decodeDoc(id, data, meta, sys)
}

func decodeDoc(id string, data, meta sql.NullString, sys []byte) (*projection.Doc, error) {
	d := &projection.Doc{ID: id}
	if err := json.Unmarshal(sys, &d.System); err != nil {
		return nil, fmt.Errorf("chronos: sqlitestore: decode system of %q: %w", id, err)
	}
	if meta.Valid {
		if err := json.Unmarshal([]byte(meta.String), &d.Meta); err != nil {
			return nil, fmt.Errorf("chronos: sqlitestore: decode meta of %q: %w", id, err)
		}
	}
	if data.Valid {
		d.Data = json.RawMessage(data.String)
	}
	return d, nil
}

func notFound(what string) error { return fmt.Errorf("%w: %s", projection.ErrNotFound, what) }

// readErr maps "no row" to projection.ErrNotFound.
func readErr(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return notFound(what)
	case errors.Is(err, projection.ErrNotFound):
		return err
	}
	return fmt.Errorf("chronos: sqlitestore: read %s: %w", what, err)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
