// Package sqlite is the embedded default Store of contextd: one SQLite file
// (DIR/contextd.db) in WAL mode with FTS5 full-text indexes, written by one
// connection and read by a pool, through the pure-Go driver
// modernc.org/sqlite (no cgo), or, when Options.EncryptionKey is set,
// encrypted at rest through github.com/ncruces/go-sqlite3 (driver.go).
//
// Layout:
//
//	sqlite.go         Open, pragmas, Close, error translation, read transactions
//	driver.go         the two drivers (plaintext, encrypted) behind openDB and errCode
//	rekey.go          Rekey: encrypt, re-key or decrypt a store (contextd rekey)
//	writer.go         the writer goroutine: group commit of write jobs
//	writeprep.go      what creates prepare before their job (validation, JSON)
//	checkpoint.go     WAL checkpoints on a connection of their own
//	ftsmerge.go       full-text segment merges when the writer is idle
//	conn.go           connections with their prepared statements; the reader pool
//	migrate.go        embedded migrations (migrations/NNNN_name.sql)
//	contexts.go       contexts; relationships.go edges and the graph walk
//	search.go         full-text search, facets, highlights (highlight.go), stats
//	topk.go           the top-k search index of large tenants (topk_build.go builds it)
//	memories.go       memories and their search; sessions.go; keys.go
//
// Every write runs in a transaction on the single write connection and is
// committed with synchronous=FULL before the method returns, so nil means the
// data is on disk; concurrent writes share a commit (see writer.go). The
// full-text indexes are external-content FTS5 tables written in the same
// transaction as their rows.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/contextd/contextd"
)

// FileName is the database file inside the store's directory.
const FileName = "contextd.db"

// Options configure a Store. The zero value is usable.
type Options struct {
	// Now is the store's clock; nil means time.Now.
	Now func() time.Time
	// CacheSizeMB bounds the resident memory of SQLite's pages in MiB, all
	// connections together; 0 means 256. A plaintext store gives a quarter
	// to the readers' memory maps of the file and the rest to the
	// connections' page caches, counted as the allocator holds them
	// (planMemory, memory.go); statements, sorts and FTS5 buffers come on
	// top.
	CacheSizeMB int
	// ReadConns is the size of the reader pool; 0 means 2×GOMAXPROCS.
	ReadConns int
	// Logger receives the store's diagnostics; nil means slog.Default().
	Logger *slog.Logger
	// EncryptionKey, when set (KeySize bytes), encrypts the store at rest:
	// the database file, its WAL and journals (see driver.go). nil means a
	// plaintext store. A store is opened with the key it was written with:
	// ErrWrongKey, ErrNotEncrypted or ErrEncrypted otherwise (Rekey
	// converts one).
	EncryptionKey []byte
	// TopKMinContexts is the size from which a tenant's full-text searches
	// use the top-k index (topk.go) once its segment is built; 0 means
	// 5,000, a negative value turns the index off (every search on FTS5).
	TopKMinContexts int
	// TopKCacheMB bounds the decoded posting lists kept in memory; 0 means 64.
	TopKCacheMB int
	// VectorIndexMB bounds the memory of semantic search's in-memory index
	// (contextd.VectorIndex.MaxBytes); 0 means no bound but the index's
	// default vector count.
	VectorIndexMB int
	// VectorIndexPacked makes tenants of 20k vectors or more hold their
	// vectors as 4-bit offsets from the tenant's mean and read the best
	// candidates' vectors back from the file for exact scores: ~250 instead
	// of ~380 bytes a vector, but a semantic search then reads a hundred
	// rows at random (p50 44 against 19 ms at 1M vectors when the file is
	// not in memory). False keeps 8-bit vectors in memory.
	VectorIndexPacked bool
}

// Store is a contextd.Store on one SQLite database file.
type Store struct {
	w    *sql.DB // the write connection: SQLite allows one writer at a time
	r    *sql.DB // the read-only connections: WAL lets readers run beside the writer
	path string
	key  []byte // the encryption key; nil for a plaintext store
	now  func() time.Time
	log  *slog.Logger

	writer  chan *conn // holds the one write connection while it is free
	readers *pool      // the read connections

	wq      chan *job     // write jobs for the writer goroutine (see writer.go)
	wmu     sync.RWMutex  // guards wclosed and sends on wq
	wclosed bool          // no more jobs are taken
	wdone   chan struct{} // closed when the writer goroutine has ended
	batches atomic.Int64  // transactions the writer ran, for tests and metrics
	retries atomic.Int64  // batches run again after a failed job
	jobs    atomic.Int64  // jobs the batches carried
	// The writer's progress, for Ping (unix nanoseconds): when the batch it
	// is running started (0 while it waits for jobs), and when it last
	// finished one.
	wBusySince, wLastDone atomic.Int64
	merges                atomic.Int64 // idle full-text merge steps (ftsmerge.go)

	partitions sync.Map // tenant name -> partition number (see partition.go)

	sizeMu  sync.Mutex // guards the cached index size (see cachedIndexSize)
	size    int64
	sizeAt  time.Time     // zero: not measured yet
	sizeErr error         // why the last measurement failed, while none succeeded
	sizing  chan struct{} // closed when the measurement in flight ends; nil: none

	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}

	vectors vectorState // semantic search: the vector index (vectors.go)

	topk *topkState // the top-k search index (topk.go); nil when off
	// countedOff makes every ranked search take topPage, not countedPage
	// (search_counted.go): tests compare the two.
	countedOff atomic.Bool
	// shardScores makes ranked FTS5 searches rank with bm25() over their
	// index shard's statistics, as before search_tenant.go: tests and
	// benchmarks compare the two.
	shardScores atomic.Bool

	keyGen *keyGenCache // the key generation while nothing is committed (keygen.go)

	ckpt *checkpointer // background WAL checkpoints (checkpoint.go)
}

// Open opens (creating if needed) the store in directory dir and brings its
// schema up to date.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("sqlite: open: empty directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	s := &Store{
		path:   filepath.Join(dir, FileName),
		key:    opts.EncryptionKey,
		now:    opts.Now,
		log:    opts.Logger,
		closed: make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "sqlite")
	totalMB := opts.CacheSizeMB
	if totalMB <= 0 {
		totalMB = 256
	}
	readConns := opts.ReadConns
	if readConns <= 0 {
		readConns = 2 * runtime.GOMAXPROCS(0)
	}
	plan := planMemory(totalMB, readConns, s.key == nil) // memory.go

	// Pragmas every connection gets (the driver runs them on each new
	// connection, so pooled connections all have them):
	common := []string{
		// Wait up to 10 s for a lock instead of failing at once with SQLITE_BUSY:
		// another process (`contextd keys create` beside a running server) or a
		// checkpoint may hold it briefly.
		"busy_timeout(10000)",
		// Enforce REFERENCES clauses: relationships and tag rows go with
		// their context through ON DELETE CASCADE.
		"foreign_keys(1)",
		// Page cache per connection (negative = KiB): hot pages stay in
		// SQLite's own memory, since the OS evicts idle file-cache pages.
		// The connections share the store's budget (Options.CacheSizeMB;
		// planMemory in memory.go).
		plan.cachePragma(),
		// A bound of all of SQLite's memory in this process (a global
		// setting: the last store opened sets it) where SQLite counts its
		// memory; modernc's build does not (memory.go), and the cache
		// sizes above are the bound.
		fmt.Sprintf("soft_heap_limit(%d)", int64(totalMB+64)<<20),
		// Sorts and temporary b-trees (facets, GROUP BY, IN lists) in memory.
		"temp_store(MEMORY)",
	}
	writer := append([]string{
		// Write-ahead log: readers never block the writer nor the writer the
		// readers, and a commit is one sequential append.
		"journal_mode(WAL)",
		// FULL: fsync the WAL at every commit, so a returned nil is durable
		// (NORMAL would lose the last commits on power failure).
		"synchronous(FULL)",
		// Bound the WAL file left on disk after checkpoints (64 MiB).
		"journal_size_limit(67108864)",
	}, common...)
	// Checkpoints run on a connection of their own (checkpoint.go); the
	// writer's automatic one is only a fallback, at a larger threshold.
	writerOnly := append([]string{fmt.Sprintf("wal_autocheckpoint(%d)", walFallbackPages)}, writer...)
	reader := append([]string{
		// A reader connection never writes; belt and braces with mode=ro.
		"query_only(1)",
	}, common...)
	reader = append(reader, plan.readerPragmas()...)

	var err error
	s.w, err = openDB(s.path, s.key, writerOnly)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open writer: %w", err)
	}
	s.w.SetMaxOpenConns(1) // one writer: writes queue here, not in lock retries
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	wc, err := s.w.Conn(ctx)
	if err != nil {
		s.w.Close()
		// The pragmas (journal_mode) read the file's header first: a file
		// and key that do not match fail here, before anything is written.
		if km := keyMismatch(s.path, s.key != nil, err); km != err {
			return nil, km
		}
		return nil, fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	if s.key == nil {
		if err := stablePlans(wc); err != nil { // qpsg.go
			s.w.Close()
			return nil, fmt.Errorf("sqlite: open %s: %w", s.path, err)
		}
	}
	s.writer = make(chan *conn, 1)
	wconn := newConn(wc)
	wconn.detached = true
	s.writer <- wconn
	if err := s.migrate(ctx); err != nil {
		s.closeConns()
		return nil, err
	}
	// mode=ro: a reader cannot write even by mistake. The readers open after
	// the writer has put the file in WAL mode.
	s.r, err = openDB(s.path, s.key, reader, "mode=ro")
	if err != nil {
		s.closeConns()
		return nil, fmt.Errorf("sqlite: open readers: %w", err)
	}
	s.r.SetMaxOpenConns(readConns)
	s.r.SetMaxIdleConns(readConns)
	s.r.SetConnMaxLifetime(0)
	s.r.SetConnMaxIdleTime(0)
	s.readers = newPool(readConns)
	for range readConns {
		rc, err := s.r.Conn(ctx)
		if err != nil {
			s.closeConns()
			return nil, fmt.Errorf("sqlite: open readers: %w", err)
		}
		if s.key == nil {
			if err := stablePlans(rc); err != nil { // qpsg.go
				rc.Close()
				s.closeConns()
				return nil, fmt.Errorf("sqlite: open readers: %w", err)
			}
			if err := registerHits(rc); err != nil { // fts_hits.go
				rc.Close()
				s.closeConns()
				return nil, fmt.Errorf("sqlite: open readers: %w", err)
			}
		}
		s.readers.add(newConn(rc))
	}
	if s.key == nil {
		s.keyGen = openKeyGenCache(s.path)
	}
	if err := s.startCheckpointer(ctx, writer); err != nil {
		s.closeConns()
		return nil, fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	s.wq = make(chan *job, maxBatch)
	s.wdone = make(chan struct{})
	go s.runWriter()
	if err := s.ensureShards(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	if err := s.countTextStats(ctx, false); err != nil { // textstats.go
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	if err := s.looseAll(ctx); err != nil { // ftsconsolidate.go
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	s.vectors.maxBytes = int64(opts.VectorIndexMB) << 20
	s.vectors.packed = opts.VectorIndexPacked
	if err := s.startTopK(ctx, opts); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	return s, nil
}

// dsn builds a driver DSN for path with the pragmas and extra parameters.
func dsn(path string, pragmas []string, extra ...string) string {
	q := make([]string, 0, len(pragmas)+len(extra))
	for _, p := range pragmas {
		q = append(q, "_pragma="+url.QueryEscape(p))
	}
	q = append(q, extra...)
	return "file:" + escapePath(path) + "?" + strings.Join(q, "&")
}

// escapePath makes path safe inside a file: URI.
func escapePath(path string) string {
	u := url.URL{Path: path}
	return u.EscapedPath()
}

// Kind implements contextd.Store.
func (s *Store) Kind() string { return "sqlite" }

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close waits for the running calls, then closes the readers and the writer.
// It is safe to call twice.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.stopTopK()
		s.wmu.Lock()
		s.wclosed = true
		close(s.wq)
		s.wmu.Unlock()
		<-s.wdone // the jobs already queued are run
		s.closeErr = s.closeConns()
	})
	return s.closeErr
}

// closeConns closes every connection, each once it is free.
func (s *Store) closeConns() error {
	errs := []error{s.stopCheckpointer()}
	if s.readers != nil {
		for _, c := range s.readers.drain() {
			errs = append(errs, c.close())
		}
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.writer != nil {
		c := <-s.writer
		// Checkpoint so that the database file alone holds everything.
		if _, err := c.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			s.log.Warn("checkpoint on close", "err", err)
		}
		errs = append(errs, c.close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if s.topk != nil {
		s.topk.tok.close()
	}
	errs = append(errs, s.keyGen.close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

func (s *Store) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

var errClosed = contextd.Errorf(contextd.EUNAVAILABLE, "the store is closed")

// take waits for a free connection of pool.
func (s *Store) take(ctx context.Context, pool chan *conn) (*conn, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	select {
	case c := <-pool:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.closed:
		return nil, errClosed
	}
}

// Ping reads through a reader and checks the writer answers. A writer busy
// with other writes answers late: it counts as answering when it finished a
// transaction while the ping waited, or is running one that started less
// than writerStallAfter ago, so that a long batch under load does not make
// the store look unreachable.
func (s *Store) Ping(ctx context.Context) error {
	err := s.read(ctx, "ping", func(c *conn) error {
		var n int
		return c.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n)
	})
	if err != nil {
		return err
	}
	start := time.Now()
	err = s.write(ctx, "ping writer", func(c *conn) error {
		var one int
		return c.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	})
	if err != nil && ctx.Err() != nil && s.writerProgressing(start) {
		return nil
	}
	return err
}

// writerStallAfter is how long one writer transaction may run before Ping
// stops counting it as progress.
const writerStallAfter = time.Minute

// writerProgressing reports whether the writer finished a transaction after
// since, or is in one that started less than writerStallAfter ago.
func (s *Store) writerProgressing(since time.Time) bool {
	if s.wLastDone.Load() >= since.UnixNano() {
		return true
	}
	busy := s.wBusySince.Load()
	return busy != 0 && time.Since(time.Unix(0, busy)) < writerStallAfter
}

// clock returns the store's current time in UTC.
func (s *Store) clock() time.Time { return s.now().UTC() }

// read runs fn in one read transaction on a free reader, so that its
// queries see one snapshot.
func (s *Store) read(ctx context.Context, op string, fn func(c *conn) error) error {
	c, err := s.readers.take(ctx, s.closed)
	if err != nil {
		return s.fail(ctx, op, err)
	}
	defer s.readers.put(c)
	if _, err := c.ExecContext(ctx, "BEGIN"); err != nil {
		return s.fail(ctx, op, err)
	}
	err = fn(c)
	c.rollback()
	if err != nil {
		return s.fail(ctx, op, err)
	}
	return nil
}

// fail translates err at the boundary: domain errors pass through, UNIQUE
// violations become ECONFLICT, a busy database EUNAVAILABLE, anything else is
// wrapped with the operation.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	var de *contextd.Error
	if errors.As(err, &de) {
		return err
	}
	if ce := ctx.Err(); ce != nil && !errors.Is(err, ce) {
		err = fmt.Errorf("%w (%w)", ce, err)
	}
	if code, ok := errCode(err); ok {
		switch code & 0xff {
		case 19: // SQLITE_CONSTRAINT
			if isUnique(err) {
				return contextd.Errorf(contextd.ECONFLICT, "%s: already exists", op)
			}
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return &wrapped{code: contextd.EUNAVAILABLE, msg: "the database is busy, retry", err: fmt.Errorf("sqlite: %s: %w", op, err)}
		}
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// wrapped is a domain error that keeps its cause for logs.
type wrapped struct {
	code, msg string
	err       error
}

func (w *wrapped) Error() string { return w.err.Error() }
func (w *wrapped) Unwrap() []error {
	return []error{&contextd.Error{Code: w.code, Message: w.msg}, w.err}
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	if code, ok := errCode(err); !ok || code&0xff != 19 { // SQLITE_CONSTRAINT
		return false
	}
	msg := errMessage(err)
	return strings.Contains(msg, "UNIQUE") || strings.Contains(msg, "PRIMARY KEY")
}
