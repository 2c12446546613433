package httpapi

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/contextd/contextd"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Operations: what the gateway tells operators besides the access log —
// the rolling request window, the gateway's counters, traces, the metrics
// route and the health monitor's alerts.

// Monitor is the health monitor as the API sees it (the monitor package
// implements it).
type Monitor interface {
	// Alerts lists alerts, newest first, and the cursor of the next page
	// ("" on the last page).
	Alerts(f contextd.AlertFilter) ([]contextd.Alert, string)
	// SystemStats samples the process and its machine.
	SystemStats(ctx context.Context) contextd.SystemStats
}

// Tracer and instrumentation names of contextd's spans.
const tracerName = "github.com/contextd/contextd/httpapi"

// opsState is the part of the server that serves operators.
type opsState struct {
	metricsOff   bool
	metricsToken []byte
	monitor      Monitor
	requests     *RequestStats
	tracer       trace.Tracer // nil: no tracing
	propagator   propagation.TextMapPropagator

	authFailures *prometheus.CounterVec
	rateLimited  prometheus.Counter
}

// Reasons of contextd_auth_failures_total.
var authFailureReasons = []string{"missing", "malformed", "invalid_token", "forbidden", "metrics_token"}

func (s *server) initOps(cfg Config) error {
	o := &s.ops
	o.metricsOff = cfg.DisableMetrics
	if cfg.MetricsToken != "" {
		o.metricsToken = []byte(cfg.MetricsToken)
	}
	o.monitor = cfg.Monitor
	o.requests = cfg.RequestStats
	if o.requests == nil {
		o.requests = NewRequestStats(0, nil)
	}
	if cfg.TracerProvider != nil {
		o.tracer = cfg.TracerProvider.Tracer(tracerName)
		o.propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	var err error
	o.authFailures, err = register(s.registry, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "contextd_auth_failures_total",
		Help: "Requests refused for their credentials, by reason: missing, malformed, invalid_token (unknown, revoked or expired key or token), forbidden (role too weak), metrics_token.",
	}, []string{"reason"}))
	if err != nil {
		return err
	}
	for _, r := range authFailureReasons {
		o.authFailures.WithLabelValues(r)
	}
	o.rateLimited, err = register(s.registry, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "contextd_rate_limited_requests_total",
		Help: "Requests answered 429 Too Many Requests.",
	}))
	if err != nil {
		return err
	}
	build, err := register(s.registry, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "contextd_build_info",
		Help: "Always 1, labelled with the version serving and its Go version.",
	}, []string{"version", "goversion"}))
	if err != nil {
		return err
	}
	build.WithLabelValues(s.version, runtime.Version()).Set(1)
	return nil
}

// probeRoutes are left out of the request window: probes and scrapes would
// dilute the error rate and latency of the API.
var probeRoutes = map[string]bool{"/health": true, "/health/ready": true, "/metrics": true}

// instrument records every request in the rolling window and the gateway's
// counters and, when tracing is on, serves it in a server span carrying the
// request id (and puts the trace id in the request's log lines). It sits
// right inside observe, whose recorder and request state it reads.
func (s *server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateFrom(r.Context())
		var start time.Time
		if st != nil {
			start = st.start // observe's clock reading, a few instructions before
		} else {
			start = time.Now()
		}
		var span trace.Span
		if s.ops.tracer != nil && !probeRoutes[r.URL.Path] { // probes stay span-free
			ctx := s.ops.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			attrs := []attribute.KeyValue{
				attribute.String("http.request.method", r.Method),
				attribute.String("url.path", r.URL.Path),
			}
			if st != nil {
				attrs = append(attrs, attribute.String("contextd.request_id", st.id))
			}
			ctx, span = s.ops.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
			defer span.End()
			if sc := span.SpanContext(); st != nil && sc.IsValid() {
				st.traceID = sc.TraceID().String()
			}
			r = r.WithContext(ctx)
		}

		next.ServeHTTP(w, r)

		status := http.StatusOK
		if rec, ok := w.(*recorder); ok && rec.status != 0 {
			status = rec.status
		}
		route := ""
		if st != nil {
			route = st.route
		}
		if !probeRoutes[route] {
			s.ops.requests.Observe(status, time.Since(start))
		}
		switch status {
		case http.StatusUnauthorized:
			s.ops.authFailures.WithLabelValues(authFailureReason(route, w.Header().Get("WWW-Authenticate"))).Inc()
		case http.StatusForbidden:
			s.ops.authFailures.WithLabelValues("forbidden").Inc()
		case http.StatusTooManyRequests:
			s.ops.rateLimited.Inc()
		}
		if span != nil {
			if route != "" {
				span.SetName(r.Method + " " + route)
				span.SetAttributes(attribute.String("http.route", route))
			}
			span.SetAttributes(attribute.Int("http.response.status_code", status))
			if status >= 500 {
				span.SetStatus(codes.Error, strconv.Itoa(status))
			}
		}
	})
}

// authFailureReason reads the reason of a 401 from its challenge (RFC 6750:
// no error code when no credentials were sent).
func authFailureReason(route, challenge string) string {
	switch {
	case route == "/metrics":
		return "metrics_token"
	case strings.Contains(challenge, `error="invalid_request"`):
		return "malformed"
	case strings.Contains(challenge, `error="invalid_token"`):
		return "invalid_token"
	}
	return "missing"
}

// metricsHandler serves the registry in the Prometheus text format, behind
// the metrics token when one is configured.
func (s *server) metricsHandler() http.Handler {
	h := promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError, // a failing collector must not hide the others
	})
	if s.ops.metricsToken == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") ||
			subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), s.ops.metricsToken) != 1 {
			p := newProblem(http.StatusUnauthorized, `/metrics needs "Authorization: Bearer <metrics token>"`)
			p.GetHeaders().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			writeProblem(w, p)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// alertsInput are the query parameters of GET /v1/admin/alerts.
type alertsInput struct {
	Status string `query:"status" enum:"firing,resolved,event" doc:"Only alerts in this state: firing (active), resolved, event (info)"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size"`
	Cursor string `query:"cursor" maxLength:"128" doc:"The nextCursor of the previous page"`
}

// listAlerts lists the health monitor's alerts, active and recent, newest
// first. Alerts describe the service, not a tenant's data, so an admin of
// any tenant sees them (as with /health/details).
func (s *server) listAlerts(ctx context.Context, in *alertsInput) (*listOutput[contextd.Alert], error) {
	if err := principalOf(ctx).Need(contextd.PermAdminOps); err != nil {
		return nil, problemFor(ctx, err)
	}
	if s.ops.monitor == nil {
		return &listOutput[contextd.Alert]{Body: newList[contextd.Alert](nil, "")}, nil
	}
	items, next := s.ops.monitor.Alerts(contextd.AlertFilter{Status: in.Status, Limit: in.Limit, Cursor: in.Cursor})
	return &listOutput[contextd.Alert]{Body: newList(items, next)}, nil
}
