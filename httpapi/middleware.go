package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/contextd/contextd"
)

// The gateway: each middleware is a func(http.Handler) http.Handler, and
// NewHandler composes them in one place (see chain in handler.go).

// reqState travels in the request context from the outermost middleware to
// the handlers; inner layers fill in what they learn (the tenant).
//
// A reqState is also the request's context from observe inward: it embeds
// the context it was made from and answers Value(stateKey{}) with itself,
// and it holds the request's recorder, so that observe makes one object
// where it made three (state, context.WithValue, recorder).
type reqState struct {
	context.Context // the request's context before observe

	id        string
	route     string // the route pattern without its method, "" when no route matched
	matched   bool   // the mux has a route (pattern "METHOD /path") for the request
	tenant    string
	principal string // who: key:<id> or jwt:<subject> (contextd.AuditPrincipal), never a secret
	traceID   string // the request's trace, "" when it is not traced
	base      *slog.Logger
	logOnce   sync.Once
	log       *slog.Logger // base with the request id (and trace id); made on first use
	start     time.Time    // when observe took the request
	rec       recorder     // the response's status and size
}

// Value implements context.Context: the state itself for stateKey{}, else
// the embedded context's value.
func (st *reqState) Value(key any) any {
	if _, ok := key.(stateKey); ok {
		return st
	}
	return st.Context.Value(key)
}

// logger returns the request's logger: the server's with the request id
// and, when traced, the trace id. It is made on first use, since most
// requests log nothing but their access line (written without it).
func (st *reqState) logger() *slog.Logger {
	st.logOnce.Do(func() {
		l := st.base.With(slog.String("requestId", st.id))
		if st.traceID != "" {
			l = l.With(slog.String("traceId", st.traceID))
		}
		st.log = l
	})
	return st.log
}

type stateKey struct{}

func stateFrom(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

// loggerFrom returns the request's logger (with its request id), or the
// default logger outside a request.
func loggerFrom(ctx context.Context) *slog.Logger {
	if st := stateFrom(ctx); st != nil && st.base != nil {
		return st.logger()
	}
	return slog.Default()
}

// recorder remembers the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController (and huma's read deadlines) reach the
// connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush implements http.Flusher for streaming responses.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

// requestIDHeader is X-Request-ID in its canonical form (as http.Header
// keeps it).
const requestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an incoming X-Request-ID we are willing to reuse.
const maxRequestIDLen = 128

// saneRequestID reports whether an incoming X-Request-ID can be logged and
// echoed as is: 1..128 characters of letters, digits and -_.:/+=@.
func saneRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-_.:/+=@", c) >= 0:
		default:
			return false
		}
	}
	return true
}

var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// observe gives the request its id and logger, counts it in the metrics
// and writes one access log line when it is done.
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// "X-Request-Id" is the canonical form of X-Request-ID: the map is
		// read and written as Header.Get and Set would, without making the
		// canonical key anew on every request.
		var id string
		if v := r.Header[requestIDHeader]; len(v) > 0 {
			id = v[0]
		}
		if !saneRequestID(id) {
			id = contextd.NewID(s.now())
		}
		w.Header()[requestIDHeader] = []string{id}
		st := &reqState{Context: r.Context(), id: id, base: s.log, start: start}
		// The route is known before authentication and rate limiting, so
		// their 401s and 429s are counted under the route they were for.
		if _, pattern := s.mux.Handler(r); pattern != "" {
			if _, path, ok := strings.Cut(pattern, " "); ok {
				st.route, st.matched = path, true
			}
		}
		rec := &st.rec
		rec.ResponseWriter = w
		method := r.Method
		if !knownMethods[method] {
			method = "OTHER"
		}
		s.metrics.inFlight.Inc()
		defer func() {
			s.metrics.inFlight.Dec()
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			label := st.route // set by the router; bounded by the route table
			if label == "" {
				label = "unmatched"
			}
			d := time.Since(start)
			s.metrics.observe(label, method, status, d)
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			h, ctx := s.log.Handler(), r.Context()
			if !h.Enabled(ctx, level) {
				return
			}
			// The same line as st.logger() would write, without making it,
			// and as Logger.LogAttrs would, without its look-up of the
			// caller (runtime.Callers, ~2% of the CPU of a get): the
			// source of this line would always be this function. Its time
			// is the end of the request, d after its start (no second
			// clock reading).
			line := slog.NewRecord(start.Add(d), level, "request", 0)
			line.AddAttrs(
				slog.String("requestId", st.id),
				traceAttr(st.traceID),
				slog.String("method", r.Method),
				slog.String("route", label),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Float64("durationMs", float64(d.Microseconds())/1000),
				slog.Int64("bytes", rec.bytes),
				slog.String("tenant", st.tenant),
				slog.String("principal", st.principal),
			)
			_ = h.Handle(ctx, line) // as LogAttrs: a failing log must not fail the request
		}()
		next.ServeHTTP(rec, r.WithContext(st))
	})
}

// recoverPanics turns a panic into a logged 500 problem.
func (s *server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			loggerFrom(r.Context()).LogAttrs(r.Context(), slog.LevelError, "panic",
				slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))
			if rec, ok := w.(*recorder); ok && rec.status != 0 {
				return // too late for a problem document
			}
			writeProblem(w, newProblem(http.StatusInternalServerError, "internal error"))
		}()
		next.ServeHTTP(w, r)
	})
}

// CSPs: API answers load nothing; the docs page runs its own inline script
// and style (allowed by hash) and fetches /openapi.json.
const apiCSP = "default-src 'none'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries.
func (s *server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Assigned as the shared values of fastpath.go: the same headers
		// as h.Set would give, without a new slice per header and response.
		h["X-Content-Type-Options"] = hdrNosniff
		h["X-Frame-Options"] = hdrDeny
		h["Referrer-Policy"] = hdrNoReferrer
		h["Cross-Origin-Opener-Policy"] = hdrSameOrigin
		h["Permissions-Policy"] = hdrPermissions
		if r.TLS != nil {
			// Only over TLS: HSTS received over plain HTTP is ignored anyway,
			// and a plain-HTTP development server must not pin browsers.
			h["Strict-Transport-Security"] = hdrHSTS
		}
		if r.URL.Path == "/docs" {
			h.Set("Content-Security-Policy", s.docsCSP)
		} else {
			h["Content-Security-Policy"] = hdrAPICSP
		}
		if strings.HasPrefix(r.URL.Path, "/v1/") || strings.HasPrefix(r.URL.Path, "/health") {
			h["Cache-Control"] = hdrNoStore
		}
		next.ServeHTTP(w, r)
	})
}

// CORS settings.
const (
	corsAllowMethods  = "GET, POST, PATCH, DELETE, OPTIONS"
	corsAllowHeaders  = "Authorization, X-API-Key, If-Match, If-None-Match, Content-Type, X-Request-ID, Idempotency-Key"
	corsExposeHeaders = "ETag, Location, X-Request-ID, Retry-After, WWW-Authenticate, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Idempotent-Replayed"
	corsMaxAge        = "600"
)

// cors answers preflight requests and marks responses for allowed origins.
// With no CORSOrigin configured it does nothing.
func (s *server) cors(next http.Handler) http.Handler {
	if !s.corsAll && len(s.corsOrigins) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		allowed := false
		if origin != "" {
			h.Add("Vary", "Origin")
			switch {
			case s.corsAll:
				h.Set("Access-Control-Allow-Origin", "*")
				allowed = true
			case s.corsOrigins[origin]:
				h.Set("Access-Control-Allow-Origin", origin)
				// Credentials (cookies, Authorization from the browser) only
				// for origins named in the list, never for "*".
				h.Set("Access-Control-Allow-Credentials", "true")
				allowed = true
			}
		}
		if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			if allowed {
				h.Set("Access-Control-Allow-Methods", corsAllowMethods)
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", corsMaxAge)
			}
			if st := stateFrom(r.Context()); st != nil {
				st.route = "preflight"
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allowed {
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		}
		next.ServeHTTP(w, r)
	})
}

// batchPaths take the larger body limit.
var batchPaths = map[string]bool{"/v1/contexts/batch": true, "/v1/memories/batch": true, "/v1/import": true}

func (s *server) bodyLimit(path string) int64 {
	if batchPaths[path] {
		return s.maxBatchBody
	}
	return s.maxBody
}

// limitBody refuses bodies over the limit of their route with 413, before
// reading them when Content-Length tells, while reading them otherwise.
func (s *server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		limit := s.bodyLimit(r.URL.Path)
		if r.ContentLength > limit {
			w.Header().Set("Connection", "close")
			writeProblem(w, newProblem(http.StatusRequestEntityTooLarge,
				"request body is too large: the limit is "+strconv.FormatInt(limit, 10)+" bytes"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// timeout bounds the time a request may take; stores give up when the
// context ends and the client gets a 503.
func (s *server) timeout(next http.Handler) http.Handler {
	if s.requestTimeout <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// context.WithTimeout, with its timer made only when waited on (lazydeadline.go).
		ctx := newLazyDeadline(r.Context(), time.Now().Add(s.requestTimeout))
		defer ctx.stop()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// route hands the request to the mux, noting the route pattern for logs and
// metrics, and answers 404 and 405 with problem documents.
func (s *server) route(w http.ResponseWriter, r *http.Request) {
	st := stateFrom(r.Context())
	if st != nil && st.matched { // observe has matched it (the request is unchanged since)
		if st.route == fastGetRoute && s.serveFastGet(w, r) {
			return
		}
		if st.route == fastHealthRoute && s.serveFastHealth(w, r) {
			return
		}
		s.mux.ServeHTTP(w, r)
		return
	}
	h, pattern := s.mux.Handler(r)
	if _, path, ok := strings.Cut(pattern, " "); ok { // every route is "METHOD /path"
		if st != nil {
			st.route = path
		}
		s.mux.ServeHTTP(w, r)
		return
	}
	if pattern != "" { // a redirect to the cleaned path
		s.mux.ServeHTTP(w, r)
		return
	}
	// Ask the mux what it would answer (404, or 405 with Allow), then say it
	// as a problem.
	probe := &statusProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		if allow := probe.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		writeProblem(w, newProblem(http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed on "+r.URL.Path))
		return
	}
	writeProblem(w, newProblem(http.StatusNotFound, "no route for "+r.URL.Path))
}

// statusProbe captures what a fallback handler of the mux would answer.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header { return p.header }
func (p *statusProbe) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}
func (p *statusProbe) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return len(b), nil
}
