package httpapi

import (
	"context"
	"errors"
	"time"

	"github.com/contextd/contextd"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// httpMetrics are the gateway's Prometheus metrics.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// latencyBuckets suit a server whose budget is in milliseconds.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contextd_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "contextd_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route pattern and method.",
			Buckets: latencyBuckets,
		}, []string{"route", "method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "contextd_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
	}
	var err error
	m.requests, err = register(reg, m.requests)
	if err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.inFlight, err = register(reg, m.inFlight); err != nil {
		return nil, err
	}
	// The Go runtime and process collectors, unless the caller has them.
	if _, err := register[prometheus.Collector](reg, collectors.NewGoCollector()); err != nil {
		return nil, err
	}
	if _, err := register[prometheus.Collector](reg, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// the same description (so two handlers can share one registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

// InstrumentStore wraps s so that every Store call is timed in the histogram
// contextd_store_operation_duration_seconds{op}, registered on reg (a second
// wrapper on the same registry shares the histogram). Wire it between the
// store and the Service:
//
//	store := httpapi.InstrumentStore(sqliteStore, reg)
//	svc := contextd.NewService(store)
func InstrumentStore(s contextd.Store, reg prometheus.Registerer) (contextd.Store, error) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "contextd_store_operation_duration_seconds",
		Help:    "Time taken by store operations, by operation.",
		Buckets: latencyBuckets,
	}, []string{"op"})
	h, err := register(reg, h)
	if err != nil {
		return nil, err
	}
	return &instrumentedStore{Store: s, h: h}, nil
}

// instrumentedStore times the calls of the Store it embeds. Methods the
// Store interface gains later pass through untimed until added here.
type instrumentedStore struct {
	contextd.Store
	h *prometheus.HistogramVec
}

var _ contextd.Store = (*instrumentedStore)(nil)

func (s *instrumentedStore) time(op string) func() {
	start := time.Now()
	return func() { s.h.WithLabelValues(op).Observe(time.Since(start).Seconds()) }
}

func (s *instrumentedStore) CreateContexts(ctx context.Context, sc contextd.Scope, items []contextd.ContextCreate) ([]*contextd.Context, error) {
	defer s.time("create_contexts")()
	return s.Store.CreateContexts(ctx, sc, items)
}

func (s *instrumentedStore) GetContext(ctx context.Context, sc contextd.Scope, id string) (*contextd.Context, error) {
	defer s.time("get_context")()
	return s.Store.GetContext(ctx, sc, id)
}

func (s *instrumentedStore) FindContexts(ctx context.Context, sc contextd.Scope, f contextd.ContextFilter) ([]*contextd.Context, string, error) {
	defer s.time("find_contexts")()
	return s.Store.FindContexts(ctx, sc, f)
}

func (s *instrumentedStore) UpdateContext(ctx context.Context, sc contextd.Scope, id string, u contextd.ContextUpdate) (*contextd.Context, error) {
	defer s.time("update_context")()
	return s.Store.UpdateContext(ctx, sc, id, u)
}

func (s *instrumentedStore) DeleteContext(ctx context.Context, sc contextd.Scope, id string) error {
	defer s.time("delete_context")()
	return s.Store.DeleteContext(ctx, sc, id)
}

func (s *instrumentedStore) CreateRelationship(ctx context.Context, sc contextd.Scope, r contextd.RelationshipCreate) (*contextd.Relationship, error) {
	defer s.time("create_relationship")()
	return s.Store.CreateRelationship(ctx, sc, r)
}

func (s *instrumentedStore) FindRelationships(ctx context.Context, sc contextd.Scope, f contextd.RelationshipFilter) ([]*contextd.Relationship, error) {
	defer s.time("find_relationships")()
	return s.Store.FindRelationships(ctx, sc, f)
}

func (s *instrumentedStore) DeleteRelationship(ctx context.Context, sc contextd.Scope, id string) error {
	defer s.time("delete_relationship")()
	return s.Store.DeleteRelationship(ctx, sc, id)
}

func (s *instrumentedStore) Graph(ctx context.Context, sc contextd.Scope, q contextd.GraphQuery) (*contextd.Graph, error) {
	defer s.time("graph")()
	return s.Store.Graph(ctx, sc, q)
}

func (s *instrumentedStore) SearchContexts(ctx context.Context, sc contextd.Scope, q contextd.SearchQuery) (*contextd.SearchResult, error) {
	defer s.time("search_contexts")()
	return s.Store.SearchContexts(ctx, sc, q)
}

func (s *instrumentedStore) IndexStats(ctx context.Context, sc contextd.Scope) (*contextd.IndexStats, error) {
	defer s.time("index_stats")()
	return s.Store.IndexStats(ctx, sc)
}

func (s *instrumentedStore) CreateMemories(ctx context.Context, sc contextd.Scope, items []contextd.MemoryCreate) ([]*contextd.Memory, error) {
	defer s.time("create_memories")()
	return s.Store.CreateMemories(ctx, sc, items)
}

func (s *instrumentedStore) GetMemory(ctx context.Context, sc contextd.Scope, id string) (*contextd.Memory, error) {
	defer s.time("get_memory")()
	return s.Store.GetMemory(ctx, sc, id)
}

func (s *instrumentedStore) FindMemories(ctx context.Context, sc contextd.Scope, f contextd.MemoryFilter) ([]*contextd.Memory, string, error) {
	defer s.time("find_memories")()
	return s.Store.FindMemories(ctx, sc, f)
}

func (s *instrumentedStore) UpdateMemory(ctx context.Context, sc contextd.Scope, id string, u contextd.MemoryUpdate) (*contextd.Memory, error) {
	defer s.time("update_memory")()
	return s.Store.UpdateMemory(ctx, sc, id, u)
}

func (s *instrumentedStore) DeleteMemory(ctx context.Context, sc contextd.Scope, id string) error {
	defer s.time("delete_memory")()
	return s.Store.DeleteMemory(ctx, sc, id)
}

func (s *instrumentedStore) SearchMemories(ctx context.Context, sc contextd.Scope, q contextd.MemorySearch) ([]*contextd.MemoryHit, error) {
	defer s.time("search_memories")()
	return s.Store.SearchMemories(ctx, sc, q)
}

func (s *instrumentedStore) CreateSession(ctx context.Context, sc contextd.Scope, c contextd.SessionCreate) (*contextd.Session, error) {
	defer s.time("create_session")()
	return s.Store.CreateSession(ctx, sc, c)
}

func (s *instrumentedStore) GetSession(ctx context.Context, sc contextd.Scope, id string) (*contextd.Session, error) {
	defer s.time("get_session")()
	return s.Store.GetSession(ctx, sc, id)
}

func (s *instrumentedStore) FindSessions(ctx context.Context, sc contextd.Scope, f contextd.SessionFilter) ([]*contextd.Session, string, error) {
	defer s.time("find_sessions")()
	return s.Store.FindSessions(ctx, sc, f)
}

func (s *instrumentedStore) DeleteSession(ctx context.Context, sc contextd.Scope, id string) error {
	defer s.time("delete_session")()
	return s.Store.DeleteSession(ctx, sc, id)
}

func (s *instrumentedStore) CreateAPIKey(ctx context.Context, k *contextd.APIKey, hash string) error {
	defer s.time("create_api_key")()
	return s.Store.CreateAPIKey(ctx, k, hash)
}

func (s *instrumentedStore) APIKeyByHash(ctx context.Context, hash string) (*contextd.APIKey, error) {
	defer s.time("api_key_by_hash")()
	return s.Store.APIKeyByHash(ctx, hash)
}

func (s *instrumentedStore) FindAPIKeys(ctx context.Context, tenant string) ([]*contextd.APIKey, error) {
	defer s.time("find_api_keys")()
	return s.Store.FindAPIKeys(ctx, tenant)
}

func (s *instrumentedStore) RevokeAPIKey(ctx context.Context, tenant, id string, at time.Time) error {
	defer s.time("revoke_api_key")()
	return s.Store.RevokeAPIKey(ctx, tenant, id, at)
}

func (s *instrumentedStore) CountAPIKeys(ctx context.Context) (int, error) {
	defer s.time("count_api_keys")()
	return s.Store.CountAPIKeys(ctx)
}

func (s *instrumentedStore) Ping(ctx context.Context) error {
	defer s.time("ping")()
	return s.Store.Ping(ctx)
}
