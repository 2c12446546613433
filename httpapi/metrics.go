package httpapi

import (
	"context"
	"errors"
	"time"

	"github.com/contextd/contextd"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// httpMetrics are the gateway's Prometheus metrics.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	series   seriesCache // the requests' and duration's series by labels (fastpath.go)
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

// StoreInstrumentation says what InstrumentStoreWith records.
type StoreInstrumentation struct {
	// Registry receives the metrics; nil means no metrics (spans only).
	Registry prometheus.Registerer
	// Latency times every call in the histogram
	// contextd_store_operation_duration_seconds{op} (PERFORMANCE_MONITORING).
	Latency bool
	// Business counts what the calls did (METRICS_COLLECTION): contexts,
	// memories and relationships created and deleted, searches and results
	// returned by mode. Store errors by operation and code, and the store's
	// own resources (when it implements contextd.StatsReporter) are
	// registered whenever Registry is set.
	Business bool
	// TracerProvider, when non-nil, runs every call made within a traced
	// request in a client span "store.<op>", a child of the request's span.
	// nil means no spans.
	TracerProvider trace.TracerProvider
}

// InstrumentStore wraps s with every metric of StoreInstrumentation on reg
// (a second wrapper on the same registry shares them). Wire it between the
// store and the Service:
//
//	store := httpapi.InstrumentStore(sqliteStore, reg)
//	svc := contextd.NewService(store)
func InstrumentStore(s contextd.Store, reg prometheus.Registerer) (contextd.Store, error) {
	return InstrumentStoreWith(s, StoreInstrumentation{Registry: reg, Latency: true, Business: true})
}

// InstrumentStoreWith wraps s with the metrics and spans in in. With no
// registry and no tracer provider it returns s itself. The wrapper's
// Unwrap returns s, so contextd.StoreAs reaches s's optional interfaces
// (StatsReporter, Checker).
func InstrumentStoreWith(s contextd.Store, in StoreInstrumentation) (contextd.Store, error) {
	if in.Registry == nil && in.TracerProvider == nil {
		return s, nil
	}
	w := &instrumentedStore{Store: s, kind: s.Kind()}
	if in.TracerProvider != nil {
		w.tracer = in.TracerProvider.Tracer(tracerName)
	}
	reg := in.Registry
	if reg == nil {
		return w, nil
	}
	var err error
	if in.Latency {
		if w.latency, err = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "contextd_store_operation_duration_seconds",
			Help:    "Time taken by store operations, by operation.",
			Buckets: latencyBuckets,
		}, []string{"op"})); err != nil {
			return nil, err
		}
	}
	if w.errors, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "contextd_store_errors_total",
		Help: "Store operations that returned an error, by operation and error code (not_found and conflict are answers; internal and unavailable are failures).",
	}, []string{"op", "code"})); err != nil {
		return nil, err
	}
	if in.Business {
		if w.biz, err = newBusinessMetrics(reg); err != nil {
			return nil, err
		}
	}
	if r, ok := contextd.StoreAs[contextd.StatsReporter](s); ok {
		if _, err := register(reg, newStoreStatsCollector(r)); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// businessMetrics count what the store calls did. Deletions that cascade
// (a context's relationships, a session's memories) are not counted: the
// store does not say how many rows went with them.
type businessMetrics struct {
	contextsCreated, contextsDeleted prometheus.Counter
	memoriesCreated, memoriesDeleted prometheus.Counter
	relsCreated, relsDeleted         prometheus.Counter
	searches, searchResults          *prometheus.CounterVec
}

// searchModes are the values of the mode label: the context search modes
// and "memory" for memory searches.
var searchModes = []string{contextd.ModeFulltext, contextd.ModeSemantic, contextd.ModeHybrid, "memory"}

func newBusinessMetrics(reg prometheus.Registerer) (*businessMetrics, error) {
	m := &businessMetrics{}
	counter := func(dst *prometheus.Counter, name, help string) error {
		c, err := register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}))
		*dst = c
		return err
	}
	for _, c := range []struct {
		dst        *prometheus.Counter
		name, help string
	}{
		{&m.contextsCreated, "contextd_contexts_created_total", "Contexts created (batches count each item)."},
		{&m.contextsDeleted, "contextd_contexts_deleted_total", "Contexts deleted."},
		{&m.memoriesCreated, "contextd_memories_created_total", "Memories created (batches count each item)."},
		{&m.memoriesDeleted, "contextd_memories_deleted_total", "Memories deleted one by one (not those of a deleted session)."},
		{&m.relsCreated, "contextd_relationships_created_total", "Relationships created, inline ones of new contexts included."},
		{&m.relsDeleted, "contextd_relationships_deleted_total", "Relationships deleted one by one (not those of a deleted context)."},
	} {
		if err := counter(c.dst, c.name, c.help); err != nil {
			return nil, err
		}
	}
	var err error
	if m.searches, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "contextd_searches_total",
		Help: "Searches served, by mode: fulltext, semantic, hybrid (contexts) or memory.",
	}, []string{"mode"})); err != nil {
		return nil, err
	}
	if m.searchResults, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "contextd_search_results_total",
		Help: "Results returned by searches (the page, not the total), by mode.",
	}, []string{"mode"})); err != nil {
		return nil, err
	}
	for _, mode := range searchModes {
		m.searches.WithLabelValues(mode)
		m.searchResults.WithLabelValues(mode)
	}
	return m, nil
}

func (m *businessMetrics) search(mode string, results int) {
	switch mode {
	case contextd.ModeFulltext, contextd.ModeSemantic, contextd.ModeHybrid, "memory":
	case "":
		mode = contextd.ModeFulltext
	default:
		mode = "other"
	}
	m.searches.WithLabelValues(mode).Inc()
	m.searchResults.WithLabelValues(mode).Add(float64(results))
}

// storeStatsCollector reads the store's StoreStats on every scrape.
type storeStatsCollector struct {
	r                                          contextd.StatsReporter
	size, index, readInUse, readConns          *prometheus.Desc
	queueLen, queueCap, txs, txRetries, txJobs *prometheus.Desc
}

func newStoreStatsCollector(r contextd.StatsReporter) *storeStatsCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &storeStatsCollector{
		r:         r,
		size:      d("contextd_store_size_bytes", "Bytes of the store on disk (for sqlite: database, WAL and shared-memory files)."),
		index:     d("contextd_store_index_size_bytes", "Bytes of the full-text indexes, as last measured (at most every few minutes)."),
		readInUse: d("contextd_store_read_connections_in_use", "Read connections serving a call."),
		readConns: d("contextd_store_read_connections", "Read connections of the pool."),
		queueLen:  d("contextd_store_write_queue_length", "Writes waiting for the writer (the next group commit)."),
		queueCap:  d("contextd_store_write_queue_capacity", "Writes the queue holds before callers wait to enqueue."),
		txs:       d("contextd_store_write_transactions_total", "Write transactions run: one per group commit."),
		txJobs:    d("contextd_store_write_jobs_total", "Writes the write transactions carried: rate of this / rate of contextd_store_write_transactions_total is the mean group-commit batch."),
		txRetries: d("contextd_store_transaction_retries_total", "Group commits run again after one of their writes failed."),
	}
}

// Describe implements prometheus.Collector.
func (c *storeStatsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.size, c.index, c.readInUse, c.readConns, c.queueLen, c.queueCap, c.txs, c.txRetries, c.txJobs} {
		ch <- d
	}
}

// statsTimeout bounds a scrape's wait for the store's stats.
const statsTimeout = 2 * time.Second

// Collect implements prometheus.Collector. A store that cannot answer
// (closed, busy) leaves its gauges out of this scrape.
func (c *storeStatsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	st, err := c.r.Stats(ctx)
	if err != nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	if st.SizeBytes >= 0 {
		gauge(c.size, float64(st.SizeBytes))
	}
	if st.IndexSizeBytes >= 0 {
		gauge(c.index, float64(st.IndexSizeBytes))
	}
	gauge(c.readInUse, float64(st.ReadConnsInUse))
	gauge(c.readConns, float64(st.ReadConns))
	gauge(c.queueLen, float64(st.WriteQueueLength))
	gauge(c.queueCap, float64(st.WriteQueueCapacity))
	ch <- prometheus.MustNewConstMetric(c.txs, prometheus.CounterValue, float64(st.WriteTransactions))
	ch <- prometheus.MustNewConstMetric(c.txRetries, prometheus.CounterValue, float64(st.WriteRetries))
	ch <- prometheus.MustNewConstMetric(c.txJobs, prometheus.CounterValue, float64(st.WriteJobs))
}

// instrumentedStore records the calls of the Store it embeds. Methods the
// Store interface gains later pass through unrecorded until added here.
type instrumentedStore struct {
	contextd.Store
	kind    string
	latency *prometheus.HistogramVec // nil: calls are not timed
	errors  *prometheus.CounterVec   // nil: no registry
	biz     *businessMetrics         // nil: not counted
	tracer  trace.Tracer             // nil: no spans
}

var (
	_ contextd.Store          = (*instrumentedStore)(nil)
	_ contextd.StoreUnwrapper = (*instrumentedStore)(nil)
)

// Unwrap implements contextd.StoreUnwrapper.
func (s *instrumentedStore) Unwrap() contextd.Store { return s.Store }

// begin starts recording the call op; the returned func ends it with the
// call's error.
func (s *instrumentedStore) begin(ctx context.Context, op string) (context.Context, func(error)) {
	var start time.Time
	if s.latency != nil {
		start = time.Now()
	}
	var span trace.Span
	// Only within a traced request: a store call of a background loop (the
	// health monitor's pings) would start a trace of its own every tick.
	if s.tracer != nil && trace.SpanContextFromContext(ctx).IsValid() {
		ctx, span = s.tracer.Start(ctx, "store."+op, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("db.system.name", s.kind), attribute.String("db.operation.name", op)))
	}
	return ctx, func(err error) {
		if s.latency != nil {
			s.latency.WithLabelValues(op).Observe(time.Since(start).Seconds())
		}
		if err != nil {
			code := contextd.ErrorCode(err)
			if s.errors != nil {
				s.errors.WithLabelValues(op, code).Inc()
			}
			if span != nil && (code == contextd.EINTERNAL || code == contextd.EUNAVAILABLE) {
				span.RecordError(err)
				span.SetStatus(codes.Error, code)
			}
		}
		if span != nil {
			span.End()
		}
	}
}

func (s *instrumentedStore) CreateContexts(ctx context.Context, sc contextd.Scope, items []contextd.ContextCreate) (out []*contextd.Context, err error) {
	ctx, done := s.begin(ctx, "create_contexts")
	defer func() { done(err) }()
	out, err = s.Store.CreateContexts(ctx, sc, items)
	if err == nil && s.biz != nil {
		s.biz.contextsCreated.Add(float64(len(out)))
		rels := 0
		for i := range items {
			rels += len(items[i].Relationships)
		}
		s.biz.relsCreated.Add(float64(rels))
	}
	return out, err
}

func (s *instrumentedStore) GetContext(ctx context.Context, sc contextd.Scope, id string) (out *contextd.Context, err error) {
	ctx, done := s.begin(ctx, "get_context")
	defer func() { done(err) }()
	return s.Store.GetContext(ctx, sc, id)
}

func (s *instrumentedStore) FindContexts(ctx context.Context, sc contextd.Scope, f contextd.ContextFilter) (out []*contextd.Context, next string, err error) {
	ctx, done := s.begin(ctx, "find_contexts")
	defer func() { done(err) }()
	return s.Store.FindContexts(ctx, sc, f)
}

func (s *instrumentedStore) UpdateContext(ctx context.Context, sc contextd.Scope, id string, u contextd.ContextUpdate) (out *contextd.Context, err error) {
	ctx, done := s.begin(ctx, "update_context")
	defer func() { done(err) }()
	return s.Store.UpdateContext(ctx, sc, id, u)
}

func (s *instrumentedStore) DeleteContext(ctx context.Context, sc contextd.Scope, id string) (err error) {
	ctx, done := s.begin(ctx, "delete_context")
	defer func() { done(err) }()
	err = s.Store.DeleteContext(ctx, sc, id)
	if err == nil && s.biz != nil {
		s.biz.contextsDeleted.Inc()
	}
	return err
}

func (s *instrumentedStore) CreateRelationship(ctx context.Context, sc contextd.Scope, r contextd.RelationshipCreate) (out *contextd.Relationship, err error) {
	ctx, done := s.begin(ctx, "create_relationship")
	defer func() { done(err) }()
	out, err = s.Store.CreateRelationship(ctx, sc, r)
	if err == nil && s.biz != nil {
		s.biz.relsCreated.Inc()
	}
	return out, err
}

func (s *instrumentedStore) FindRelationships(ctx context.Context, sc contextd.Scope, f contextd.RelationshipFilter) (out []*contextd.Relationship, err error) {
	ctx, done := s.begin(ctx, "find_relationships")
	defer func() { done(err) }()
	return s.Store.FindRelationships(ctx, sc, f)
}

func (s *instrumentedStore) DeleteRelationship(ctx context.Context, sc contextd.Scope, id string) (err error) {
	ctx, done := s.begin(ctx, "delete_relationship")
	defer func() { done(err) }()
	err = s.Store.DeleteRelationship(ctx, sc, id)
	if err == nil && s.biz != nil {
		s.biz.relsDeleted.Inc()
	}
	return err
}

func (s *instrumentedStore) Graph(ctx context.Context, sc contextd.Scope, q contextd.GraphQuery) (out *contextd.Graph, err error) {
	ctx, done := s.begin(ctx, "graph")
	defer func() { done(err) }()
	return s.Store.Graph(ctx, sc, q)
}

func (s *instrumentedStore) SearchContexts(ctx context.Context, sc contextd.Scope, q contextd.SearchQuery) (out *contextd.SearchResult, err error) {
	ctx, done := s.begin(ctx, "search_contexts")
	defer func() { done(err) }()
	out, err = s.Store.SearchContexts(ctx, sc, q)
	if err == nil && s.biz != nil {
		s.biz.search(q.Mode, len(out.Results))
	}
	return out, err
}

func (s *instrumentedStore) IndexStats(ctx context.Context, sc contextd.Scope) (out *contextd.IndexStats, err error) {
	ctx, done := s.begin(ctx, "index_stats")
	defer func() { done(err) }()
	return s.Store.IndexStats(ctx, sc)
}

func (s *instrumentedStore) CreateMemories(ctx context.Context, sc contextd.Scope, items []contextd.MemoryCreate) (out []*contextd.Memory, err error) {
	ctx, done := s.begin(ctx, "create_memories")
	defer func() { done(err) }()
	out, err = s.Store.CreateMemories(ctx, sc, items)
	if err == nil && s.biz != nil {
		s.biz.memoriesCreated.Add(float64(len(out)))
	}
	return out, err
}

func (s *instrumentedStore) GetMemory(ctx context.Context, sc contextd.Scope, id string) (out *contextd.Memory, err error) {
	ctx, done := s.begin(ctx, "get_memory")
	defer func() { done(err) }()
	return s.Store.GetMemory(ctx, sc, id)
}

func (s *instrumentedStore) FindMemories(ctx context.Context, sc contextd.Scope, f contextd.MemoryFilter) (out []*contextd.Memory, next string, err error) {
	ctx, done := s.begin(ctx, "find_memories")
	defer func() { done(err) }()
	return s.Store.FindMemories(ctx, sc, f)
}

func (s *instrumentedStore) UpdateMemory(ctx context.Context, sc contextd.Scope, id string, u contextd.MemoryUpdate) (out *contextd.Memory, err error) {
	ctx, done := s.begin(ctx, "update_memory")
	defer func() { done(err) }()
	return s.Store.UpdateMemory(ctx, sc, id, u)
}

func (s *instrumentedStore) DeleteMemory(ctx context.Context, sc contextd.Scope, id string) (err error) {
	ctx, done := s.begin(ctx, "delete_memory")
	defer func() { done(err) }()
	err = s.Store.DeleteMemory(ctx, sc, id)
	if err == nil && s.biz != nil {
		s.biz.memoriesDeleted.Inc()
	}
	return err
}

func (s *instrumentedStore) SearchMemories(ctx context.Context, sc contextd.Scope, q contextd.MemorySearch) (out []*contextd.MemoryHit, err error) {
	ctx, done := s.begin(ctx, "search_memories")
	defer func() { done(err) }()
	out, err = s.Store.SearchMemories(ctx, sc, q)
	if err == nil && s.biz != nil {
		s.biz.search("memory", len(out))
	}
	return out, err
}

func (s *instrumentedStore) CreateSession(ctx context.Context, sc contextd.Scope, c contextd.SessionCreate) (out *contextd.Session, err error) {
	ctx, done := s.begin(ctx, "create_session")
	defer func() { done(err) }()
	return s.Store.CreateSession(ctx, sc, c)
}

func (s *instrumentedStore) GetSession(ctx context.Context, sc contextd.Scope, id string) (out *contextd.Session, err error) {
	ctx, done := s.begin(ctx, "get_session")
	defer func() { done(err) }()
	return s.Store.GetSession(ctx, sc, id)
}

func (s *instrumentedStore) FindSessions(ctx context.Context, sc contextd.Scope, f contextd.SessionFilter) (out []*contextd.Session, next string, err error) {
	ctx, done := s.begin(ctx, "find_sessions")
	defer func() { done(err) }()
	return s.Store.FindSessions(ctx, sc, f)
}

func (s *instrumentedStore) DeleteSession(ctx context.Context, sc contextd.Scope, id string) (err error) {
	ctx, done := s.begin(ctx, "delete_session")
	defer func() { done(err) }()
	return s.Store.DeleteSession(ctx, sc, id)
}

func (s *instrumentedStore) CreateAPIKey(ctx context.Context, k *contextd.APIKey, hash string) (err error) {
	ctx, done := s.begin(ctx, "create_api_key")
	defer func() { done(err) }()
	return s.Store.CreateAPIKey(ctx, k, hash)
}

func (s *instrumentedStore) APIKeyByHash(ctx context.Context, hash string) (out *contextd.APIKey, err error) {
	ctx, done := s.begin(ctx, "api_key_by_hash")
	defer func() { done(err) }()
	return s.Store.APIKeyByHash(ctx, hash)
}

func (s *instrumentedStore) FindAPIKeys(ctx context.Context, tenant string) (out []*contextd.APIKey, err error) {
	ctx, done := s.begin(ctx, "find_api_keys")
	defer func() { done(err) }()
	return s.Store.FindAPIKeys(ctx, tenant)
}

func (s *instrumentedStore) RevokeAPIKey(ctx context.Context, tenant, id string, at time.Time) (err error) {
	ctx, done := s.begin(ctx, "revoke_api_key")
	defer func() { done(err) }()
	return s.Store.RevokeAPIKey(ctx, tenant, id, at)
}

func (s *instrumentedStore) CountAPIKeys(ctx context.Context) (n int, err error) {
	ctx, done := s.begin(ctx, "count_api_keys")
	defer func() { done(err) }()
	return s.Store.CountAPIKeys(ctx)
}

func (s *instrumentedStore) Ping(ctx context.Context) (err error) {
	ctx, done := s.begin(ctx, "ping")
	defer func() { done(err) }()
	return s.Store.Ping(ctx)
}
