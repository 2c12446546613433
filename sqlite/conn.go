package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"sync"
)

// pool hands out read connections, the most recently used first: under light
// load the same few connections serve most reads and keep their page caches
// warm, instead of every connection caching the whole working set.
type pool struct {
	sem  chan struct{} // one token per connection in use
	mu   sync.Mutex
	free []*conn
	all  int
}

func newPool(n int) *pool { return &pool{sem: make(chan struct{}, n)} }

func (p *pool) add(c *conn) {
	p.mu.Lock()
	p.free = append(p.free, c)
	p.all++
	p.mu.Unlock()
}

// take waits for a free connection, until ctx is done or closed is closed.
func (p *pool) take(ctx context.Context, closed <-chan struct{}) (*conn, error) {
	select {
	case <-closed:
		return nil, errClosed
	default:
	}
	select {
	case p.sem <- struct{}{}: // a free connection: no need to watch ctx (nor make its timer)
	default:
		select {
		case p.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-closed:
			return nil, errClosed
		}
	}
	p.mu.Lock()
	c := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	p.mu.Unlock()
	return c, nil
}

func (p *pool) put(c *conn) {
	p.mu.Lock()
	p.free = append(p.free, c)
	p.mu.Unlock()
	<-p.sem
}

// drain waits until every connection is back and returns them all.
func (p *pool) drain() []*conn {
	for range cap(p.sem) {
		p.sem <- struct{}{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.free
	p.free = nil
	return out
}

// conn is one SQLite connection and its prepared statements. The pure-Go
// driver takes tens to hundreds of microseconds to prepare a statement, more
// than most of our queries take to run, so every statement is prepared once
// per connection and kept. A conn is used by one goroutine at a time (the
// Store hands them out through channels), so the cache needs no lock.
type conn struct {
	c     *sql.Conn
	stmts map[string]*sql.Stmt
	// detached: statements ignore the cancellation of their context. The
	// writer is detached, since an interrupted write rolls back the whole
	// transaction, which other jobs share.
	detached bool
	// ftsDirty: the full-text indexes the writer wrote since they were
	// last fully merged (see ftsmerge.go); the writer's only.
	ftsDirty uint64
	// ftsLoose: the indexes that may hold more than one segment, and
	// ftsMerging those being consolidated (ftsconsolidate.go); the
	// writer's only.
	ftsLoose, ftsMerging uint64
	// textDeltas: the changes of the running write job to the tenants'
	// full-text counts, by partition (textstats.go); the writer's only.
	textDeltas map[textKey]textDelta
	// raw are the driver's own statements of queryRaw (rawquery.go), and
	// rowBuf the row it reads into.
	raw    map[string]driver.Stmt
	rowBuf []driver.Value
	// direct are the C API statements of queryRows (directread.go).
	direct directConn
}

// maxStmts bounds the statements kept per connection. Statement shapes are
// few (filters add conditions, never inline values); past the bound, the
// cache starts over.
const maxStmts = 512

func newConn(c *sql.Conn) *conn { return &conn{c: c, stmts: map[string]*sql.Stmt{}} }

func (c *conn) context(ctx context.Context) context.Context {
	if c.detached {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

func (c *conn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := c.stmts[query]; st != nil {
		return st, nil
	}
	if len(c.stmts) >= maxStmts {
		c.closeStmts()
	}
	st, err := c.c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = st
	return st, nil
}

// ExecContext runs a statement that returns no rows.
func (c *conn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = c.context(ctx)
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryContext runs a query.
func (c *conn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = c.context(ctx)
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// row is a single-row result, or the error of preparing its query.
type row struct {
	r   *sql.Row
	err error
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.r.Scan(dest...)
}

// QueryRowContext runs a query for one row; its error comes with Scan.
func (c *conn) QueryRowContext(ctx context.Context, query string, args ...any) row {
	ctx = c.context(ctx)
	st, err := c.stmt(ctx, query)
	if err != nil {
		return row{err: err}
	}
	return row{r: st.QueryRowContext(ctx, args...)}
}

// rollback ends the open transaction, if any, whatever ctx says.
func (c *conn) rollback() {
	_, _ = c.ExecContext(context.Background(), "ROLLBACK")
}

func (c *conn) closeStmts() {
	for q, st := range c.stmts {
		st.Close()
		delete(c.stmts, q)
	}
}

func (c *conn) close() error {
	c.closeStmts()
	c.closeRaw()
	c.closeDirect()
	err := c.c.Close()
	if errors.Is(err, sql.ErrConnDone) {
		err = nil
	}
	return err
}
