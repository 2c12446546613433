// Package neo4j is the contextd Store on a Neo4j 5 server, for deployments
// that outgrow one machine or want their memory in a graph database: many
// stateless contextd processes may share one Neo4j. It speaks Bolt through
// the official driver (github.com/neo4j/neo4j-go-driver/v5).
//
// Layout:
//
//	neo4j.go          Open, Close, Ping, managed transactions, error translation
//	migrate.go        constraints and indexes as versioned migrations
//	model.go          keys, times, JSON, metadata pairs, text normalization
//	contexts.go       contexts; relationships.go edges and the graph walk
//	search.go         full-text search on Lucene, facets; highlight.go
//	memories.go       memories and their search; sessions.go; keys.go
//	transfer.go       contextd.Exporter and contextd.Importer (contextd migrate)
//
// The graph, as stored:
//
//	(:Context {uk, sk, tenant, id, title, content, type, status, userId,
//	           sessionId, tags, metadata, meta, createdAt, updatedAt, version,
//	           ftk, ftTitle, ftContent})
//	(:Context)-[:LINK {uk, dk, sk, id, type, props, createdAt}]->(:Context)
//	(:Memory {...}) (:Session {...}) (:ApiKey {...}) (:Tenant {...})
//	(:ContextdMigration {version, name, appliedAt})
//
// Walls: every node and edge carries sk, the scope key (the tenant, behind
// the store's namespace when it has one), and every query names it. uk is
// sk + "/" + id, unique per label: ids are unique per tenant only. Times are
// int64 Unix nanoseconds (UTC). Tags are string lists; metadata is JSON text,
// and its top-level scalars are also kept as typed "key=t:value" strings in
// meta, for filters and facets.
//
// Relationships are one Neo4j relationship type, LINK, with the contextd
// type in its type property: types are data (custom ones included), so a
// query never builds Cypher from them, uniqueness constraints cover every
// edge (id: uk; (source, target, type): dk), and an edge is found by id
// through an index. Cypher over the data: MATCH (a:Context)-[r:LINK {type:
// 'CONTAINS'}]->(b:Context) RETURN a.title, b.title.
//
// Full-text search runs on Lucene full-text indexes over ftTitle and
// ftContent: the text as contextd's own tokenizer (contextd.Words) splits it,
// lower-cased and without diacritics, behind a whitespace analyzer, so a
// query word matches the same words here as in the embedded store. The
// tenant is a token of the index (ftk), so Lucene filters by tenant itself.
//
// Writes are managed transactions (ExecuteWrite), retried by the driver on
// transient errors (deadlocks, leader changes, lost connections); nil means
// Neo4j committed.
package neo4j

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/contextd/contextd"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	neo4jconfig "github.com/neo4j/neo4j-go-driver/v5/neo4j/config"
)

// Options configure a Store. URI is required; the other zero values are usable.
type Options struct {
	// URI is the Bolt address: neo4j://host:7687, bolt://host:7687 (and the
	// +s/+ssc TLS forms).
	URI string
	// Username and Password authenticate with basic auth; an empty Username
	// connects without authentication (a server with auth disabled).
	Username, Password string
	// Database names the Neo4j database; "" means the server's default.
	Database string
	// Namespace keeps this store's data apart from other stores sharing the
	// database (tests open many stores on one server). "" is the normal,
	// production value. At most 64 of [A-Za-z0-9_-].
	Namespace string
	// Now is the store's clock; nil means time.Now.
	Now func() time.Time
	// MaxPoolSize bounds the Bolt connections; 0 means 100 (the driver's default).
	MaxPoolSize int
	// ConnectTimeout bounds opening one connection; 0 means 5 s.
	ConnectTimeout time.Duration
	// AcquireTimeout bounds waiting for a free pooled connection; 0 means 10 s.
	AcquireTimeout time.Duration
	// MaxRetryTime bounds the retries of one transaction on transient
	// errors (a lost connection included); 0 means 15 s.
	MaxRetryTime time.Duration
	// TxTimeout bounds one store operation: Neo4j aborts a transaction
	// running longer (the server-side transaction timeout), and the store
	// stops waiting for a server that does not answer after TxTimeout +
	// MaxRetryTime, failing with EUNAVAILABLE. 0 means no bound beyond the
	// caller's context and the server's own db.transaction.timeout (the
	// migrations at Open are never bounded by it).
	TxTimeout time.Duration
	// Logger receives the store's diagnostics; nil means slog.Default().
	Logger *slog.Logger
}

// Store is a contextd.Store on Neo4j.
type Store struct {
	driver neo4j.DriverWithContext
	db     string
	ns     string
	now    func() time.Time
	log    *slog.Logger

	txTimeout time.Duration // 0: unbounded
	opBound   time.Duration // TxTimeout + MaxRetryTime, or 0

	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}

	vectors vectorState // semantic search: the vector index (vectors.go)
}

var _ contextd.Store = (*Store)(nil)

var nsRe = regexp.MustCompile(`^[A-Za-z0-9_-]{0,64}$`)

// Open connects to Neo4j, checks that it answers, and brings the schema up
// to date (see migrate.go). It fails with EUNAVAILABLE when the server
// cannot be reached within ConnectTimeout.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.URI == "" {
		return nil, errors.New("neo4j: open: no URI")
	}
	u, err := url.Parse(opts.URI)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("neo4j: open: %q is not a Bolt URI (neo4j://host:port)", opts.URI)
	}
	switch u.Scheme {
	case "neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc":
	default:
		return nil, fmt.Errorf("neo4j: open: unsupported URI scheme %q (neo4j://, bolt://)", u.Scheme)
	}
	if !nsRe.MatchString(opts.Namespace) {
		return nil, fmt.Errorf("neo4j: open: namespace %q must be at most 64 of [A-Za-z0-9_-]", opts.Namespace)
	}
	s := &Store{db: opts.Database, ns: opts.Namespace, now: opts.Now, log: opts.Logger, closed: make(chan struct{})}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "neo4j")
	auth := neo4j.NoAuth()
	if opts.Username != "" {
		auth = neo4j.BasicAuth(opts.Username, opts.Password, "")
	}
	if opts.TxTimeout < 0 || opts.MaxRetryTime < 0 || opts.ConnectTimeout < 0 || opts.AcquireTimeout < 0 || opts.MaxPoolSize < 0 {
		return nil, errors.New("neo4j: open: pool sizes and timeouts must not be negative")
	}
	connect := durationOr(opts.ConnectTimeout, 5*time.Second)
	retry := durationOr(opts.MaxRetryTime, 15*time.Second)
	s.driver, err = neo4j.NewDriverWithContext(opts.URI, auth, func(c *neo4jconfig.Config) {
		if opts.MaxPoolSize > 0 {
			c.MaxConnectionPoolSize = opts.MaxPoolSize
		}
		c.SocketConnectTimeout = connect
		c.ConnectionAcquisitionTimeout = durationOr(opts.AcquireTimeout, 10*time.Second)
		c.MaxTransactionRetryTime = retry
		c.SocketKeepalive = true
	})
	if err != nil {
		return nil, fmt.Errorf("neo4j: open: %w", err)
	}
	vctx, cancel := context.WithTimeout(ctx, connect+time.Second)
	err = s.driver.VerifyConnectivity(vctx)
	cancel()
	if err != nil {
		s.driver.Close(context.Background())
		return nil, &wrapped{code: contextd.EUNAVAILABLE, msg: "Neo4j is not reachable",
			err: fmt.Errorf("neo4j: open %s: %w", redact(u), err)}
	}
	if err := s.migrate(ctx); err != nil {
		s.driver.Close(context.Background())
		return nil, err
	}
	if opts.TxTimeout > 0 { // after the migrations: index builds may take longer
		s.txTimeout, s.opBound = opts.TxTimeout, opts.TxTimeout+retry
	}
	return s, nil
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// redact drops credentials from a URI for messages.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// Kind implements contextd.Store.
func (s *Store) Kind() string { return "neo4j" }

// Namespace is the store's namespace ("" normally).
func (s *Store) Namespace() string { return s.ns }

// Close closes the driver and its connections. It is safe to call twice.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		if err := s.driver.Close(context.Background()); err != nil {
			s.closeErr = fmt.Errorf("neo4j: close: %w", err)
		}
	})
	return s.closeErr
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

// Ping runs a read and a write transaction.
func (s *Store) Ping(ctx context.Context) error {
	err := s.read(ctx, "ping", func(tx neo4j.ManagedTransaction) error {
		_, err := single(ctx, tx, `MATCH (m:ContextdMigration) RETURN count(m) AS n`, nil)
		return err
	})
	if err != nil {
		return err
	}
	return s.write(ctx, "ping writer", func(tx neo4j.ManagedTransaction) error {
		_, err := single(ctx, tx, `RETURN 1 AS one`, nil)
		return err
	})
}

// clock returns the store's current time in UTC.
func (s *Store) clock() time.Time { return s.now().UTC() }

// write runs fn in a managed write transaction: the driver retries it on
// transient errors (fn keeps no state between runs), and nil means
// committed. Errors are translated with op.
func (s *Store) write(ctx context.Context, op string, fn func(tx neo4j.ManagedTransaction) error) error {
	return s.run(ctx, op, neo4j.AccessModeWrite, fn)
}

// read runs fn in a managed read transaction.
func (s *Store) read(ctx context.Context, op string, fn func(tx neo4j.ManagedTransaction) error) error {
	return s.run(ctx, op, neo4j.AccessModeRead, fn)
}

func (s *Store) run(ctx context.Context, op string, mode neo4j.AccessMode, fn func(tx neo4j.ManagedTransaction) error) error {
	if s.isClosed() {
		return errClosed
	}
	var txConfig []func(*neo4j.TransactionConfig)
	if s.opBound > 0 {
		// A server that stops answering (paused, partitioned) leaves a read
		// blocked on its socket: the deadline bounds the wait, retries included.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opBound)
		defer cancel()
		txConfig = append(txConfig, neo4j.WithTxTimeout(s.txTimeout))
	}
	sess := s.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: s.db, AccessMode: mode})
	defer sess.Close(context.Background())
	work := func(tx neo4j.ManagedTransaction) (any, error) { return nil, fn(tx) }
	var err error
	if mode == neo4j.AccessModeWrite {
		_, err = sess.ExecuteWrite(ctx, work, txConfig...)
	} else {
		_, err = sess.ExecuteRead(ctx, work, txConfig...)
	}
	if err != nil {
		return s.fail(ctx, op, err)
	}
	return nil
}

// fail translates err at the boundary: domain errors pass through, a
// uniqueness constraint becomes ECONFLICT, an unreachable or overloaded
// server EUNAVAILABLE, anything else is wrapped with the operation.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	var de *contextd.Error
	if errors.As(err, &de) {
		return err
	}
	if s.isClosed() {
		return errClosed
	}
	var ne *neo4j.Neo4jError
	if errors.As(err, &ne) {
		switch {
		case ne.Code == "Neo.ClientError.Schema.ConstraintValidationFailed":
			return &wrapped{code: contextd.ECONFLICT, msg: op + ": already exists", err: fmt.Errorf("neo4j: %s: %w", op, err)}
		case strings.HasPrefix(ne.Code, "Neo.TransientError."), ne.Code == "Neo.ClientError.Database.DatabaseNotFound",
			strings.HasPrefix(ne.Code, "Neo.ClientError.Transaction.TransactionTimedOut"),
			strings.HasPrefix(ne.Code, "Neo.ClientError.Cluster."):
			return &wrapped{code: contextd.EUNAVAILABLE, msg: "Neo4j is busy or unavailable, retry", err: fmt.Errorf("neo4j: %s: %w", op, err)}
		}
	}
	var (
		ce *neo4j.ConnectivityError
		le *neo4j.TransactionExecutionLimit
	)
	if errors.Is(err, context.DeadlineExceeded) {
		return &wrapped{code: contextd.EUNAVAILABLE, msg: "Neo4j did not answer in time", err: fmt.Errorf("neo4j: %s: %w", op, err)}
	}
	if errors.As(err, &ce) || errors.As(err, &le) {
		return &wrapped{code: contextd.EUNAVAILABLE, msg: "Neo4j is not reachable", err: fmt.Errorf("neo4j: %s: %w", op, err)}
	}
	if c := ctx.Err(); c != nil && !errors.Is(err, c) {
		err = fmt.Errorf("%w (%w)", c, err)
	}
	return fmt.Errorf("neo4j: %s: %w", op, err)
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

// params is a Cypher parameter map.
type params = map[string]any

// collect runs a query and returns its records as maps of column → value.
func collect(ctx context.Context, tx neo4j.ManagedTransaction, cypher string, p params) ([]map[string]any, error) {
	res, err := tx.Run(ctx, cypher, p)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for res.Next(ctx) {
		out = append(out, res.Record().AsMap())
	}
	return out, res.Err()
}

// single runs a query and returns its only record, or nil when it has none.
func single(ctx context.Context, tx neo4j.ManagedTransaction, cypher string, p params) (map[string]any, error) {
	rows, err := collect(ctx, tx, cypher, p)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return rows[0], nil
}

// exec runs a query and drops its records.
func exec(ctx context.Context, tx neo4j.ManagedTransaction, cypher string, p params) error {
	res, err := tx.Run(ctx, cypher, p)
	if err != nil {
		return err
	}
	_, err = res.Consume(ctx)
	return err
}
