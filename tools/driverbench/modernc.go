package main

import (
	"net/url"

	_ "modernc.org/sqlite" // registers driver "sqlite" (pure Go, no cgo)
)

func init() {
	register(driverSpec{
		name:    "modernc",
		driver:  "sqlite",
		version: "modernc.org/sqlite v1.62.0",
		dsn: func(path string) string {
			q := url.Values{}
			q.Add("_pragma", "journal_mode(WAL)")
			q.Add("_pragma", "synchronous(FULL)")
			q.Add("_pragma", "busy_timeout(5000)")
			q.Add("_pragma", "foreign_keys(1)")
			q.Set("_txlock", "immediate")
			return "file:" + path + "?" + q.Encode()
		},
	})
}
