//go:build sqlite_fts5

// mattn/go-sqlite3 only has FTS5 compiled in with the sqlite_fts5 build tag,
// and it needs cgo + a C compiler. Without the tag this file (and the driver)
// is left out and only modernc is benchmarked.

package main

import (
	"net/url"

	_ "github.com/mattn/go-sqlite3" // registers driver "sqlite3" (cgo)
)

func init() {
	register(driverSpec{
		name:    "mattn",
		driver:  "sqlite3",
		version: "github.com/mattn/go-sqlite3 v1.14.53 (-tags sqlite_fts5)",
		dsn: func(path string) string {
			q := url.Values{}
			q.Set("_journal_mode", "WAL")
			q.Set("_synchronous", "FULL")
			q.Set("_busy_timeout", "5000")
			q.Set("_foreign_keys", "1")
			q.Set("_txlock", "immediate")
			return "file:" + path + "?" + q.Encode()
		},
	})
}
