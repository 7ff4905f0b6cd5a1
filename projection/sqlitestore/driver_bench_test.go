//go:build driverbench

// The driver comparison behind the choice of ncruces/go-sqlite3 (see the
// package doc and docs/benchmarks.md): the same schema shape, write batch
// and reads through database/sql on each driver.
//
//	go test -tags driverbench -run x -bench Driver -benchtime 2s ./projection/sqlitestore
package sqlitestore

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // registers "sqlite"; ncruces registers "sqlite3" (driver.go)
)

const benchSchema = `
CREATE TABLE IF NOT EXISTS heads (id TEXT PRIMARY KEY, ov INTEGER NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, deleted INTEGER NOT NULL, data TEXT, meta TEXT, sys TEXT) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS heads_status ON heads (json_extract(meta,'$.status'), id);
CREATE TABLE IF NOT EXISTS versions (item TEXT NOT NULL, ov INTEGER NOT NULL, at INTEGER NOT NULL, meta TEXT, sys TEXT, PRIMARY KEY (item, ov)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS versions_at ON versions (item, at);
`

func benchOpen(b *testing.B, drv string) *sql.DB {
	dir := b.TempDir()
	dsn := "file:" + filepath.Join(dir, "t.db") + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)"
	db, err := sql.Open(drv, dsn)
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(benchSchema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

var benchPayload = `{"status":"s%d","n":%d,"blob":"` + strings.Repeat("x", 960) + `"}`
var benchSys = `{"ov":1,"cv":2,"insertedAt":"2025-01-01T00:00:00Z","creator":{"type":"user","identifier":"u"}}`

func benchApplyBatch(b *testing.B, db *sql.DB, insV, upH *sql.Stmt, base int) {
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	v, h := tx.Stmt(insV), tx.Stmt(upH)
	for i := 0; i < 256; i++ {
		n := base + i
		id := fmt.Sprintf("item-%09d", n)
		meta := fmt.Sprintf(`{"status":"s%d","n":%d}`, n%10, n)
		if _, err := v.Exec(id, 0, int64(n), meta, benchSys); err != nil {
			b.Fatal(err)
		}
		if _, err := h.Exec(id, 0, n, int64(n), 0, fmt.Sprintf(benchPayload, n%10, n), meta, benchSys); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

func benchPrep(b *testing.B, db *sql.DB) (*sql.Stmt, *sql.Stmt) {
	insV, err := db.Prepare(`INSERT INTO versions(item, ov, at, meta, sys) VALUES(?,?,?,?,?) ON CONFLICT DO NOTHING`)
	if err != nil {
		b.Fatal(err)
	}
	upH, err := db.Prepare(`INSERT INTO heads(id, ov, seq, at, deleted, data, meta, sys) VALUES(?,?,?,?,?,?,?,?)
ON CONFLICT(id) DO UPDATE SET ov=excluded.ov, seq=excluded.seq, at=excluded.at, deleted=excluded.deleted, data=excluded.data, meta=excluded.meta, sys=excluded.sys WHERE excluded.ov > heads.ov`)
	if err != nil {
		b.Fatal(err)
	}
	return insV, upH
}

func BenchmarkDriverApply256(b *testing.B) {
	for _, drv := range []string{"sqlite", "sqlite3"} {
		b.Run(drv, func(b *testing.B) {
			db := benchOpen(b, drv)
			insV, upH := benchPrep(b, db)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				benchApplyBatch(b, db, insV, upH, i*256)
			}
			b.ReportMetric(float64(b.N*256)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func BenchmarkDriverReads(b *testing.B) {
	const items = 50000
	for _, drv := range []string{"sqlite", "sqlite3"} {
		db := benchOpen(b, drv)
		insV, upH := benchPrep(b, db)
		for i := 0; i < items/256; i++ {
			benchApplyBatch(b, db, insV, upH, i*256)
		}
		db.SetMaxOpenConns(4)
		head, _ := db.Prepare(`SELECT ov, data, meta, sys FROM heads WHERE id = ?`)
		asof, _ := db.Prepare(`SELECT ov, meta, sys FROM versions WHERE item = ? AND at <= ? ORDER BY ov DESC LIMIT 1`)
		list, _ := db.Prepare(`SELECT id, ov, data, meta, sys FROM heads WHERE json_extract(meta,'$.status') = ? AND id > ? ORDER BY id LIMIT 51`)
		b.Run(drv+"/Head", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var ov int64
				var d, m, s string
				if err := head.QueryRow(fmt.Sprintf("item-%09d", i%40000)).Scan(&ov, &d, &m, &s); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(drv+"/AsOf", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var ov int64
				var m, s string
				if err := asof.QueryRow(fmt.Sprintf("item-%09d", i%40000), int64(1<<40)).Scan(&ov, &m, &s); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(drv+"/ListPage50", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				rows, err := list.Query(fmt.Sprintf("s%d", i%10), fmt.Sprintf("item-%09d", i%items))
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for rows.Next() {
					var id, d, m, s string
					var ov int64
					rows.Scan(&id, &ov, &d, &m, &s)
					n++
				}
				rows.Close()
			}
		})
	}
}
