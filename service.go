package contextd

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Service is the one application layer that HTTP and MCP both call. It checks
// the principal's role, fills defaults from the principal, validates input,
// and keeps search statistics; the Store enforces the tenant wall.
type Service struct {
	Store    Store
	Now      func() time.Time // the clock; time.Now when nil
	Embedder Embedder         // vectors for semantic search; nil: off (see SetEmbedder)
	// Templates, when non-nil, give new contexts their type's default tags
	// and status and validate metadata against the type's schema.
	Templates Templates
	// Hybrid holds the parameters of hybrid search (fusion, neighbour
	// expansion); the zero value means DefaultHybridTuning().
	Hybrid HybridTuning

	statsMu sync.Mutex
	stats   map[string]*queryStats // per tenant

	keys keyCache // API key lookups (keycache.go)
}

// NewService returns a Service over store.
func NewService(store Store) *Service {
	return &Service{Store: store, Now: time.Now, stats: map[string]*queryStats{}}
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

// MaxBatchItems bounds a batch create.
const MaxBatchItems = 1000

// CreateContexts validates and stores items in one transaction, all or nothing.
// Field locations are prefixed with prefix ("body" for one, "body.items" for a batch).
func (s *Service) CreateContexts(ctx context.Context, p *Principal, items []ContextCreate, batch bool) ([]*Context, error) {
	if err := p.Need(PermContextsWrite); err != nil {
		return nil, err
	}
	if len(items) == 0 || len(items) > MaxBatchItems {
		return nil, Invalid("body.items", "must hold 1..%d items", MaxBatchItems)
	}
	for i := range items {
		loc := "body"
		if batch {
			loc = "body.items[" + itoa(i) + "]"
		}
		if err := s.fillUser(p, &items[i].UserID, loc+".userId"); err != nil {
			return nil, err
		}
		s.applyTemplate(&items[i])
		if err := items[i].Normalize(loc); err != nil {
			return nil, err
		}
		if s.Templates != nil {
			if err := s.Templates.CheckMetadata(items[i].Type, items[i].Metadata, loc+".metadata"); err != nil {
				return nil, err
			}
		}
	}
	if err := s.embedContexts(ctx, items); err != nil {
		return nil, err
	}
	return s.Store.CreateContexts(ctx, p.Scope(), items)
}

// fillUser defaults *uid to the principal's user and refuses another user for
// a uid-bound principal.
func (s *Service) fillUser(p *Principal, uid *string, loc string) error {
	if *uid == "" {
		*uid = p.DefaultUserID()
		return nil
	}
	return p.Scope().CheckUser(*uid, loc)
}

// GetContext returns one context.
func (s *Service) GetContext(ctx context.Context, p *Principal, id string) (*Context, error) {
	if err := p.Need(PermContextsRead); err != nil {
		return nil, err
	}
	return s.Store.GetContext(ctx, p.Scope(), id)
}

// FindContexts lists contexts.
func (s *Service) FindContexts(ctx context.Context, p *Principal, f ContextFilter) ([]*Context, string, error) {
	if err := p.Need(PermContextsRead); err != nil {
		return nil, "", err
	}
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	return s.Store.FindContexts(ctx, p.Scope(), f)
}

// UpdateContext changes a context.
func (s *Service) UpdateContext(ctx context.Context, p *Principal, id string, u ContextUpdate) (*Context, error) {
	if err := p.Need(PermContextsWrite); err != nil {
		return nil, err
	}
	if err := u.Validate("body"); err != nil {
		return nil, err
	}
	if err := s.checkTemplateUpdate(ctx, p, id, u); err != nil {
		return nil, err
	}
	return s.updateContext(ctx, p, id, u)
}

// DeleteContext removes a context and its relationships.
func (s *Service) DeleteContext(ctx context.Context, p *Principal, id string) error {
	if err := p.Need(PermContextsWrite); err != nil {
		return err
	}
	return s.Store.DeleteContext(ctx, p.Scope(), id)
}

// CreateRelationship links two contexts.
func (s *Service) CreateRelationship(ctx context.Context, p *Principal, r RelationshipCreate) (*Relationship, error) {
	if err := p.Need(PermContextsWrite); err != nil {
		return nil, err
	}
	if err := r.Normalize("body"); err != nil {
		return nil, err
	}
	return s.Store.CreateRelationship(ctx, p.Scope(), r)
}

// FindRelationships lists the edges of a context.
func (s *Service) FindRelationships(ctx context.Context, p *Principal, f RelationshipFilter) ([]*Relationship, error) {
	if err := p.Need(PermContextsRead); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return s.Store.FindRelationships(ctx, p.Scope(), f)
}

// DeleteRelationship removes an edge.
func (s *Service) DeleteRelationship(ctx context.Context, p *Principal, id string) error {
	if err := p.Need(PermContextsWrite); err != nil {
		return err
	}
	return s.Store.DeleteRelationship(ctx, p.Scope(), id)
}

// Graph walks the graph around a context.
func (s *Service) Graph(ctx context.Context, p *Principal, q GraphQuery) (*Graph, error) {
	if err := p.Need(PermContextsRead); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return s.Store.Graph(ctx, p.Scope(), q)
}

// Search runs a search over the principal's contexts and records its latency.
func (s *Service) Search(ctx context.Context, p *Principal, q SearchQuery) (*SearchResult, error) {
	if err := p.Need(PermSearch); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	var (
		res *SearchResult
		err error
	)
	if q.Mode == ModeFulltext {
		res, err = s.Store.SearchContexts(ctx, p.Scope(), q)
	} else {
		res, err = s.searchVectors(ctx, p, q)
	}
	took := time.Since(start)
	if err != nil {
		return nil, err
	}
	res.TookMs = float64(took.Microseconds()) / 1000
	s.record(p.Tenant, took)
	return res, nil
}

// SearchStats describes a tenant's search index and recent queries.
type SearchStats struct {
	IndexStats
	Queries int64        `json:"queries"` // searches served since the process started
	Latency LatencyStats `json:"latency"` // over the last 1,024 searches
}

// LatencyStats summarises recent latencies in milliseconds.
type LatencyStats struct {
	AvgMs float64 `json:"avgMs"`
	P50Ms float64 `json:"p50Ms"`
	P95Ms float64 `json:"p95Ms"`
	P99Ms float64 `json:"p99Ms"`
	MaxMs float64 `json:"maxMs"`
}

// SearchStats returns the tenant's index statistics and query latencies.
func (s *Service) SearchStats(ctx context.Context, p *Principal) (*SearchStats, error) {
	if err := p.Need(PermSearch); err != nil {
		return nil, err
	}
	is, err := s.Store.IndexStats(ctx, p.Scope())
	if err != nil {
		return nil, err
	}
	out := &SearchStats{IndexStats: *is}
	s.statsMu.Lock()
	if st := s.stats[p.Tenant]; st != nil {
		out.Queries = st.count
		out.Latency = st.summary()
	}
	s.statsMu.Unlock()
	return out, nil
}

const statsWindow = 1024

type queryStats struct {
	count int64
	ring  [statsWindow]time.Duration
}

func (s *Service) record(tenant string, d time.Duration) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if s.stats == nil {
		s.stats = map[string]*queryStats{}
	}
	st := s.stats[tenant]
	if st == nil {
		st = &queryStats{}
		s.stats[tenant] = st
	}
	st.ring[st.count%statsWindow] = d
	st.count++
}

func (st *queryStats) summary() LatencyStats {
	n := min(int(st.count), statsWindow)
	if n == 0 {
		return LatencyStats{}
	}
	d := slices.Clone(st.ring[:n])
	slices.Sort(d)
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	q := func(f float64) float64 { return ms(d[min(n-1, int(f*float64(n)))]) }
	return LatencyStats{AvgMs: ms(sum / time.Duration(n)), P50Ms: q(0.50), P95Ms: q(0.95), P99Ms: q(0.99), MaxMs: ms(d[n-1])}
}

// CreateMemories validates and stores memories, all or nothing.
func (s *Service) CreateMemories(ctx context.Context, p *Principal, items []MemoryCreate, batch bool) ([]*Memory, error) {
	if err := p.Need(PermMemoriesWrite); err != nil {
		return nil, err
	}
	if len(items) == 0 || len(items) > MaxBatchItems {
		return nil, Invalid("body.items", "must hold 1..%d items", MaxBatchItems)
	}
	now := s.now()
	for i := range items {
		loc := "body"
		if batch {
			loc = "body.items[" + itoa(i) + "]"
		}
		if err := s.fillUser(p, &items[i].UserID, loc+".userId"); err != nil {
			return nil, err
		}
		if err := items[i].Normalize(loc, now); err != nil {
			return nil, err
		}
	}
	if err := s.embedMemories(ctx, items); err != nil {
		return nil, err
	}
	return s.Store.CreateMemories(ctx, p.Scope(), items)
}

// GetMemory returns one live memory.
func (s *Service) GetMemory(ctx context.Context, p *Principal, id string) (*Memory, error) {
	if err := p.Need(PermMemoriesRead); err != nil {
		return nil, err
	}
	return s.Store.GetMemory(ctx, p.Scope(), id)
}

// FindMemories lists live memories.
func (s *Service) FindMemories(ctx context.Context, p *Principal, f MemoryFilter) ([]*Memory, string, error) {
	if err := p.Need(PermMemoriesRead); err != nil {
		return nil, "", err
	}
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	return s.Store.FindMemories(ctx, p.Scope(), f)
}

// UpdateMemory changes a memory.
func (s *Service) UpdateMemory(ctx context.Context, p *Principal, id string, u MemoryUpdate) (*Memory, error) {
	if err := p.Need(PermMemoriesWrite); err != nil {
		return nil, err
	}
	if err := u.Validate("body"); err != nil {
		return nil, err
	}
	if err := s.embedMemoryUpdate(ctx, &u); err != nil {
		return nil, err
	}
	return s.Store.UpdateMemory(ctx, p.Scope(), id, u)
}

// DeleteMemory removes a memory.
func (s *Service) DeleteMemory(ctx context.Context, p *Principal, id string) error {
	if err := p.Need(PermMemoriesWrite); err != nil {
		return err
	}
	return s.Store.DeleteMemory(ctx, p.Scope(), id)
}

// SearchMemories ranks memories for a query.
func (s *Service) SearchMemories(ctx context.Context, p *Principal, q MemorySearch) ([]*MemoryHit, error) {
	if err := p.Need(PermMemoriesRead); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if q.Mode != ModeFulltext {
		return s.searchMemoryVectors(ctx, p, q)
	}
	return s.Store.SearchMemories(ctx, p.Scope(), q)
}

// CreateSession stores a new session.
func (s *Service) CreateSession(ctx context.Context, p *Principal, c SessionCreate) (*Session, error) {
	if err := p.Need(PermMemoriesWrite); err != nil {
		return nil, err
	}
	if err := s.fillUser(p, &c.UserID, "body.userId"); err != nil {
		return nil, err
	}
	if err := c.Normalize("body"); err != nil {
		return nil, err
	}
	return s.Store.CreateSession(ctx, p.Scope(), c)
}

// GetSession returns a session.
func (s *Service) GetSession(ctx context.Context, p *Principal, id string) (*Session, error) {
	if err := p.Need(PermMemoriesRead); err != nil {
		return nil, err
	}
	return s.Store.GetSession(ctx, p.Scope(), id)
}

// FindSessions lists sessions.
func (s *Service) FindSessions(ctx context.Context, p *Principal, f SessionFilter) ([]*Session, string, error) {
	if err := p.Need(PermMemoriesRead); err != nil {
		return nil, "", err
	}
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	return s.Store.FindSessions(ctx, p.Scope(), f)
}

// DeleteSession removes a session and its memories.
func (s *Service) DeleteSession(ctx context.Context, p *Principal, id string) error {
	if err := p.Need(PermMemoriesWrite); err != nil {
		return err
	}
	return s.Store.DeleteSession(ctx, p.Scope(), id)
}

// SessionMemories lists the memories of an existing session.
func (s *Service) SessionMemories(ctx context.Context, p *Principal, id string, f MemoryFilter) ([]*Memory, string, error) {
	if _, err := s.GetSession(ctx, p, id); err != nil {
		return nil, "", err
	}
	f.SessionID = id
	return s.FindMemories(ctx, p, f)
}

// SessionContexts lists the contexts of an existing session.
func (s *Service) SessionContexts(ctx context.Context, p *Principal, id string, f ContextFilter) ([]*Context, string, error) {
	if _, err := s.GetSession(ctx, p, id); err != nil {
		return nil, "", err
	}
	f.SessionID = id
	return s.FindContexts(ctx, p, f)
}

// KeyCreate describes a new API key.
type KeyCreate struct {
	Tenant    string
	Role      Role
	Name      string
	UserID    string
	ExpiresIn time.Duration // 0: never expires
	Scopes    []Permission  // narrows the role's permissions; nil: all of them
	By        string        // who makes it, for the audit trail (AuditPrincipal); "" means "cli"
}

// NewAPIKey makes and stores a key without any principal check (for the CLI
// and the first-run bootstrap). It returns the record and the key, which is
// shown once and never stored.
func (s *Service) NewAPIKey(ctx context.Context, c KeyCreate) (*APIKey, string, error) {
	var v validation
	if !ValidTenant(c.Tenant) {
		v.add("tenant", "must be 1..128 characters of letters, digits and _.@:~-")
	}
	if !c.Role.Valid() {
		v.add("role", "must be reader, writer or admin")
	}
	if c.UserID != "" && !identRe.MatchString(c.UserID) {
		v.add("uid", "must be 1..128 characters of letters, digits and _.@:~-")
	}
	if c.Name != "" && !identRe.MatchString(c.Name) {
		v.add("name", "must be 1..128 characters of letters, digits and _.@:~- (it is the default userId of the data the key writes)")
	}
	if c.ExpiresIn < 0 {
		v.add("expires", "must be positive")
	}
	if err := v.err(); err != nil {
		return nil, "", err
	}
	scopes, err := NormalizePermissions(c.Scopes, "scopes")
	if err != nil {
		return nil, "", err
	}
	if err := CheckPermissions(c.Role, scopes, "scopes"); err != nil {
		return nil, "", err
	}
	now := s.now()
	secret, hash := NewAPIKeySecret()
	k := &APIKey{ID: NewID(now), Tenant: c.Tenant, Role: c.Role, Name: c.Name, UserID: c.UserID,
		Prefix: secret[:len(APIKeyPrefix)+6], CreatedAt: now, Scopes: scopes}
	if k.Name == "" {
		k.Name = "key-" + k.ID[len(k.ID)-6:]
	}
	if c.ExpiresIn > 0 {
		t := now.Add(c.ExpiresIn)
		k.ExpiresAt = &t
	}
	if err := s.Store.CreateAPIKey(ctx, k, hash); err != nil {
		return nil, "", err
	}
	by := c.By
	if by == "" {
		by = "cli"
	}
	detail := map[string]any{"role": k.Role, "name": k.Name, "prefix": k.Prefix}
	if k.UserID != "" {
		detail["uid"] = k.UserID
	}
	if len(k.Scopes) > 0 {
		detail["scopes"] = JoinPermissions(k.Scopes, " ")
	}
	if k.ExpiresAt != nil {
		detail["expiresAt"] = k.ExpiresAt
	}
	if err := s.Audit(ctx, k.Tenant, by, AuditKeyCreated, k.ID, detail); err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// CreateAPIKey makes a key in the admin's own tenant.
func (s *Service) CreateAPIKey(ctx context.Context, p *Principal, c KeyCreate) (*APIKey, string, error) {
	if err := p.Need(PermAdminKeys); err != nil {
		return nil, "", err
	}
	if p.UID != "" && c.UserID != p.UID {
		return nil, "", Errorf(EFORBIDDEN, "a uid-bound credential may only create keys for user %s", p.UID)
	}
	scopes, err := NormalizePermissions(c.Scopes, "body.scopes")
	if err != nil {
		return nil, "", err
	}
	if err := CheckPermissions(c.Role, scopes, "body.scopes"); err != nil {
		return nil, "", err
	}
	if !p.Role.Includes(c.Role) || !p.Covers(c.Role, scopes) {
		return nil, "", Errorf(EFORBIDDEN, "a credential may only create keys with permissions it holds itself")
	}
	c.Tenant = p.Tenant
	c.By = AuditPrincipal(p)
	return s.NewAPIKey(ctx, c)
}

// FindAPIKeys lists the keys of the admin's tenant.
func (s *Service) FindAPIKeys(ctx context.Context, p *Principal) ([]*APIKey, error) {
	if err := p.Need(PermAdminKeys); err != nil {
		return nil, err
	}
	return s.Store.FindAPIKeys(ctx, p.Tenant)
}

// RevokeAPIKey revokes a key of the admin's tenant; it stops working at once.
func (s *Service) RevokeAPIKey(ctx context.Context, p *Principal, id string) error {
	if err := p.Need(PermAdminKeys); err != nil {
		return err
	}
	if err := s.Store.RevokeAPIKey(ctx, p.Tenant, id, s.now()); err != nil {
		return err
	}
	return s.Audit(ctx, p.Tenant, AuditPrincipal(p), AuditKeyRevoked, id, nil)
}

// Authenticate turns an API key into a principal. Unknown, revoked and expired
// keys are EUNAUTHORIZED. Lookups are cached while the store's key
// generation holds (keycache.go); the key's lastUsedAt is written at most
// once a minute, off the request path.
func (s *Service) Authenticate(ctx context.Context, key string) (*Principal, error) {
	if key == "" || len(key) > 256 {
		return nil, Errorf(EUNAUTHORIZED, "invalid API key")
	}
	k, err := s.lookupKey(ctx, HashAPIKey(key))
	if ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(EUNAUTHORIZED, "invalid API key")
	} else if err != nil {
		return nil, err
	}
	now := s.now()
	if !k.Active(now) {
		return nil, Errorf(EUNAUTHORIZED, "API key revoked or expired")
	}
	s.touchKey(k, now)
	p := &Principal{Tenant: k.Tenant, Role: k.Role, UID: k.UserID, Subject: k.Name, KeyID: k.ID}
	if len(k.Scopes) > 0 {
		p.Scopes = k.Scopes
	}
	return p, nil
}
