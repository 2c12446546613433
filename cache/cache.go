// Package cache is contextd's read cache: a contextd.Store decorator that
// answers hot reads (contexts, context lists, relationships, graphs, search
// results, sessions) from memory, in-process (NewMemory) or shared by every
// replica through Redis (NewRedis), and never answers with data older than
// the last acknowledged write.
//
// # Why it is never stale: versioned keys
//
// Every entry is stored under its tenant's generation, a counter that every
// write of the tenant moves twice: once before the write reaches the store
// (BeginWrite) and once after (EndWrite). While a write is in flight
// (between the two) the tenant's "writing" count is above zero and no reader
// may fill the cache; a reader fills only when the generation it read before
// going to the store is still the current one and no write is in flight (one
// atomic step: a Lua script in Redis, a mutex in memory). So:
//
//   - an entry filled before a write lives under an older generation, which
//     no read after the write's BeginWrite looks at;
//   - a reader that loaded from the store while a write was in flight cannot
//     fill (the count is above zero, or EndWrite moved the generation);
//   - a write is acknowledged only after its BeginWrite succeeded, so every
//     read that starts after the acknowledgement, on any replica sharing the
//     Redis, looks under a newer generation than any entry holding older data.
//
// The generation is per tenant: a write invalidates every cached read of its
// tenant, and only of its tenant. That is coarse on purpose: a new
// relationship changes two contexts, a memory changes its session's counts,
// any write may change a search's totals and facets; per-tenant versions keep
// the rule simple enough to be obviously right.
//
// Sessions count live memories, which change with time, not only with
// writes: BeginWrite also records the earliest memory expiry of the tenant,
// and session reads bypass the cache once that time has come.
//
// # Failure: fall back to the store, never stale
//
// When Redis cannot be reached, reads go to the store uncached (counted as
// "error" in the metrics). Writes are refused with EUNAVAILABLE before they
// reach the store, because a write whose generation bump never reached Redis
// could leave other replicas serving older data from Redis once it is back:
// with CACHE=redis a Redis outage makes contextd read-only, never stale (run
// CACHE=off where writes must outlive Redis). An EndWrite that fails leaves
// the tenant's writing count up: nobody fills its cache until the count's
// lease (Options.WriteLease) runs out, which is longer than any request.
// Redis losing keys (a restart, an eviction) starts a tenant at a new
// generation taken from Redis's clock, above every earlier one.
//
// Keys: every entry key holds the tenant (in its generation) and the hash of
// the operation, the caller's user id (uid-bound credentials see only their
// own data, so their reads are cached apart) and the arguments. The in-memory
// backend is for one process (the embedded store, or a single contextd on
// Neo4j); several replicas must share Redis or run without a cache.
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/contextd/contextd"
)

// Backend keeps generations and entries. Tenants are opaque strings.
type Backend interface {
	// Lookup returns the tenant's generation, the earliest expiry of its
	// memories (zero when none is known), and the entry stored under key at
	// that generation (nil when there is none).
	Lookup(ctx context.Context, tenant, key string) (gen string, expiry time.Time, val []byte, err error)
	// Fill stores val under key at gen, unless gen is no longer the tenant's
	// generation or a write of the tenant is in flight. It reports whether
	// it stored.
	Fill(ctx context.Context, tenant, key, gen string, val []byte, ttl time.Duration) (bool, error)
	// BeginWrite moves the tenant's generation, counts a write in flight and,
	// when expiry is not zero, lowers the tenant's earliest memory expiry to it.
	BeginWrite(ctx context.Context, tenant string, expiry time.Time) error
	// EndWrite moves the tenant's generation again and uncounts the write.
	EndWrite(ctx context.Context, tenant string) error
	// Ping checks that the backend answers.
	Ping(ctx context.Context) error
	// Close releases the backend.
	Close() error
}

// Recorder receives the outcome of each cacheable read: "hit", "miss" (the
// store answered and the entry was filled or could not be), "bypass" (not
// cacheable now: memories of the tenant expired since) or "error" (the
// backend failed; the store answered).
type Recorder interface {
	CacheResult(op, result string)
}

// Options configure Wrap.
type Options struct {
	// TTL is the lifetime of an entry; 0 means 5 minutes.
	TTL time.Duration
	// Now is the clock that memory expiry is compared with; nil means
	// time.Now. It must be the store's clock.
	Now func() time.Time
	// Recorder receives hits and misses; nil records nothing.
	Recorder Recorder
	// Logger receives backend failures; nil means slog.Default().
	Logger *slog.Logger
}

// Store is a contextd.Store that answers reads from a Backend.
type Store struct {
	contextd.Store
	b   Backend
	ttl time.Duration
	now func() time.Time
	rec Recorder
	log *slog.Logger
}

var (
	_ contextd.Store          = (*Store)(nil)
	_ contextd.StoreUnwrapper = (*Store)(nil)
)

// Wrap puts the cache b in front of s. Close closes s and b.
func Wrap(s contextd.Store, b Backend, opts Options) *Store {
	c := &Store{Store: s, b: b, ttl: opts.TTL, now: opts.Now, rec: opts.Recorder, log: opts.Logger}
	if c.ttl <= 0 {
		c.ttl = 5 * time.Minute
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("component", "cache")
	return c
}

// Unwrap implements contextd.StoreUnwrapper.
func (c *Store) Unwrap() contextd.Store { return c.Store }

// Backend returns the cache's backend (for a readiness check).
func (c *Store) Backend() Backend { return c.b }

// Close closes the store and the backend.
func (c *Store) Close() error {
	return errors.Join(c.Store.Close(), c.b.Close())
}

// errBackend is what a write answers when the cache cannot be invalidated.
var errBackend = contextd.Errorf(contextd.EUNAVAILABLE, "the shared cache is unreachable; nothing was written, retry")

func (c *Store) record(op, result string) {
	if c.rec != nil {
		c.rec.CacheResult(op, result)
	}
}

// key is the entry key of one read: the operation, the caller's user id and
// the arguments, hashed. The tenant is the backend's namespace of the key.
func key(op string, sc contextd.Scope, args ...any) (string, error) {
	b, err := json.Marshal(append([]any{op, sc.UserID}, args...))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return op + ":" + hex.EncodeToString(sum[:16]), nil
}

// read answers a cacheable read: from the backend at the tenant's current
// generation, or from load, filling the backend. timed reads (live-memory
// counts) bypass the cache once a memory of the tenant may have expired.
func read[T any](ctx context.Context, c *Store, op string, sc contextd.Scope, timed bool, load func() (T, error), args ...any) (T, error) {
	k, err := key(op, sc, args...)
	if err != nil {
		return load()
	}
	gen, expiry, val, err := c.b.Lookup(ctx, sc.Tenant, k)
	if err != nil {
		c.log.Warn("cache lookup failed; reading the store", "op", op, "err", err)
		c.record(op, "error")
		return load()
	}
	if timed && !expiry.IsZero() && !c.now().Before(expiry) {
		c.record(op, "bypass")
		return load()
	}
	if val != nil {
		var out T
		if err := json.Unmarshal(val, &out); err == nil {
			c.record(op, "hit")
			return out, nil
		}
	}
	c.record(op, "miss")
	out, err := load()
	if err != nil {
		return out, err
	}
	b, err := json.Marshal(out)
	if err != nil {
		return out, nil
	}
	if _, err := c.b.Fill(ctx, sc.Tenant, k, gen, b, c.ttl); err != nil {
		c.log.Warn("cache fill failed", "op", op, "err", err)
	}
	return out, nil
}

// write runs fn between BeginWrite and EndWrite of the tenant.
func (c *Store) write(ctx context.Context, tenant string, expiry time.Time, fn func() error) error {
	if err := c.b.BeginWrite(ctx, tenant, expiry); err != nil {
		c.log.Error("cache invalidation failed; refusing the write", "err", err)
		return fmt.Errorf("%w (%w)", errBackend, err)
	}
	err := fn()
	// The store may have committed even when ctx is done: end regardless.
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if eerr := c.b.EndWrite(ectx, tenant); eerr != nil {
		c.log.Error("cache: ending a write failed; the tenant is not cached until its write lease runs out", "err", eerr)
	}
	return err
}

// hitTime is the TookMs of a search answered from the cache.
func hitTime(start time.Time) float64 {
	return float64(time.Since(start).Microseconds()) / 1000
}

// CreateContexts implements contextd.ContextStore.
func (c *Store) CreateContexts(ctx context.Context, sc contextd.Scope, items []contextd.ContextCreate) (out []*contextd.Context, err error) {
	err = c.write(ctx, sc.Tenant, time.Time{}, func() error {
		out, err = c.Store.CreateContexts(ctx, sc, items)
		return err
	})
	return out, err
}

// GetContext implements contextd.ContextStore.
func (c *Store) GetContext(ctx context.Context, sc contextd.Scope, id string) (*contextd.Context, error) {
	return read(ctx, c, "get_context", sc, false, func() (*contextd.Context, error) { return c.Store.GetContext(ctx, sc, id) }, id)
}

// contextPage is a page of FindContexts, as cached.
type contextPage struct {
	Items []*contextd.Context `json:"items"`
	Next  string              `json:"next"`
}

// FindContexts implements contextd.ContextStore.
func (c *Store) FindContexts(ctx context.Context, sc contextd.Scope, f contextd.ContextFilter) ([]*contextd.Context, string, error) {
	p, err := read(ctx, c, "find_contexts", sc, false, func() (contextPage, error) {
		items, next, err := c.Store.FindContexts(ctx, sc, f)
		return contextPage{items, next}, err
	}, f)
	return p.Items, p.Next, err
}

// UpdateContext implements contextd.ContextStore.
func (c *Store) UpdateContext(ctx context.Context, sc contextd.Scope, id string, u contextd.ContextUpdate) (out *contextd.Context, err error) {
	err = c.write(ctx, sc.Tenant, time.Time{}, func() error {
		out, err = c.Store.UpdateContext(ctx, sc, id, u)
		return err
	})
	return out, err
}

// DeleteContext implements contextd.ContextStore.
func (c *Store) DeleteContext(ctx context.Context, sc contextd.Scope, id string) error {
	return c.write(ctx, sc.Tenant, time.Time{}, func() error { return c.Store.DeleteContext(ctx, sc, id) })
}

// CreateRelationship implements contextd.ContextStore.
func (c *Store) CreateRelationship(ctx context.Context, sc contextd.Scope, r contextd.RelationshipCreate) (out *contextd.Relationship, err error) {
	err = c.write(ctx, sc.Tenant, time.Time{}, func() error {
		out, err = c.Store.CreateRelationship(ctx, sc, r)
		return err
	})
	return out, err
}

// FindRelationships implements contextd.ContextStore.
func (c *Store) FindRelationships(ctx context.Context, sc contextd.Scope, f contextd.RelationshipFilter) ([]*contextd.Relationship, error) {
	return read(ctx, c, "find_relationships", sc, false, func() ([]*contextd.Relationship, error) {
		return c.Store.FindRelationships(ctx, sc, f)
	}, f)
}

// DeleteRelationship implements contextd.ContextStore.
func (c *Store) DeleteRelationship(ctx context.Context, sc contextd.Scope, id string) error {
	return c.write(ctx, sc.Tenant, time.Time{}, func() error { return c.Store.DeleteRelationship(ctx, sc, id) })
}

// Graph implements contextd.ContextStore.
func (c *Store) Graph(ctx context.Context, sc contextd.Scope, q contextd.GraphQuery) (*contextd.Graph, error) {
	return read(ctx, c, "graph", sc, false, func() (*contextd.Graph, error) { return c.Store.Graph(ctx, sc, q) }, q)
}

// SearchContexts implements contextd.ContextStore.
func (c *Store) SearchContexts(ctx context.Context, sc contextd.Scope, q contextd.SearchQuery) (*contextd.SearchResult, error) {
	start := time.Now()
	hit := true
	out, err := read(ctx, c, "search_contexts", sc, false, func() (*contextd.SearchResult, error) {
		hit = false
		return c.Store.SearchContexts(ctx, sc, q)
	}, q)
	if err == nil && hit && out != nil {
		out.TookMs = hitTime(start)
	}
	return out, err
}

// CreateMemories implements contextd.MemoryStore.
func (c *Store) CreateMemories(ctx context.Context, sc contextd.Scope, items []contextd.MemoryCreate) (out []*contextd.Memory, err error) {
	var expiry time.Time
	for _, m := range items {
		if m.ExpiresAt != nil && (expiry.IsZero() || m.ExpiresAt.Before(expiry)) {
			expiry = *m.ExpiresAt
		}
	}
	err = c.write(ctx, sc.Tenant, expiry, func() error {
		out, err = c.Store.CreateMemories(ctx, sc, items)
		return err
	})
	return out, err
}

// UpdateMemory implements contextd.MemoryStore.
func (c *Store) UpdateMemory(ctx context.Context, sc contextd.Scope, id string, u contextd.MemoryUpdate) (out *contextd.Memory, err error) {
	var expiry time.Time
	if u.ExpiresAt != nil && *u.ExpiresAt != nil {
		expiry = **u.ExpiresAt
	}
	err = c.write(ctx, sc.Tenant, expiry, func() error {
		out, err = c.Store.UpdateMemory(ctx, sc, id, u)
		return err
	})
	return out, err
}

// DeleteMemory implements contextd.MemoryStore.
func (c *Store) DeleteMemory(ctx context.Context, sc contextd.Scope, id string) error {
	return c.write(ctx, sc.Tenant, time.Time{}, func() error { return c.Store.DeleteMemory(ctx, sc, id) })
}

// CreateSession implements contextd.SessionStore.
func (c *Store) CreateSession(ctx context.Context, sc contextd.Scope, s contextd.SessionCreate) (out *contextd.Session, err error) {
	err = c.write(ctx, sc.Tenant, time.Time{}, func() error {
		out, err = c.Store.CreateSession(ctx, sc, s)
		return err
	})
	return out, err
}

// GetSession implements contextd.SessionStore.
func (c *Store) GetSession(ctx context.Context, sc contextd.Scope, id string) (*contextd.Session, error) {
	return read(ctx, c, "get_session", sc, true, func() (*contextd.Session, error) { return c.Store.GetSession(ctx, sc, id) }, id)
}

// sessionPage is a page of FindSessions, as cached.
type sessionPage struct {
	Items []*contextd.Session `json:"items"`
	Next  string              `json:"next"`
}

// FindSessions implements contextd.SessionStore.
func (c *Store) FindSessions(ctx context.Context, sc contextd.Scope, f contextd.SessionFilter) ([]*contextd.Session, string, error) {
	p, err := read(ctx, c, "find_sessions", sc, true, func() (sessionPage, error) {
		items, next, err := c.Store.FindSessions(ctx, sc, f)
		return sessionPage{items, next}, err
	}, f)
	return p.Items, p.Next, err
}

// DeleteSession implements contextd.SessionStore.
func (c *Store) DeleteSession(ctx context.Context, sc contextd.Scope, id string) error {
	return c.write(ctx, sc.Tenant, time.Time{}, func() error { return c.Store.DeleteSession(ctx, sc, id) })
}
