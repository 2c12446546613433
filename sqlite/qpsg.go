package sqlite

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// Every connection runs with SQLite's query planner stability guarantee
// (SQLITE_DBCONFIG_ENABLE_QPSG): a statement's plan never depends on the
// values bound to it. Without it, SQLite 3.50 re-prepares a statement each
// time a parameter that held the integer 0 or 1 is bound again (the planner
// may have costed "column = 0/1" as a boolean). FTS5 looks up the leaf of
// each query term in each index segment with such a statement ("segid = ?
// AND term <= ?"), and segment ids start at 1: every search re-prepared it
// for every term, ~11% of a search's CPU over HTTP with 200 tenants of
// 1,000 contexts (docs/performance.md, "Search over many tenants, part 2").
//
// The guarantee changes plans only, never results. The store's own
// statements are prepared before any value is bound, so their plans are the
// ones they had; the store has no sqlite_stat4 table and binds no LIKE or
// GLOB pattern, the other planner uses of bound values that it turns off.

// errNoQPSG says the driver's connection is not the one stablePlans knows.
var errNoQPSG = errors.New("the modernc.org/sqlite connection does not have the expected shape")

// stablePlans turns the guarantee on for a plaintext connection (the
// modernc.org/sqlite driver, which has no API for sqlite3_db_config: its
// connection's handle is read with reflect, and a driver whose connection
// lacks it is an error, so that an upgrade cannot lose the setting
// silently). Encrypted connections get it from openDB.
func stablePlans(c *sql.Conn) error {
	return c.Raw(func(dc any) error {
		tls, db, err := modernHandle(dc)
		if err != nil {
			return err
		}
		on, err := dbConfig(tls, db, sqlite3.SQLITE_DBCONFIG_ENABLE_QPSG, 1)
		if err != nil {
			return err
		}
		if !on {
			return errors.New("sqlite: SQLITE_DBCONFIG_ENABLE_QPSG did not take")
		}
		return nil
	})
}

// planStability reports whether the guarantee is on for c (for tests).
func planStability(c *sql.Conn) (bool, error) {
	var on bool
	err := c.Raw(func(dc any) error {
		tls, db, err := modernHandle(dc)
		if err != nil {
			return err
		}
		on, err = dbConfig(tls, db, sqlite3.SQLITE_DBCONFIG_ENABLE_QPSG, -1)
		return err
	})
	return on, err
}

// modernHandle returns the C-side thread state and sqlite3* handle of a
// modernc.org/sqlite driver connection, read from its unexported fields,
// or errNoQPSG when the connection does not have that shape.
func modernHandle(dc any) (*libc.TLS, uintptr, error) {
	v := reflect.ValueOf(dc)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct || v.Elem().Type().PkgPath() != "modernc.org/sqlite" {
		return nil, 0, fmt.Errorf("%w: %T", errNoQPSG, dc)
	}
	db, tlsField := v.Elem().FieldByName("db"), v.Elem().FieldByName("tls")
	if !db.IsValid() || db.Kind() != reflect.Uintptr || db.Uint() == 0 ||
		!tlsField.IsValid() || tlsField.Type() != reflect.TypeFor[*libc.TLS]() || tlsField.IsNil() {
		return nil, 0, errNoQPSG
	}
	return (*libc.TLS)(tlsField.UnsafePointer()), uintptr(db.Uint()), nil
}

// dbConfig calls sqlite3_db_config(db, op, onoff, &res): onoff 1 sets the
// option, 0 clears it, -1 leaves it; res is its value after the call.
func dbConfig(tls *libc.TLS, db uintptr, op int32, onoff int32) (bool, error) {
	// Two vararg slots of 8 bytes (libc.VaList's stride) and the int result.
	bp := libc.Xmalloc(tls, 24)
	if bp == 0 {
		return false, errors.New("sqlite: out of memory")
	}
	defer libc.Xfree(tls, bp)
	res := bp + 16
	if rc := sqlite3.Xsqlite3_db_config(tls, db, op, libc.VaList(bp, onoff, res)); rc != sqlite3.SQLITE_OK {
		return false, fmt.Errorf("sqlite: sqlite3_db_config(%d): result code %d", op, rc)
	}
	return binary.NativeEndian.Uint32(libc.GoBytes(res, 4)) == 1, nil
}
