package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/httpapi"
)

// TestErrorStatuses produces every error status of the contract and checks
// that each is a problem document.
func TestErrorStatuses(t *testing.T) {
	fs := &faultStore{}
	e := newEnv(t,
		withStore(func(s contextd.Store) contextd.Store { fs.Store = s; return fs }),
		withConfig(func(c *httpapiConfig) {
			c.Limiter = &fakeLimiter{deny: map[string]bool{"k:tenant-b/": true}}
			c.RequestTimeout = 100 * time.Millisecond
		}))
	c := e.create("/v1/contexts", `{"id":"c1","title":"x"}`, "writer")
	cases := []apiCase{
		{"400 malformed JSON", post, "/v1/contexts", `{`, "writer", nil, 400, ""},
		{"401 no credentials", get, "/v1/contexts", "", "", nil, 401, ""},
		{"403 role", post, "/v1/contexts", `{"title":"x"}`, "reader", nil, 403, ""},
		{"404 missing", get, "/v1/contexts/nope", "", "reader", nil, 404, ""},
		{"404 unknown route", get, "/v1/nothing/here", "", "reader", nil, 404, "no route"},
		{"404 unknown route outside v1", get, "/nothing", "", "", nil, 404, "no route"},
		{"404 trailing slash", get, "/v1/contexts/", "", "reader", nil, 404, ""},
		{"405 method", http.MethodPut, "/v1/contexts/{c}", `{"title":"x"}`, "writer", nil, 405, "not allowed"},
		{"405 on health", post, "/health", "", "", nil, 405, ""},
		{"409 conflict", post, "/v1/contexts", `{"id":"c1","title":"x"}`, "writer", nil, 409, ""},
		{"412 If-Match", patch, "/v1/contexts/{c}", `{"title":"y"}`, "writer", []string{"If-Match", `"9"`}, 412, ""},
		{"413 too large", post, "/v1/contexts", `{"title":"` + strings.Repeat("x", 3<<20) + `"}`, "writer", nil, 413, ""},
		{"415 content type", post, "/v1/contexts", `{"title":"x"}`, "writer", []string{"Content-Type", "text/csv"}, 415, ""},
		{"422 invalid", post, "/v1/contexts", `{"title":""}`, "writer", nil, 422, ""},
		{"429 limiter", get, "/v1/contexts", "", "writerB", nil, 429, ""},
		{"429 from the store", get, "/v1/contexts/ratelimited", "", "reader", nil, 429, "slow down"},
		{"503 from the store", get, "/v1/contexts/unavailable", "", "reader", nil, 503, "restarting"},
		{"503 on timeout", get, "/v1/contexts/slow", "", "reader", nil, 503, ""},
	}
	e.run(t, cases, map[string]string{"c": c})

	w := e.do(get, "/v1/contexts", "", "writerB")
	if w.Header().Get("Retry-After") != "2" {
		t.Errorf("429 Retry-After %q, want 2 (1.5 s rounded up)", w.Header().Get("Retry-After"))
	}
	w = e.do(get, "/v1/contexts/ratelimited", "", "reader")
	if w.Header().Get("Retry-After") == "" {
		t.Errorf("429 from the store: no Retry-After")
	}
	w = e.do(http.MethodPut, "/v1/contexts/"+c, "", "writer")
	if allow := w.Header().Get("Allow"); !strings.Contains(allow, "PATCH") || !strings.Contains(allow, "DELETE") {
		t.Errorf("405 Allow %q", allow)
	}

	// 500: a store failure is logged with the request id; the client sees
	// only "internal error".
	w = e.do(get, "/v1/contexts/boom", "", "reader", "X-Request-ID", "req-boom-1")
	p := checkProblem(t, w)
	if w.Code != 500 || p["detail"] != "internal error" || strings.Contains(w.Body.String(), "disk") {
		t.Errorf("internal error: %d %s", w.Code, w.Body)
	}
	logs := e.logs.String()
	if n := strings.Count(logs, "disk on fire"); n != 1 {
		t.Errorf("the internal error is logged %d times, want once:\n%s", n, logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "disk on fire") && !strings.Contains(line, "requestId=req-boom-1") {
			t.Errorf("internal error logged without its request id: %s", line)
		}
	}

	// A panic is a 500 problem, logged, and the server goes on.
	w = e.do(get, "/v1/contexts/panic", "", "reader", "X-Request-ID", "req-panic")
	checkProblem(t, w)
	if w.Code != 500 || !strings.Contains(e.logs.String(), "injected panic") {
		t.Errorf("panic: %d %s", w.Code, w.Body)
	}
	if w := e.do(get, "/v1/contexts/"+c, "", "reader"); w.Code != 200 {
		t.Errorf("after a panic: %d", w.Code)
	}

	// 503 from readiness.
	fs.pingErr = contextd.Errorf(contextd.EUNAVAILABLE, "database locked")
	w = e.do(get, "/health/ready", "", "")
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"status":"unavailable"`) ||
		!strings.Contains(w.Body.String(), `"store":{"status":"unavailable"`) {
		t.Errorf("ready with a failing store: %d %s", w.Code, w.Body)
	}
	if w := e.do(get, "/health", "", ""); w.Code != 200 {
		t.Errorf("liveness depends on the store: %d", w.Code)
	}
	fs.pingErr = nil
	if w := e.do(get, "/health/ready", "", ""); w.Code != 200 {
		t.Errorf("ready: %d %s", w.Code, w.Body)
	}
}

// TestGatewayHeaders covers request ids, security headers and the access log.
func TestGatewayHeaders(t *testing.T) {
	e := newEnv(t)
	w := e.do(get, "/v1/contexts", "", "reader", "X-Request-ID", "abc-123")
	if got := w.Header().Get("X-Request-ID"); got != "abc-123" {
		t.Errorf("sane X-Request-ID not kept: %q", got)
	}
	for _, bad := range []string{"has space", strings.Repeat("a", 200), "new\u00e9line"} {
		w := e.do(get, "/health", "", "", "X-Request-ID", bad)
		if got := w.Header().Get("X-Request-ID"); got == bad || got == "" {
			t.Errorf("X-Request-ID %q: answered %q", bad, got)
		}
	}
	w = e.do(get, "/health", "", "")
	if len(w.Header().Get("X-Request-ID")) != 26 {
		t.Errorf("made X-Request-ID %q is not a ULID", w.Header().Get("X-Request-ID"))
	}
	for _, path := range []string{"/v1/contexts", "/health", "/nothing", "/openapi.json"} {
		w := e.do(get, path, "", "reader")
		h := w.Header()
		for k, v := range map[string]string{
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "no-referrer",
			"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		} {
			if h.Get(k) != v {
				t.Errorf("%s: %s %q, want %q", path, k, h.Get(k), v)
			}
		}
	}
	if cc := e.do(get, "/v1/contexts", "", "reader").Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("/v1 Cache-Control %q", cc)
	}
	if e.do(get, "/v1/contexts", "", "reader").Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS headers without CORSOrigin")
	}

	// One access log line per request, with the route pattern and tenant.
	e.do(get, "/v1/contexts/some-id", "", "reader", "X-Request-ID", "log-me")
	var line string
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, "requestId=log-me") {
			if line != "" {
				t.Errorf("two log lines for one request:\n%s\n%s", line, l)
			}
			line = l
		}
	}
	for _, want := range []string{"msg=request", "method=GET", "route=/v1/contexts/{id}", "status=404", "durationMs=", "bytes=", "tenant=tenant-a"} {
		if !strings.Contains(line, want) {
			t.Errorf("access log line lacks %q: %s", want, line)
		}
	}
}

// TestCORS covers preflight and allowed origins.
func TestCORS(t *testing.T) {
	list := newEnv(t, withConfig(func(c *httpapiConfig) { c.CORSOrigin = "https://app.example, https://admin.example" }))
	pre := func(e *testEnv, origin string) *httptest.ResponseRecorder {
		return e.do(http.MethodOptions, "/v1/contexts", "", "", "Origin", origin,
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	}
	w := pre(list, "https://app.example")
	h := w.Header()
	if w.Code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("preflight: %d %v", w.Code, h)
	}
	for _, want := range []string{"Authorization", "X-API-Key", "If-Match", "Content-Type"} {
		if !strings.Contains(h.Get("Access-Control-Allow-Headers"), want) {
			t.Errorf("Allow-Headers lacks %s: %q", want, h.Get("Access-Control-Allow-Headers"))
		}
	}
	for _, want := range []string{"GET", "POST", "PATCH", "DELETE"} {
		if !strings.Contains(h.Get("Access-Control-Allow-Methods"), want) {
			t.Errorf("Allow-Methods lacks %s", want)
		}
	}
	if w := pre(list, "https://evil.example"); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from a foreign origin allowed")
	}
	w = list.do(get, "/v1/contexts", "", "reader", "Origin", "https://admin.example")
	for _, want := range []string{"ETag", "Location", "X-Request-ID"} {
		if !strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), want) {
			t.Errorf("Expose-Headers lacks %s: %q", want, w.Header().Get("Access-Control-Expose-Headers"))
		}
	}
	if w.Header().Get("Access-Control-Allow-Origin") != "https://admin.example" || !strings.Contains(w.Header().Get("Vary"), "Origin") {
		t.Errorf("simple request: %v", w.Header())
	}

	star := newEnv(t, withConfig(func(c *httpapiConfig) { c.CORSOrigin = "*" }))
	if w := pre(star, "https://anywhere.example"); w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight with *: %d %v", w.Code, w.Header())
	}
	// 401s carry CORS headers too, so browsers can read them.
	if w := star.do(get, "/v1/contexts", "", "", "Origin", "https://x.example"); w.Code != 401 || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("401 with CORS: %d %v", w.Code, w.Header())
	}

	if _, err := httpapi.NewHandler(httpapi.Config{Service: list.svc, CORSOrigin: "app.example"}); err == nil {
		t.Errorf("an origin without a scheme is accepted")
	}
}

// TestHealth covers the three health routes.
func TestHealth(t *testing.T) {
	e := newEnv(t)
	if w := e.do(get, "/health", "", ""); w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"status":"ok"}` {
		t.Errorf("/health: %d %s", w.Code, w.Body)
	}
	m := e.mustJSON(200, get, "/health/ready", "", "")
	store, _ := m["checks"].(map[string]any)["store"].(map[string]any)
	if m["status"] != "ok" || store["status"] != "ok" || store["latencyMs"] == nil {
		t.Errorf("/health/ready: %v", m)
	}
	d := e.mustJSON(200, get, "/health/details", "", "admin")
	for _, k := range []string{"version", "goVersion", "uptimeSeconds", "goroutines", "memory", "store", "components"} {
		if _, ok := d[k]; !ok {
			t.Errorf("/health/details lacks %s: %v", k, d)
		}
	}
	if d["version"] != "test" || d["store"].(map[string]any)["kind"] != "sqlite" {
		t.Errorf("/health/details: %v", d)
	}

	// Custom checks.
	c := newEnv(t, withConfig(func(c *httpapiConfig) {
		c.Checks = map[string]func(context.Context) error{
			"store": func(context.Context) error { return nil },
			"redis": func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
		}
		c.ReadyTimeout = 20 * time.Millisecond
	}))
	w := c.do(get, "/health/ready", "", "")
	if w.Code != 503 || !strings.Contains(w.Body.String(), `"redis":{"status":"unavailable"`) {
		t.Errorf("ready with a hanging check: %d %s", w.Code, w.Body)
	}
}

// TestMetrics checks the Prometheus text and the store decorator.
func TestMetrics(t *testing.T) {
	var e *testEnv
	e = newEnv(t, func(o *envOptions) {
		s, err := httpapi.InstrumentStore(o.store, o.reg)
		if err != nil {
			t.Fatal(err)
		}
		o.store = s
	})
	e.create("/v1/contexts", `{"title":"x"}`, "writer")
	e.do(get, "/v1/contexts/nope", "", "reader")
	e.do(get, "/no/such/route/1", "", "")
	e.do(get, "/no/such/route/2", "", "")
	w := e.do(get, "/metrics", "", "")
	body := w.Body.String()
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	for _, want := range []string{
		`contextd_http_requests_total{method="POST",route="/v1/contexts",status="201"} 1`,
		`contextd_http_requests_total{method="GET",route="/v1/contexts/{id}",status="404"} 1`,
		`contextd_http_requests_total{method="GET",route="unmatched",status="404"} 2`,
		`contextd_http_request_duration_seconds_bucket{method="POST",route="/v1/contexts",le=`,
		`contextd_http_requests_in_flight 1`,
		`contextd_store_operation_duration_seconds_count{op="create_contexts"} 1`,
		`contextd_store_operation_duration_seconds_count{op="api_key_by_hash"}`,
		`go_goroutines`,
		`process_cpu_seconds_total`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// A second handler and decorator on the same registry share the metrics.
	if _, err := httpapi.InstrumentStore(e.store, e.reg); err != nil {
		t.Errorf("second InstrumentStore: %v", err)
	}
	if _, err := httpapi.NewHandler(httpapi.Config{Service: e.svc, Registry: e.reg}); err != nil {
		t.Errorf("second handler on one registry: %v", err)
	}
}

// TestOpenAPIAndDocs checks the document and the docs page.
func TestOpenAPIAndDocs(t *testing.T) {
	e := newEnv(t)
	w := e.do(get, "/openapi.json", "", "")
	if w.Code != 200 {
		t.Fatalf("/openapi.json: %d", w.Code)
	}
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			SecuritySchemes map[string]map[string]any `json:"securitySchemes"`
			Schemas         map[string]struct {
				AdditionalProperties any `json:"additionalProperties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	if doc.Components.SecuritySchemes["bearer"]["scheme"] != "bearer" || doc.Components.SecuritySchemes["apiKey"]["name"] != "X-API-Key" {
		t.Errorf("security schemes: %v", doc.Components.SecuritySchemes)
	}
	for _, r := range []string{
		"POST /v1/contexts", "GET /v1/contexts", "GET /v1/contexts/{id}", "PATCH /v1/contexts/{id}", "DELETE /v1/contexts/{id}",
		"POST /v1/contexts/{id}/relationships", "GET /v1/contexts/{id}/relationships", "DELETE /v1/relationships/{id}",
		"GET /v1/contexts/{id}/graph", "POST /v1/search", "GET /v1/search", "GET /v1/search/stats",
		"POST /v1/memories", "GET /v1/memories", "GET /v1/memories/{id}", "PATCH /v1/memories/{id}", "DELETE /v1/memories/{id}",
		"POST /v1/memories/search", "POST /v1/sessions", "GET /v1/sessions", "GET /v1/sessions/{id}", "DELETE /v1/sessions/{id}",
		"GET /v1/sessions/{id}/memories", "GET /v1/sessions/{id}/contexts", "GET /health", "GET /health/ready", "GET /health/details",
		"POST /v1/contexts/batch", "POST /v1/memories/batch", "GET /v1/admin/api-keys", "POST /v1/admin/api-keys", "DELETE /v1/admin/api-keys/{id}",
	} {
		method, path, _ := strings.Cut(r, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("OpenAPI lacks %s", r)
		}
	}
	for _, name := range []string{"ContextCreateRequest", "RelationshipRequest", "SearchRequest", "SearchFilters", "MemoryPatchRequest", "ContextBatchRequest"} {
		if ap := doc.Components.Schemas[name].AdditionalProperties; ap != false {
			t.Errorf("schema %s: additionalProperties %v, want false", name, ap)
		}
	}

	w = e.do(get, "/docs", "", "")
	csp := w.Header().Get("Content-Security-Policy")
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") ||
		!strings.Contains(w.Body.String(), "/openapi.json") || strings.Contains(w.Body.String(), "https://") {
		t.Errorf("/docs: %d %s", w.Code, w.Header())
	}
	if !strings.Contains(csp, "script-src 'sha256-") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("/docs CSP: %q", csp)
	}
}

// TestHealthIgnoresQuery: probes may add their own query parameters.
func TestHealthIgnoresQuery(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/health?probe=lb", "/health/ready?x=1"} {
		if w := e.do(get, p, "", ""); w.Code != 200 {
			t.Errorf("%s: %d %s", p, w.Code, w.Body)
		}
	}
}

// TestRealServer runs the handler behind a real HTTP server (read deadlines,
// chunked bodies, keep-alive).
func TestRealServer(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	send := func(method, path string, body io.Reader) *http.Response {
		t.Helper()
		r, err := http.NewRequest(method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+e.key("writer"))
		r.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := send(post, "/v1/contexts", strings.NewReader(`{"title":"over the wire"}`))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, readAll(t, resp.Body))
	}
	loc := resp.Header.Get("Location")
	if resp := send(get, loc, nil); resp.StatusCode != 200 || !strings.Contains(readAll(t, resp.Body), "over the wire") {
		t.Errorf("get %s: %d", loc, resp.StatusCode)
	}
	// A chunked body over the limit (the reader hides its length).
	big := io.MultiReader(strings.NewReader(`{"title":"x","content":"`), strings.NewReader(strings.Repeat("a", 3<<20)), strings.NewReader(`"}`))
	if resp := send(post, "/v1/contexts", big); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked big body: %d", resp.StatusCode)
	}
	if resp := send(get, "/v1/contexts", nil); resp.StatusCode != 200 {
		t.Errorf("after a 413: %d", resp.StatusCode)
	}
}
