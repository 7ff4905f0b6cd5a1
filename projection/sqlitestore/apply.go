package sqlitestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// collBatch is the part of a batch that concerns one collection.
type collBatch struct {
	coll          events.Collection
	db, analytics string
	changes       []projection.Change // in stream order
}

// Apply applies a batch of one partition, in stream order, in one
// transaction. It is idempotent over any prefix of the log in any
// batching (see the package doc). An error means the batch must be
// applied again; errors matching events.ErrInvalid will fail again.
func (s *Store) Apply(ctx context.Context, batch []projection.Change) error {
	if len(batch) == 0 {
		return nil
	}
	groups, err := s.group(batch)
	if err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	// The transaction is run by hand on the writer's connection, so that
	// its cached statements run inside it. The rollback uses a context of
	// its own: a cancelled ctx must not leave the transaction open.
	if _, err := s.wconn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("chronos: sqlitestore: begin: %w", err)
	}
	created := make(map[catalogKey]int64)
	for _, g := range groups {
		if err := s.applyColl(ctx, g, created); err != nil {
			_, rerr := s.wconn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			return errors.Join(err, rerr)
		}
	}
	if _, err := s.wconn.ExecContext(ctx, "COMMIT"); err != nil {
		_, rerr := s.wconn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return errors.Join(fmt.Errorf("chronos: sqlitestore: commit: %w", err), rerr)
	}
	s.committed(created)
	s.applied += len(batch)
	if s.applied >= s.nextOptimize {
		s.nextOptimize = s.applied + min(s.applied, 1_000_000)
		// Statistics only: a failure here costs plan quality, not data.
		_, _ = s.wconn.ExecContext(ctx, "PRAGMA optimize")
	}
	return nil
}

// group checks the batch and splits it by collection, keeping stream
// order within each.
func (s *Store) group(batch []projection.Change) ([]*collBatch, error) {
	part := batch[0].Part
	byColl := make(map[events.Collection]*collBatch)
	var out []*collBatch
	for i, ch := range batch {
		if err := projection.CheckChange(i, ch, part); err != nil {
			return nil, err
		}
		if ch.Seq > math.MaxInt64 || ch.Event.OV > math.MaxInt64 {
			return nil, fmt.Errorf("%w: change %d: seq %d or ov %d does not fit an int64", events.ErrInvalid, i, ch.Seq, ch.Event.OV)
		}
		g := byColl[ch.Ref.Collection]
		if g == nil {
			db, analytics, err := s.route(ch.Ref.Collection)
			if err != nil {
				return nil, err
			}
			g = &collBatch{coll: ch.Ref.Collection, db: db, analytics: analytics}
			byColl[ch.Ref.Collection] = g
			out = append(out, g)
		}
		g.changes = append(g.changes, ch)
	}
	return out, nil
}

func (s *Store) applyColl(ctx context.Context, g *collBatch, created map[catalogKey]int64) error {
	var props []string
	if s.opts.IndexedProps != nil {
		props = s.opts.IndexedProps(g.coll)
	}
	n, err := s.ensure(ctx, catalogKey{kindTables, g.db, g.coll.Name}, props, created)
	if err != nil {
		return err
	}
	cn, err := s.ensure(ctx, catalogKey{kindCounters, g.analytics, ""}, nil, created)
	if err != nil {
		return err
	}
	insVer, err := s.wstmt(ctx, `INSERT INTO `+verTable(n)+` (item, ov, at_ns, meta, sys) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return err
	}
	upHead, err := s.wstmt(ctx, `INSERT INTO `+headTable(n)+
		` (id, ov, seq, deleted, inserted_ms, updated_ms, deleted_ms, data, meta, fdoc, sys) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET ov = excluded.ov, seq = excluded.seq, deleted = excluded.deleted,
	inserted_ms = excluded.inserted_ms, updated_ms = excluded.updated_ms, deleted_ms = excluded.deleted_ms,
	data = excluded.data, meta = excluded.meta, fdoc = excluded.fdoc, sys = excluded.sys
WHERE excluded.ov > `+headTable(n)+`.ov`)
	if err != nil {
		return err
	}

	// The head of each item is the batch's highest-ov event.
	best := make(map[string]int, len(g.changes))
	for i, ch := range g.changes {
		if j, ok := best[ch.Ref.ID]; !ok || ch.Event.OV > g.changes[j].Event.OV {
			best[ch.Ref.ID] = i
		}
	}
	for i, ch := range g.changes {
		e := ch.Event
		sys, err := json.Marshal(systemOf(ch))
		if err != nil {
			return fmt.Errorf("chronos: sqlitestore: encode system of %s: %w", ch.Ref, err)
		}
		meta, err := metaJSON(e.Meta)
		if err != nil {
			return fmt.Errorf("%w: indexed props of %s ov %d: %v", events.ErrInvalid, ch.Ref, e.OV, err)
		}
		if _, err := insVer.ExecContext(ctx, ch.Ref.ID, int64(e.OV), nanos(e.At), meta, sys); err != nil {
			return fmt.Errorf("chronos: sqlitestore: write version %d of %s: %w", e.OV, ch.Ref, err)
		}
		if best[ch.Ref.ID] != i {
			continue
		}
		var data, fdoc any
		if e.PayloadRef == nil && len(e.Payload) > 0 && len(e.Payload) <= s.opts.InlineLimit {
			data = string(e.Payload)
		}
		fdoc, err = filterDoc(e.Payload, data != nil, e.Meta, props)
		if err != nil {
			return fmt.Errorf("%w: payload of %s ov %d: %v", events.ErrInvalid, ch.Ref, e.OV, err)
		}
		var deletedMs any
		deleted := 0
		if e.Deleted() {
			deleted, deletedMs = 1, millis(e.At)
		}
		if _, err := upHead.ExecContext(ctx, ch.Ref.ID, int64(e.OV), int64(ch.Seq), deleted,
			millis(e.InsertedAt), millis(e.At), deletedMs, data, meta, fdoc, sys); err != nil {
			return fmt.Errorf("chronos: sqlitestore: write head of %s: %w", ch.Ref, err)
		}
	}
	return s.count(ctx, cn, g)
}

// systemOf derives the System of the version an event writes.
func systemOf(ch projection.Change) projection.System {
	e := ch.Event
	sys := projection.System{
		OV: e.OV, CV: ch.Seq, Seq: ch.Seq,
		InsertedAt: e.InsertedAt.UTC(), UpdatedAt: e.At.UTC(),
		Deleted:     e.Deleted(),
		FunctionIDs: e.FunctionIDs,
		Creator:     e.Creator, Updater: e.Actor,
		Op: e.Op, Reason: e.Reason,
		RestoredFrom: e.RestoredFrom,
		PayloadRef:   e.PayloadRef,
	}
	if sys.Deleted {
		at := e.At.UTC()
		sys.DeletedAt = &at
	}
	if l := e.Lineage; l != nil {
		sys.ParentID, sys.ParentColl = l.ParentID, l.ParentCollection
		sys.OriginID, sys.OriginColl = l.OriginID, l.OriginCollection
	}
	switch r := e.PayloadRef; {
	case r != nil:
		sys.Size, sys.SHA256 = r.Size, r.SHA256
	case len(e.Payload) > 0:
		sys.Size, sys.SHA256 = int64(len(e.Payload)), sha256Hex(e.Payload)
	}
	return sys
}

// metaJSON returns the indexed props as a JSON object, or nil for none.
func metaJSON(meta map[string]json.RawMessage) (any, error) {
	if len(meta) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// filterDoc returns what filters on a prop that is not indexed see when
// it is not the inline payload itself: the payload's top level with the
// indexed props of the event (Meta) set, or those props alone when the
// payload is not inline. nil means "the payload". Filters on the store's
// indexed props read Meta first (see propDoc), so when every Meta key is
// one of them — the usual case: ingest extracts the collection's indexed
// props — the payload serves as it is and nothing is parsed here.
func filterDoc(payload []byte, inline bool, meta map[string]json.RawMessage, indexed []string) (any, error) {
	covered := true
	for k := range meta {
		if !slices.Contains(indexed, k) || !propName(k) {
			covered = false
			break
		}
	}
	if covered {
		return nil, nil
	}
	var root map[string]json.RawMessage
	if inline {
		if err := json.Unmarshal(payload, &root); err != nil {
			// Not an object: filters see only the indexed props.
			root = nil
			inline = false
		}
	}
	if inline {
		same := true
		for k, v := range meta {
			if w, ok := root[k]; !ok || !jsonSame(v, w) {
				same = false
				break
			}
		}
		if same {
			return nil, nil
		}
	} else {
		root = make(map[string]json.RawMessage, len(meta))
	}
	for k, v := range meta {
		root[k] = v
	}
	b, err := json.Marshal(root)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func jsonSame(a, b json.RawMessage) bool {
	var x, y bytes.Buffer
	return json.Compact(&x, a) == nil && json.Compact(&y, b) == nil && bytes.Equal(x.Bytes(), y.Bytes())
}

// millis returns t in Unix milliseconds (times are compared and ordered
// at millisecond precision in lists).
func millis(t time.Time) int64 { return t.UnixMilli() }

// nanos returns t in Unix nanoseconds, saturated outside 1678-2262.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(minNano):
		return math.MinInt64
	case t.After(maxNano):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var minNano, maxNano = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)
