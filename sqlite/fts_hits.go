package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	ncruces "github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/ext/fts5"
	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// hitsFunc is an FTS5 auxiliary function of our own, registered on every
// connection of the store (both drivers): contextd_hits(index, id) records,
// for the current match of a full-text query, its rowid, its length in
// tokens (all columns) and the weighted hits of each phrase of the query
// (each column's hits times its weight, what bm25() sums per phrase: title
// × titleWeight + content × contentWeight for contexts, content × 1 for
// memories), into the hitSet registered under id, and returns 1.
//
// It is what bm25() computes per row, without bm25()'s statistics: those
// FTS5 counts over the whole index shard (every tenant in it), and it reads
// every posting of every query phrase in the shard once per query to do so.
// Search (search_tenant.go) scores the recorded matches with BM25 over the
// tenant's own statistics instead.
//
// Both the hits and the length come from what FTS5 holds for the match (its
// position lists and its _docsize row): no text is read or tokenized, unlike
// highlight().
const hitsFunc = "contextd_hits"

// hitSet is what contextd_hits records for one query: per match, its rowid,
// length and the weighted hits of each of its phrases (w[i*phrases+p]).
type hitSet struct {
	weights []uint32 // per column of the index
	phrases int
	pks     []int64
	lens    []int32
	w       []uint32
	err     error
}

// add records the current match; hit reports the phrase and column of its
// instance i.
func (h *hitSet) add(pk int64, length int32, phrases, insts int, hit func(i int) (phrase, col int, err error)) {
	if h.err != nil {
		return
	}
	if len(h.pks) == 0 {
		h.phrases = phrases
	} else if phrases != h.phrases {
		h.err = errors.New("contextd_hits: the phrase count changed within a query")
		return
	}
	h.pks = append(h.pks, pk)
	h.lens = append(h.lens, length)
	base := len(h.w)
	for range phrases {
		h.w = append(h.w, 0)
	}
	for i := range insts {
		p, col, err := hit(i)
		if err != nil {
			h.err = err
			return
		}
		if p < 0 || p >= phrases {
			continue
		}
		if col >= 0 && col < len(h.weights) {
			h.w[base+p] += h.weights[col]
		}
	}
}

// hitSets are the sets being filled, by id: the function finds its set by
// the id bound to its second argument.
var (
	hitSetsMu sync.RWMutex
	hitSets   = map[int64]*hitSet{}
	hitSetID  atomic.Int64
)

// newHitSet registers an empty set for an index whose columns weigh
// weights and returns its id; release drops it.
func newHitSet(weights []uint32) (int64, *hitSet) {
	id := hitSetID.Add(1)
	h := &hitSet{weights: weights}
	hitSetsMu.Lock()
	hitSets[id] = h
	hitSetsMu.Unlock()
	return id, h
}

func releaseHitSet(id int64) {
	hitSetsMu.Lock()
	delete(hitSets, id)
	hitSetsMu.Unlock()
}

func lookupHitSet(id int64) *hitSet {
	hitSetsMu.RLock()
	defer hitSetsMu.RUnlock()
	return hitSets[id]
}

// errNoHitSet: the function ran with an id no search registered.
var errNoHitSet = errors.New("contextd_hits: unknown hit set")

// registerHits registers contextd_hits on a plaintext connection (the
// modernc.org/sqlite driver, which has no API for FTS5 extensions: the
// function is registered with FTS5's C API, through the connection's handle
// as qpsg.go reads it).
func registerHits(c *sql.Conn) error {
	return c.Raw(func(dc any) error {
		tls, db, err := modernHandle(dc)
		if err != nil {
			return err
		}
		return registerHitsModernc(tls, db)
	})
}

// registerHitsModernc gets the fts5_api of db (SELECT fts5(?1), the pointer
// bound as "fts5_api_ptr") and calls its xCreateFunction.
func registerHitsModernc(tls *libc.TLS, db uintptr) error {
	zSQL, err := libc.CString("SELECT fts5(?1)")
	if err != nil {
		return err
	}
	defer libc.Xfree(tls, zSQL)
	zType, err := libc.CString("fts5_api_ptr")
	if err != nil {
		return err
	}
	defer libc.Xfree(tls, zType)
	zName, err := libc.CString(hitsFunc)
	if err != nil {
		return err
	}
	defer libc.Xfree(tls, zName)
	bp := libc.Xmalloc(tls, 16) // the statement pointer, then the fts5_api pointer
	if bp == 0 {
		return errors.New("sqlite: out of memory")
	}
	defer libc.Xfree(tls, bp)
	*(*uintptr)(cptr(bp)) = 0
	*(*uintptr)(cptr(bp + 8)) = 0
	if rc := sqlite3.Xsqlite3_prepare_v2(tls, db, zSQL, -1, bp, 0); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("sqlite: %s: prepare: result code %d", hitsFunc, rc)
	}
	stmt := *(*uintptr)(cptr(bp))
	rc := sqlite3.Xsqlite3_bind_pointer(tls, stmt, 1, bp+8, zType, 0)
	if rc == sqlite3.SQLITE_OK {
		if rc = sqlite3.Xsqlite3_step(tls, stmt); rc == sqlite3.SQLITE_ROW {
			rc = sqlite3.SQLITE_OK
		}
	}
	sqlite3.Xsqlite3_finalize(tls, stmt)
	if rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("sqlite: %s: fts5_api: result code %d", hitsFunc, rc)
	}
	api := *(*uintptr)(cptr(bp + 8))
	if api == 0 {
		return fmt.Errorf("sqlite: %s: no fts5_api", hitsFunc)
	}
	create := (*sqlite3.Tfts5_api)(cptr(api)).FxCreateFunction
	// A C function pointer of the translated SQLite is a Go func value
	// (https://golang.org/s/go11func), as the driver's own callbacks are.
	fn := *(*uintptr)(unsafe.Pointer(&struct {
		f func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr)
	}{hitsModernc}))
	rc = (*(*func(*libc.TLS, uintptr, uintptr, uintptr, uintptr, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{create})))(tls, api, zName, 0, fn, 0)
	if rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("sqlite: %s: xCreateFunction: result code %d", hitsFunc, rc)
	}
	return nil
}

// hitsModernc is contextd_hits as an fts5_extension_function of the
// translated SQLite: (pApi, pFts, pCtx, nVal, apVal).
func hitsModernc(tls *libc.TLS, pApi, pFts, pCtx uintptr, nVal int32, apVal uintptr) {
	api := (*sqlite3.TFts5ExtensionApi)(cptr(pApi))
	if nVal != 1 {
		sqlite3.Xsqlite3_result_error_code(tls, pCtx, sqlite3.SQLITE_MISUSE)
		return
	}
	h := lookupHitSet(sqlite3.Xsqlite3_value_int64(tls, *(*uintptr)(cptr(apVal))))
	if h == nil {
		sqlite3.Xsqlite3_result_error_code(tls, pCtx, sqlite3.SQLITE_MISUSE)
		return
	}
	bp := tls.Alloc(16)
	defer tls.Free(16)
	call1 := func(f uintptr) int32 { // int f(Fts5Context*, int*)
		return (*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{f})))(tls, pFts, bp)
	}
	if rc := call1(api.FxInstCount); rc != sqlite3.SQLITE_OK {
		sqlite3.Xsqlite3_result_error_code(tls, pCtx, rc)
		return
	}
	insts := int(*(*int32)(cptr(bp)))
	if rc := (*(*func(*libc.TLS, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{api.FxColumnSize})))(tls, pFts, -1, bp); rc != sqlite3.SQLITE_OK {
		sqlite3.Xsqlite3_result_error_code(tls, pCtx, rc)
		return
	}
	length := *(*int32)(cptr(bp))
	phrases := int((*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{api.FxPhraseCount})))(tls, pFts))
	pk := (*(*func(*libc.TLS, uintptr) int64)(unsafe.Pointer(&struct{ uintptr }{api.FxRowid})))(tls, pFts)
	xInst := *(*func(*libc.TLS, uintptr, int32, uintptr, uintptr, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{api.FxInst}))
	h.add(pk, length, phrases, insts, func(i int) (int, int, error) {
		if rc := xInst(tls, pFts, int32(i), bp, bp+4, bp+8); rc != sqlite3.SQLITE_OK {
			return 0, 0, fmt.Errorf("contextd_hits: xInst: result code %d", rc)
		}
		return int(*(*int32)(cptr(bp))), int(*(*int32)(cptr(bp + 4))), nil
	})
	if h.err != nil {
		sqlite3.Xsqlite3_result_error_code(tls, pCtx, sqlite3.SQLITE_ERROR)
		return
	}
	sqlite3.Xsqlite3_result_int(tls, pCtx, 1)
}

// registerHitsNcruces registers the FTS5 extension with contextd_hits on an
// encrypted (ncruces) connection: the driver's fts5 package has the API.
func registerHitsNcruces(c *ncruces.Conn) error {
	return fts5.RegisterCustom(c, func(api *fts5.API) error {
		return api.CreateFunction(hitsFunc, hitsNcruces)
	})
}

// hitsNcruces is contextd_hits for the ncruces driver.
func hitsNcruces(fc fts5.Context, ctx ncruces.Context, arg ...ncruces.Value) {
	if len(arg) != 1 {
		ctx.ResultError(errors.New("contextd_hits: one argument"))
		return
	}
	h := lookupHitSet(arg[0].Int64())
	if h == nil {
		ctx.ResultError(errNoHitSet)
		return
	}
	insts, err := fc.InstCount()
	if err != nil {
		ctx.ResultError(err)
		return
	}
	length, err := fc.ColumnSize(-1)
	if err != nil {
		ctx.ResultError(err)
		return
	}
	h.add(fc.RowID(), int32(length), fc.PhraseCount(), insts, func(i int) (int, int, error) {
		p, col, _, err := fc.Inst(i)
		return p, col, err
	})
	if h.err != nil {
		ctx.ResultError(h.err)
		return
	}
	ctx.ResultInt(1)
}

// cptr turns an address in the translated C's memory (allocated by its
// libc, never by Go's collector) into a pointer. Reading the uintptr's bits
// as a pointer, rather than converting the integer, says that this is an
// address Go does not manage.
func cptr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }
