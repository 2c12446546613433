package contextd

import (
	"context"
	"time"
)

// Store is the persistence of contextd. Every data method takes the Scope of
// the caller and must never read, count, list, search, traverse or link data
// outside it: such data answers ENOTFOUND exactly like missing data. Inputs
// reach the store already normalized (Normalize/Validate called), but stores
// re-check what they rely on. Writes are durable when the method returns nil.
//
// Methods return *Error codes: EINVALID, ENOTFOUND, ECONFLICT, EPRECONDITION,
// EFORBIDDEN (a uid-bound scope writing another user's data) and EUNAVAILABLE;
// anything else is internal.
type Store interface {
	ContextStore
	MemoryStore
	SessionStore
	KeyStore
	AuditStore
	IdempotencyStore

	// Ping checks that the store can serve reads and writes.
	Ping(ctx context.Context) error
	// Kind names the backend ("sqlite", "neo4j").
	Kind() string
	// Close flushes and releases everything; the store is unusable afterwards.
	Close() error
}

// ContextStore keeps contexts, their relationships and the full-text index.
type ContextStore interface {
	// CreateContexts stores the items in one transaction, all or nothing, with
	// their inline relationships (sources set to the new context). A taken id
	// is ECONFLICT; a relationship target outside the scope is ENOTFOUND.
	// Item errors carry the index in their field locations ("items[3]...").
	// A sessionId that names no session creates it, as a memory write does.
	CreateContexts(ctx context.Context, s Scope, items []ContextCreate) ([]*Context, error)
	// GetContext returns a context with its relationships in both directions.
	GetContext(ctx context.Context, s Scope, id string) (*Context, error)
	// FindContexts lists contexts matching f and the cursor of the next page
	// ("" when there is none). Relationships are filled.
	FindContexts(ctx context.Context, s Scope, f ContextFilter) ([]*Context, string, error)
	// UpdateContext applies u, bumps version and updatedAt, and returns the new state.
	UpdateContext(ctx context.Context, s Scope, id string, u ContextUpdate) (*Context, error)
	// DeleteContext removes a context and every relationship touching it.
	DeleteContext(ctx context.Context, s Scope, id string) error

	// CreateRelationship links two contexts of the scope. ENOTFOUND when either
	// end is outside it; ECONFLICT for a duplicate (source, target, type) or a
	// CONTAINS edge that would close a cycle (a self-loop included).
	CreateRelationship(ctx context.Context, s Scope, r RelationshipCreate) (*Relationship, error)
	// FindRelationships lists the edges of one context (ENOTFOUND if it is not visible).
	FindRelationships(ctx context.Context, s Scope, f RelationshipFilter) ([]*Relationship, error)
	// DeleteRelationship removes one edge.
	DeleteRelationship(ctx context.Context, s Scope, id string) error
	// Graph walks the graph from q.RootID breadth first.
	Graph(ctx context.Context, s Scope, q GraphQuery) (*Graph, error)

	// SearchContexts runs a full-text query with filters and facets. A store
	// without semantic search answers EINVALID for other modes.
	SearchContexts(ctx context.Context, s Scope, q SearchQuery) (*SearchResult, error)
	// IndexStats describes the scope's searchable data.
	IndexStats(ctx context.Context, s Scope) (*IndexStats, error)
}

// MemoryStore keeps memories and creates sessions as memories arrive.
type MemoryStore interface {
	// CreateMemories stores the items in one transaction, all or nothing,
	// creating unknown sessions and moving lastActiveAt of each session touched.
	CreateMemories(ctx context.Context, s Scope, items []MemoryCreate) ([]*Memory, error)
	// GetMemory returns a live (unexpired) memory.
	GetMemory(ctx context.Context, s Scope, id string) (*Memory, error)
	// FindMemories lists live memories matching f.
	FindMemories(ctx context.Context, s Scope, f MemoryFilter) ([]*Memory, string, error)
	// UpdateMemory applies u and moves the session's lastActiveAt.
	UpdateMemory(ctx context.Context, s Scope, id string, u MemoryUpdate) (*Memory, error)
	// DeleteMemory removes one memory.
	DeleteMemory(ctx context.Context, s Scope, id string) error
	// SearchMemories ranks live memories by the MemorySearch formula.
	SearchMemories(ctx context.Context, s Scope, q MemorySearch) ([]*MemoryHit, error)
}

// SessionStore keeps sessions.
type SessionStore interface {
	// CreateSession stores a new session (ECONFLICT if the id is taken).
	CreateSession(ctx context.Context, s Scope, c SessionCreate) (*Session, error)
	// GetSession returns a session with its memory and context counts.
	GetSession(ctx context.Context, s Scope, id string) (*Session, error)
	// FindSessions lists sessions, newest first unless f.Ascending.
	FindSessions(ctx context.Context, s Scope, f SessionFilter) ([]*Session, string, error)
	// DeleteSession removes a session and its memories; its contexts stay
	// untouched (they keep their sessionId).
	DeleteSession(ctx context.Context, s Scope, id string) error
}

// KeyStore keeps API keys (as hashes) and tenants. These methods are not
// scoped by a principal: callers (the authenticator, the admin routes, the
// CLI) apply the tenant themselves.
type KeyStore interface {
	// CreateAPIKey stores k with the hash of its secret, creating its tenant if new.
	CreateAPIKey(ctx context.Context, k *APIKey, hash string) error
	// APIKeyByHash returns the key with that hash, revoked or not (ENOTFOUND if none).
	APIKeyByHash(ctx context.Context, hash string) (*APIKey, error)
	// FindAPIKeys lists the keys of a tenant ("" for every tenant), newest first.
	FindAPIKeys(ctx context.Context, tenant string) ([]*APIKey, error)
	// RevokeAPIKey marks a key revoked at time at; tenant "" matches any tenant.
	// ENOTFOUND when no such key is in the tenant.
	RevokeAPIKey(ctx context.Context, tenant, id string, at time.Time) error
	// CountAPIKeys counts every key of every tenant, revoked ones included.
	CountAPIKeys(ctx context.Context) (int, error)
	// APIKeyGeneration returns a counter that changes in the same
	// transaction as every key create, revoke and import, seen by every
	// process sharing the store: a cached key lookup is valid while it
	// holds. It must be cheap (one point read).
	APIKeyGeneration(ctx context.Context) (int64, error)
	// TouchAPIKey sets a key's LastUsedAt to at unless it is later already.
	// ENOTFOUND is not reported (a deleted key is simply not touched).
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
}
