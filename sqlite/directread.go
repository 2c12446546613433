package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"unsafe"

	ncruces "github.com/ncruces/go-sqlite3"
	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// The point read of a context (getContextEdges) is the most frequent
// statement of all. Through the driver's own statement (queryRaw) it still
// paid for the driver's Go side: every query read the names and declared
// types of its 15 result columns into new strings, and every row boxed each
// column into a driver.Value, a new string or integer on the heap. That was
// about a third of the allocations of a get over HTTP, and the garbage
// collector's work with them.
//
// queryRows runs such a statement on the plaintext driver's C API directly
// (modernc.org/sqlite compiles SQLite to Go, so its sqlite3_* functions are
// plain Go calls): the statement is prepared once per connection and kept,
// the arguments are bound from one buffer of the connection's own, and
// each row is read column by column in place, the text of a row copied into
// one Go allocation. The values are converted exactly as rawString and
// rawInt convert the driver's (rowReader), so a row reads the same either
// way. The encrypted driver (ncruces), or a modernc connection without the
// expected shape, takes queryRaw as before.

// rowReader reads the columns of the current row of a query.
type rowReader interface {
	// int reads column i as database/sql's Scan into an *int64 would.
	int(i int) (int64, error)
	// str reads column i as database/sql's Scan into a *string would.
	str(i int) (string, error)
}

// valueRow is a row as the driver gives it (queryRaw).
type valueRow []driver.Value

func (r valueRow) int(i int) (int64, error)  { return rawInt(r[i]) }
func (r valueRow) str(i int) (string, error) { return rawString(r[i]) }

// errNoDirect: the connection cannot run the statement on the C API; the
// caller takes the driver's way.
var errNoDirect = errors.New("sqlite: no direct statement")

// directStmt is a statement prepared on the C API, and the C buffer its
// text arguments are bound from (SQLITE_STATIC: SQLite reads them there
// during each step, so the buffer is rewritten only between queries).
type directStmt struct {
	pstmt  uintptr
	buf    uintptr
	bufCap int
}

// directConn is the C side of a plaintext connection, read once.
type directConn struct {
	tls   *libc.TLS
	db    uintptr
	off   bool // not a modernc connection of the expected shape
	stmts map[string]*directStmt
}

// queryRows runs query with args (parameter i+1 is args[i]) and calls each
// with every row: on the C API when the connection allows it, else through
// queryRaw.
func (c *conn) queryRows(ctx context.Context, query string, args []string, each func(row rowReader) error) error {
	return c.queryRowsBuf(ctx, query, args, false, each)
}

// queryRowsBuf is queryRows; with reuse, the rows' text is read into one
// buffer that each row overwrites (on the C API), so the strings a row
// gives are valid only until each returns: for long scans whose rows are
// not kept (the vector index's load).
func (c *conn) queryRowsBuf(ctx context.Context, query string, args []string, reuse bool, each func(row rowReader) error) error {
	if !c.direct.off {
		err := c.queryDirect(query, args, reuse, each)
		if !errors.Is(err, errNoDirect) {
			return err
		}
	}
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return c.queryRaw(ctx, query, named, func(row []driver.Value) error { return each(valueRow(row)) })
}

// queryDirect is queryRows on the C API, or errNoDirect before any row was
// read when it cannot be.
func (c *conn) queryDirect(query string, args []string, reuse bool, each func(row rowReader) error) error {
	return c.c.Raw(func(dc any) error {
		d := &c.direct
		if d.tls == nil {
			tls, db, err := modernHandle(dc)
			if err != nil {
				d.off = true
				return errNoDirect
			}
			d.tls, d.db = tls, db
		}
		tls := d.tls
		st := d.stmts[query]
		if st == nil {
			var err error
			if st, err = d.prepare(query); err != nil {
				return errNoDirect // the driver's way reports the error as it always has
			}
			if d.stmts == nil {
				d.stmts = map[string]*directStmt{}
			}
			d.stmts[query] = st
		}
		if err := st.bind(tls, args); err != nil {
			return err
		}
		// Ends the statement's read of its snapshot whatever happens: a
		// statement left stepping would keep its read transaction open.
		defer sqlite3.Xsqlite3_reset(tls, st.pstmt)
		row := cRow{tls: tls, pstmt: st.pstmt, n: int(sqlite3.Xsqlite3_column_count(tls, st.pstmt)), reuse: reuse}
		for {
			switch rc := sqlite3.Xsqlite3_step(tls, st.pstmt); rc {
			case sqlite3.SQLITE_ROW:
				row.start()
				if err := each(&row); err != nil {
					return err
				}
			case sqlite3.SQLITE_DONE:
				return nil
			default:
				return d.errorOf(rc)
			}
		}
	})
}

// prepare prepares query as a persistent statement.
func (d *directConn) prepare(query string) (*directStmt, error) {
	z, err := libc.CString(query)
	if err != nil {
		return nil, err
	}
	defer libc.Xfree(d.tls, z)
	pp := libc.Xmalloc(d.tls, 8)
	if pp == 0 {
		return nil, errors.New("sqlite: out of memory")
	}
	defer libc.Xfree(d.tls, pp)
	if rc := sqlite3.Xsqlite3_prepare_v3(d.tls, d.db, z, -1, sqlite3.SQLITE_PREPARE_PERSISTENT, pp, 0); rc != sqlite3.SQLITE_OK {
		return nil, d.errorOf(rc)
	}
	p := *(*uintptr)(cPointer(pp))
	if p == 0 { // an empty statement
		return nil, errors.New("sqlite: an empty statement")
	}
	return &directStmt{pstmt: p}, nil
}

// bind copies the arguments into the statement's buffer and binds them.
func (st *directStmt) bind(tls *libc.TLS, args []string) error {
	n := 1 // never a zero pointer, even for empty strings
	for _, a := range args {
		n += len(a)
	}
	if n > st.bufCap {
		if st.buf != 0 {
			libc.Xfree(tls, st.buf)
			st.buf, st.bufCap = 0, 0
		}
		c := max(n, 256)
		if st.buf = libc.Xmalloc(tls, libc.Tsize_t(c)); st.buf == 0 {
			return errors.New("sqlite: out of memory")
		}
		st.bufCap = c
	}
	mem := unsafe.Slice((*byte)(cPointer(st.buf)), st.bufCap)
	off := 0
	for i, s := range args {
		copy(mem[off:], s)
		if rc := sqlite3.Xsqlite3_bind_text(tls, st.pstmt, int32(i+1), st.buf+uintptr(off), int32(len(s)), sqlite3.SQLITE_STATIC); rc != sqlite3.SQLITE_OK {
			return fmt.Errorf("sqlite: binding parameter %d: result code %d", i+1, rc)
		}
		off += len(s)
	}
	return nil
}

// errorOf is the error of result code rc, with SQLite's message; errCode
// reads its code as it reads the drivers' errors.
func (d *directConn) errorOf(rc int32) error {
	msg := libc.GoString(sqlite3.Xsqlite3_errmsg(d.tls, d.db))
	return fmt.Errorf("sqlite: %s: %w", msg, ncruces.ExtendedErrorCode(sqlite3.Xsqlite3_extended_errcode(d.tls, d.db)))
}

// close finalizes the statements and frees their buffers; the connection
// itself is the driver's to close, after.
func (d *directConn) close() {
	for q, st := range d.stmts {
		sqlite3.Xsqlite3_finalize(d.tls, st.pstmt)
		if st.buf != 0 {
			libc.Xfree(d.tls, st.buf)
		}
		delete(d.stmts, q)
	}
}

// closeDirect closes the C statements of queryRows.
func (c *conn) closeDirect() {
	if len(c.direct.stmts) == 0 {
		return
	}
	_ = c.c.Raw(func(any) error {
		c.direct.close()
		return nil
	})
}

// cRow is the current row of a statement on the C API.
type cRow struct {
	tls   *libc.TLS
	pstmt uintptr
	n     int
	text  []byte // the row's text, one allocation for all its columns
	reuse bool   // text is rewritten by the next row (queryRowsBuf)
}

// start sizes the row's text buffer for its text and blob columns.
// (sqlite3_column_bytes is asked of those only: of a number, it would
// convert the column to text.)
func (r *cRow) start() {
	total := 0
	for i := range r.n {
		switch sqlite3.Xsqlite3_column_type(r.tls, r.pstmt, int32(i)) {
		case sqlite3.SQLITE_TEXT, sqlite3.SQLITE_BLOB:
			total += int(sqlite3.Xsqlite3_column_bytes(r.tls, r.pstmt, int32(i)))
		}
	}
	if r.reuse && cap(r.text) >= total {
		r.text = r.text[:0]
		return
	}
	r.text = make([]byte, 0, total)
}

// bytes returns column i's text or blob, copied into the row's buffer and
// viewed as a string (the buffer is only appended to, never rewritten).
func (r *cRow) bytes(i int, blob bool) string {
	var p uintptr
	if blob {
		p = sqlite3.Xsqlite3_column_blob(r.tls, r.pstmt, int32(i))
	} else {
		p = sqlite3.Xsqlite3_column_text(r.tls, r.pstmt, int32(i))
	}
	n := int(sqlite3.Xsqlite3_column_bytes(r.tls, r.pstmt, int32(i)))
	if p == 0 || n == 0 {
		return ""
	}
	at := len(r.text)
	r.text = append(r.text, unsafe.Slice((*byte)(cPointer(p)), n)...)
	return unsafe.String(&r.text[at], n)
}

func (r *cRow) check(i int) {
	if i < 0 || i >= r.n {
		panic(fmt.Sprintf("sqlite: column %d of %d", i, r.n))
	}
}

func (r *cRow) str(i int) (string, error) {
	r.check(i)
	switch sqlite3.Xsqlite3_column_type(r.tls, r.pstmt, int32(i)) {
	case sqlite3.SQLITE_TEXT:
		return r.bytes(i, false), nil
	case sqlite3.SQLITE_BLOB:
		return r.bytes(i, true), nil
	case sqlite3.SQLITE_INTEGER:
		return strconv.FormatInt(sqlite3.Xsqlite3_column_int64(r.tls, r.pstmt, int32(i)), 10), nil
	case sqlite3.SQLITE_FLOAT:
		return strconv.FormatFloat(sqlite3.Xsqlite3_column_double(r.tls, r.pstmt, int32(i)), 'g', -1, 64), nil
	}
	return rawString(nil)
}

func (r *cRow) int(i int) (int64, error) {
	r.check(i)
	switch sqlite3.Xsqlite3_column_type(r.tls, r.pstmt, int32(i)) {
	case sqlite3.SQLITE_INTEGER:
		return sqlite3.Xsqlite3_column_int64(r.tls, r.pstmt, int32(i)), nil
	case sqlite3.SQLITE_TEXT:
		return parseRawInt(r.bytes(i, false))
	case sqlite3.SQLITE_BLOB:
		return parseRawInt(r.bytes(i, true))
	case sqlite3.SQLITE_FLOAT:
		return rawInt(sqlite3.Xsqlite3_column_double(r.tls, r.pstmt, int32(i)))
	}
	return rawInt(nil)
}

// cPointer views an address of C memory (from libc's allocator or SQLite)
// as a pointer. The memory is not Go's, so the collector neither moves nor
// frees it.
func cPointer(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }
