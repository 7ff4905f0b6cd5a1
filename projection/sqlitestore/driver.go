package sqlitestore

import (
	// The driver: SQLite in WebAssembly on wazero, pure Go (see the
	// package doc for why this one).
	_ "github.com/ncruces/go-sqlite3/driver"
	_ "github.com/ncruces/go-sqlite3/embed"
)

// driverName is the database/sql driver the store opens.
const driverName = "sqlite3"
