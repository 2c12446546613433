// Package httpapi serves the contextd v1 HTTP API: the routes of the public
// contract over contextd.Service, with request decoding, validation and the
// OpenAPI 3.1 document from huma, and a gateway of middleware (request ids,
// logging, metrics, recovery, security headers, CORS, body limits, timeouts,
// authentication, rate limits) in front.
package httpapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/contextd/contextd"
	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

// Body limits.
const (
	DefaultMaxBodyBytes      = 2 << 20  // 2 MiB: one context of up to 1 MiB with room for JSON escaping
	DefaultMaxBatchBodyBytes = 16 << 20 // 16 MiB: up to 1,000 items
	DefaultRequestTimeout    = 30 * time.Second
	DefaultReadyTimeout      = 2 * time.Second
)

// Config configures NewHandler. Only Service is required.
type Config struct {
	// Service is the application layer every route calls. Required.
	Service *contextd.Service
	// Logger receives one line per request and every internal error, each
	// with the request id. nil means slog.Default().
	Logger *slog.Logger
	// Registry receives the HTTP metrics and the Go and process collectors
	// (skipped when already registered) and is served on /metrics. nil means
	// a new registry. Give the same registry to InstrumentStore to serve the
	// store metrics too.
	Registry *prometheus.Registry
	// CORSOrigin is "" for no CORS headers at all, "*" for any origin, or a
	// comma-separated list of allowed origins ("https://a.example,https://b.example").
	CORSOrigin string
	// MaxBodyBytes bounds a request body (413 beyond). 0 means
	// DefaultMaxBodyBytes (2 MiB).
	MaxBodyBytes int64
	// MaxBatchBodyBytes bounds the body of the batch routes. 0 means
	// DefaultMaxBatchBodyBytes (16 MiB).
	MaxBatchBodyBytes int64
	// RequestTimeout bounds the time of one request; the store call is
	// cancelled and the client gets a 503 beyond it. 0 means
	// DefaultRequestTimeout (30 s); negative means none.
	RequestTimeout time.Duration
	// JWTSecret, when non-empty, makes bearer tokens of three dot-separated
	// parts HS256 JWTs signed with it. Empty means only API keys are accepted.
	JWTSecret []byte
	// JWT adds asymmetric tokens (RS256, ES256), iss/aud checks, the clock
	// skew and the lifetime of issued tokens. The zero value accepts only
	// HS256 tokens with JWTSecret, with a 30 s skew, and issues 15 min tokens.
	JWT JWTConfig
	// Checks are the readiness checks of /health/ready and /health/details,
	// by component name. nil means {"store": Service.Store.Ping}.
	Checks map[string]func(context.Context) error
	// ReadyTimeout bounds each readiness check. 0 means DefaultReadyTimeout (2 s).
	ReadyTimeout time.Duration
	// Limiter, when non-nil, rate-limits authenticated requests per
	// credential (429 with Retry-After, RateLimit-* headers on every
	// answer). nil means no rate limit.
	Limiter Limiter
	// TenantLimiter, when non-nil, rate-limits every credential of a tenant
	// together. nil means no tenant limit.
	TenantLimiter Limiter
	// Version is reported by /health/details and the OpenAPI document.
	// "" means "dev".
	Version string
	// StartedAt is the process start, for the uptime in /health/details.
	// Zero means the time NewHandler was called.
	StartedAt time.Time
	// Now is the clock (JWT expiry, request ids). nil means time.Now.
	Now func() time.Time
	// MCP, when non-nil, serves the MCP Streamable HTTP endpoint at /mcp,
	// behind the same authentication and rate limits as /v1 (the principal
	// is in the request context). nil means no /mcp route.
	MCP http.Handler
	// DisableMetrics removes the /metrics route (METRICS_COLLECTION=false).
	// false (the zero value) serves it.
	DisableMetrics bool
	// MetricsToken, when non-empty, makes /metrics require
	// "Authorization: Bearer <MetricsToken>" (401 otherwise). "" leaves
	// /metrics open, for a scraper on a private network.
	MetricsToken string
	// Monitor, when non-nil, serves GET /v1/admin/alerts and the system
	// resources (RSS, CPU, disk, network) of /health/details. nil means an
	// empty alert list and Go runtime figures only.
	Monitor Monitor
	// RequestStats receives the status and latency of every request but the
	// probes, for the error rate and percentiles of /health/details; give
	// the health monitor the same one. nil means a new one over
	// DefaultRequestWindow.
	RequestStats *RequestStats
	// TracerProvider, when non-nil, serves every request in a server span
	// (continuing an incoming W3C traceparent) with the request id as an
	// attribute. nil means no tracing, at no cost.
	TracerProvider trace.TracerProvider
	// Backups, when non-nil, serves POST and GET /v1/admin/backups. nil
	// answers 503 there (no BACKUP_DIRECTORY).
	Backups contextd.Backups
	// OperatorTenant is the tenant whose admins may make and list backups:
	// a backup holds every tenant, so no other tenant's admin may (the
	// contract's tenant wall). "" means "default" (the first-start admin's).
	OperatorTenant string
	// TempDir holds the temporary files of exports; "" means the system's.
	TempDir string

	// noFastGet serves GET /v1/contexts/{id} through huma only (for the
	// tests that compare both ways).
	noFastGet bool
}

// server holds what the handlers and middleware share.
type server struct {
	mcp            http.Handler
	backups        contextd.Backups
	operatorTenant string
	tempDir        string
	svc            *contextd.Service
	log            *slog.Logger
	registry       *prometheus.Registry
	metrics        *httpMetrics
	mux            *http.ServeMux
	api            huma.API
	corsAll        bool
	corsOrigins    map[string]bool
	maxBody        int64
	maxBatchBody   int64
	requestTimeout time.Duration
	jwtSecret      []byte
	jwt            JWTConfig
	checks         map[string]func(context.Context) error
	readyTimeout   time.Duration
	limiter        Limiter
	tenantLimiter  Limiter
	version        string
	startedAt      time.Time
	now            func() time.Time
	docsCSP        string
	ops            opsState        // metrics route, request window, traces, alerts (ops.go)
	fastGet        *fastGet        // GET /v1/contexts/{id} without huma's machinery (fastget.go)
	fastHealth     *huma.Operation // GET /health without it (fasthealth.go)
}

// NewHandler returns the HTTP handler of the whole v1 API.
func NewHandler(cfg Config) (h http.Handler, err error) {
	if cfg.Service == nil || cfg.Service.Store == nil {
		return nil, errors.New("httpapi: Config.Service with a Store is required")
	}
	s := &server{
		svc:            cfg.Service,
		log:            cfg.Logger,
		registry:       cfg.Registry,
		maxBody:        cfg.MaxBodyBytes,
		maxBatchBody:   cfg.MaxBatchBodyBytes,
		requestTimeout: cfg.RequestTimeout,
		jwtSecret:      cfg.JWTSecret,
		jwt:            cfg.JWT,
		checks:         cfg.Checks,
		readyTimeout:   cfg.ReadyTimeout,
		limiter:        cfg.Limiter,
		tenantLimiter:  cfg.TenantLimiter,
		version:        cfg.Version,
		startedAt:      cfg.StartedAt,
		now:            cfg.Now,
		mcp:            cfg.MCP,
		backups:        cfg.Backups,
		operatorTenant: cmp.Or(cfg.OperatorTenant, "default"),
		tempDir:        cfg.TempDir,
		mux:            http.NewServeMux(),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.maxBatchBody <= 0 {
		s.maxBatchBody = DefaultMaxBatchBodyBytes
	}
	if s.requestTimeout == 0 {
		s.requestTimeout = DefaultRequestTimeout
	}
	if s.jwt.ClockSkew == 0 {
		s.jwt.ClockSkew = DefaultJWTClockSkew
	}
	if s.jwt.TTL <= 0 {
		s.jwt.TTL = DefaultJWTTTL
	}
	if s.readyTimeout <= 0 {
		s.readyTimeout = DefaultReadyTimeout
	}
	if s.checks == nil {
		s.checks = map[string]func(context.Context) error{"store": cfg.Service.Store.Ping}
	}
	if s.version == "" {
		s.version = "dev"
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.startedAt.IsZero() {
		s.startedAt = s.now()
	}
	switch o := strings.TrimSpace(cfg.CORSOrigin); o {
	case "":
	case "*":
		s.corsAll = true
	default:
		s.corsOrigins = map[string]bool{}
		for _, origin := range strings.Split(o, ",") {
			origin = strings.TrimRight(strings.TrimSpace(origin), "/")
			if origin == "" {
				continue
			}
			if origin == "*" || !strings.Contains(origin, "://") {
				return nil, fmt.Errorf("httpapi: CORS origin %q must be \"*\" alone or a scheme://host[:port] origin", origin)
			}
			s.corsOrigins[origin] = true
		}
	}
	if s.metrics, err = newHTTPMetrics(s.registry); err != nil {
		return nil, fmt.Errorf("httpapi: metrics: %w", err)
	}
	if err := s.initOps(cfg); err != nil {
		return nil, fmt.Errorf("httpapi: metrics: %w", err)
	}
	s.docsCSP = docsCSP()

	// huma panics on a route table it cannot use; that is a bug here, and
	// NewHandler says so instead of crashing its caller.
	defer func() {
		if v := recover(); v != nil {
			h, err = nil, fmt.Errorf("httpapi: building routes: %v", v)
		}
	}()
	s.api = humago.New(s.mux, s.humaConfig())
	s.api.UseMiddleware(s.checkPermission)
	s.routes()
	if !cfg.noFastGet {
		s.initFastGet()
		s.initFastHealth()
	}
	return s.chain(http.HandlerFunc(s.route)), nil
}

// chain composes the gateway, outermost first.
func (s *server) chain(h http.Handler) http.Handler {
	middleware := []func(http.Handler) http.Handler{
		s.observe,         // request id, logger, metrics, access log
		s.instrument,      // request window, auth and rate-limit counters, trace span
		s.recoverPanics,   // a panic is a logged 500 problem
		s.securityHeaders, // nosniff, DENY, CSP, no-store
		s.cors,            // preflight and allowed origins
		s.limitBody,       // 413 beyond the route's limit
		s.timeout,         // a deadline for the whole request
		s.authenticate,    // 401, or a principal in the context
		s.rateLimit,       // 429 per tenant and credential
		s.idempotency,     // Idempotency-Key: a retried POST gets the first answer
	}
	for i := len(middleware) - 1; i >= 0; i-- {
		h = middleware[i](h)
	}
	return h
}

// Security scheme names in the OpenAPI document.
const (
	schemeBearer = "bearer"
	schemeAPIKey = "apiKey"
)

// jsonFormat is huma's JSON format, refusing bodies that are not UTF-8
// (encoding/json would silently replace the bad bytes).
var jsonFormat = huma.Format{
	Marshal: marshalJSON, // huma's, with a faster path for contexts (contextjson.go)
	Unmarshal: func(data []byte, v any) error {
		if !utf8.Valid(data) {
			return errors.New("the body is not valid UTF-8")
		}
		return json.Unmarshal(data, v)
	},
}

func (s *server) humaConfig() huma.Config {
	cfg := huma.DefaultConfig("contextd", s.version)
	cfg.Info.Description = "The contextd v1 API: contexts, relationships and their graph, full-text search, " +
		"LLM memories and sessions. Every /v1 route needs `Authorization: Bearer <API key or JWT>` or " +
		"`X-API-Key: <key>`. Errors are RFC 9457 problem documents."
	cfg.CreateHooks = nil // no $schema fields or Link headers in responses
	cfg.DocsPath = ""     // our own /docs page works offline
	cfg.SchemasPath = ""
	cfg.RejectUnknownQueryParameters = true // a misspelt filter is an error, not silently ignored
	cfg.Formats = map[string]huma.Format{"application/json": jsonFormat, "json": jsonFormat}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		schemeBearer: {Type: "http", Scheme: "bearer", Description: "An API key, or a JWT with tenant, role, uid?, scope? and exp claims. " +
			"The scope of each operation's requirement is the permission it needs."},
		schemeAPIKey: {Type: "apiKey", In: "header", Name: "X-API-Key", Description: "An API key. The scope of each operation's requirement is the permission it needs."},
	}
	return cfg
}
