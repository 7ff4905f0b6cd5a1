//go:build stress

package sqlitestore

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/projection"
)

// TestScale measures the store at CHRONOS_SQLITE_SCALE items (default
// 100000) of 1 KiB payloads: Apply in batches of 256 (the projector's write
// path, events already decoded) against raw inserts of the same rows into
// the same tables in the same run, latest and as-of read latencies, a
// listByMeta page of 50 on an indexed prop, and the file size.
//
//	CHRONOS_SQLITE_SCALE=1000000 go test -tags stress -run TestScale -v -timeout 2h ./projection/sqlitestore
func TestScale(t *testing.T) {
	n := 100_000
	if v := os.Getenv("CHRONOS_SQLITE_SCALE"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	const batch = 256
	ctx := context.Background()
	dir := t.TempDir()
	coll := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "acme", Name: "orders"}
	part := events.Partition(coll, 8)
	filler := strings.Repeat("x", 1024-70)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	actor := &events.Actor{Type: "user", Identifier: "u-1"}
	mk := func(i int) projection.Change {
		at := base.Add(time.Duration(i) * time.Millisecond)
		status := "s" + strconv.Itoa(i%10)
		e := &events.Event{V: events.Version, Op: events.OpCreate, At: at, InsertedAt: at, Actor: actor, Creator: actor,
			Payload: json.RawMessage(fmt.Sprintf(`{"status":%q,"n":%d,"filler":%q}`, status, i, filler)),
			Meta:    map[string]json.RawMessage{"status": json.RawMessage(strconv.Quote(status)), "n": json.RawMessage(strconv.Itoa(i))}}
		return projection.Change{Ref: coll.Item(fmt.Sprintf("item-%09d", i)), Part: part, Seq: uint64(i + 1), Event: e}
	}

	// The store, and raw inserts of the same rows (computed before timing
	// each batch) into the same tables of another file, one transaction
	// per batch. Batches alternate between the two, so that both see the
	// same machine load.
	props := Options{IndexedProps: func(events.Collection) []string { return []string{"status", "n"} }}
	s, err := Open(ctx, filepath.Join(dir, "store.db"), props)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	raw, err := Open(ctx, filepath.Join(dir, "raw.db"), props)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(ctx)
	if err := raw.Apply(ctx, []projection.Change{mk(n)}); err != nil { // creates the tables
		t.Fatal(err)
	}
	type row struct {
		id         string
		at         int64
		meta, sys  string
		data       string
		insMs, upd int64
	}
	var applyDur, rawDur time.Duration
	chs := make([]projection.Change, 0, batch)
	rows := make([]row, 0, batch)
	for i := 0; i < n; i += batch {
		chs = chs[:0]
		for j := i; j < min(i+batch, n); j++ {
			chs = append(chs, mk(j))
		}
		t0 := time.Now()
		if err := s.Apply(ctx, chs); err != nil {
			t.Fatal(err)
		}
		applyDur += time.Since(t0)

		rows = rows[:0]
		for _, ch := range chs {
			sys, _ := json.Marshal(systemOf(ch))
			meta, _ := json.Marshal(ch.Event.Meta)
			rows = append(rows, row{ch.Ref.ID, ch.Event.At.UnixNano(), string(meta), string(sys), string(ch.Event.Payload), ch.Event.At.UnixMilli(), ch.Event.At.UnixMilli()})
		}
		t0 = time.Now()
		raw.wmu.Lock()
		if _, err := raw.wconn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
		v, err := raw.wstmt(ctx, `INSERT INTO t1_ver (item, ov, at_ns, meta, sys) VALUES (?, 0, ?, ?, ?)`)
		if err != nil {
			t.Fatal(err)
		}
		h, err := raw.wstmt(ctx, `INSERT INTO t1_head (id, ov, seq, deleted, inserted_ms, updated_ms, deleted_ms, data, meta, fdoc, sys) VALUES (?, 0, 1, 0, ?, ?, NULL, ?, ?, NULL, ?)`)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if _, err := v.ExecContext(ctx, r.id, r.at, r.meta, r.sys); err != nil {
				t.Fatal(err)
			}
			if _, err := h.ExecContext(ctx, r.id, r.insMs, r.upd, r.data, r.meta, r.sys); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := raw.wconn.ExecContext(ctx, "COMMIT"); err != nil {
			t.Fatal(err)
		}
		raw.wmu.Unlock()
		rawDur += time.Since(t0)
	}
	storeRate := float64(n) / applyDur.Seconds()
	rawRate := float64(n) / rawDur.Seconds()
	t.Logf("apply: %d events in %s = %.0f events/s; raw inserts of the same rows: %s = %.0f rows/s; ratio %.2f",
		n, applyDur.Round(time.Millisecond), storeRate, rawDur.Round(time.Millisecond), rawRate, storeRate/rawRate)

	rng := rand.New(rand.NewPCG(1, 2))
	lat := func(what string, samples int, f func() error) {
		d := make([]time.Duration, samples)
		for i := range d {
			t0 := time.Now()
			if err := f(); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			d[i] = time.Since(t0)
		}
		slices.Sort(d)
		t.Logf("%s: p50 %s p99 %s (%d samples)", what, d[len(d)/2], d[len(d)*99/100], samples)
	}
	lat("Head (latest)", 20000, func() error {
		_, err := s.Head(ctx, coll.Item(fmt.Sprintf("item-%09d", rng.IntN(n))))
		return err
	})
	lat("AsOf", 20000, func() error {
		i := rng.IntN(n)
		_, err := s.AsOf(ctx, coll.Item(fmt.Sprintf("item-%09d", i)), base.Add(time.Duration(i)*time.Millisecond+time.Hour))
		return err
	})
	lat("List status $eq, page of 50 (first page)", 500, func() error {
		p, err := s.List(ctx, coll, projection.ListQuery{Filter: []projection.Clause{{Field: "status", Op: projection.OpEq, Value: json.RawMessage(`"s` + strconv.Itoa(rng.IntN(10)) + `"`)}}, Limit: 50})
		if err == nil && len(p.Items) != 50 {
			err = fmt.Errorf("%d items", len(p.Items))
		}
		return err
	})
	lat("List status $eq, page of 50 after a random cursor", 500, func() error {
		after := &projection.Cursor{ID: fmt.Sprintf("item-%09d", rng.IntN(n-1000))}
		_, err := s.List(ctx, coll, projection.ListQuery{Filter: []projection.Clause{{Field: "status", Op: projection.OpEq, Value: json.RawMessage(`"s3"`)}}, Limit: 50, After: after})
		return err
	})
	lat("List status $eq sorted by n desc, page of 50", max(3, 5_000_000/n), func() error {
		_, err := s.List(ctx, coll, projection.ListQuery{Filter: []projection.Clause{{Field: "status", Op: projection.OpEq, Value: json.RawMessage(`"s3"`)}},
			Sort: []projection.SortKey{{Field: "n", Desc: true}}, Limit: 50})
		return err
	})
	lat("List _system.updatedAt desc, page of 50", 200, func() error {
		_, err := s.List(ctx, coll, projection.ListQuery{Sort: []projection.SortKey{{Field: "_system.updatedAt", Desc: true}}, Limit: 50})
		return err
	})

	if _, err := s.wconn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Logf("checkpoint: %v", err)
	}
	var size int64
	for _, f := range []string{"store.db", "store.db-wal"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err == nil {
			size += fi.Size()
		}
	}
	var verBytes, headBytes int64
	_ = s.wconn.QueryRowContext(ctx, `SELECT sum(length(item) + 8 + 8 + coalesce(length(meta), 0) + length(sys)) FROM t1_ver`).Scan(&verBytes)
	_ = s.wconn.QueryRowContext(ctx, `SELECT sum(length(id) + 40 + coalesce(length(data), 0) + coalesce(length(meta), 0) + coalesce(length(fdoc), 0) + length(sys)) FROM t1_head`).Scan(&headBytes)
	t.Logf("file: %d MiB for %d items of one version each = %.0f MiB per million (row bytes before pages and indexes: versions %.0f MiB/M, heads %.0f MiB/M incl. 1 KiB inline payloads)",
		size>>20, n, float64(size)/float64(n)*1e6/(1<<20), float64(verBytes)/float64(n)*1e6/(1<<20), float64(headBytes)/float64(n)*1e6/(1<<20))
}
