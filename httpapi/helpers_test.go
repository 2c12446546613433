package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/httpapi"
	"github.com/contextd/contextd/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

// testEnv is a handler over a real SQLite store in a temporary directory,
// with API keys for two tenants.
type testEnv struct {
	t     testing.TB
	h     http.Handler
	svc   *contextd.Service
	store contextd.Store
	reg   *prometheus.Registry
	logs  *syncBuffer
	keys  map[string]string // key name -> key
	ids   map[string]string // key name -> key id
}

// testKeys are made for every env: name -> tenant, role.
var testKeys = []struct {
	name, tenant string
	role         contextd.Role
}{
	{"admin", "tenant-a", contextd.RoleAdmin},
	{"writer", "tenant-a", contextd.RoleWriter},
	{"reader", "tenant-a", contextd.RoleReader},
	{"adminB", "tenant-b", contextd.RoleAdmin},
	{"writerB", "tenant-b", contextd.RoleWriter},
}

const testJWTSecret = "test-secret-of-at-least-32-bytes!!"

// newEnv opens a store and builds the handler; opts adjust the store (wrap
// it) and the config before NewHandler.
func newEnv(t testing.TB, opts ...func(*envOptions)) *testEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	o := &envOptions{store: st, reg: prometheus.NewRegistry()}
	o.cfg.JWTSecret = []byte(testJWTSecret)
	for _, f := range opts {
		f(o)
	}
	svc := contextd.NewService(o.store)
	e := &testEnv{t: t, svc: svc, store: o.store, reg: o.reg, logs: &syncBuffer{},
		keys: map[string]string{}, ids: map[string]string{}}
	for _, k := range testKeys {
		rec, key, err := svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: k.tenant, Role: k.role, Name: k.name})
		if err != nil {
			t.Fatalf("key %s: %v", k.name, err)
		}
		e.keys[k.name], e.ids[k.name] = key, rec.ID
	}
	cfg := o.cfg
	cfg.Service = svc
	cfg.Registry = o.reg
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg.Version = "test"
	if cfg.OperatorTenant == "" {
		cfg.OperatorTenant = "tenant-a" // the test's operator: tenant-b is a customer
	}
	e.h, err = httpapi.NewHandler(cfg)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	return e
}

type envOptions struct {
	store contextd.Store
	reg   *prometheus.Registry
	cfg   httpapi.Config
}

// withConfig changes the handler's config.
func withConfig(f func(*httpapi.Config)) func(*envOptions) {
	return func(o *envOptions) { f(&o.cfg) }
}

// withStore wraps the store.
func withStore(wrap func(contextd.Store) contextd.Store) func(*envOptions) {
	return func(o *envOptions) { o.store = wrap(o.store) }
}

// do sends a request. cred is a key name (sent as a bearer token), "x:name"
// (sent as X-API-Key), "raw:<Authorization header>", or "" for none. hdr are
// extra header name/value pairs.
func (e *testEnv) do(method, path, body, cred string, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	}
	switch {
	case cred == "":
	case strings.HasPrefix(cred, "x:"):
		r.Header.Set("X-API-Key", e.key(cred[2:]))
	case strings.HasPrefix(cred, "raw:"):
		r.Header.Set("Authorization", cred[4:])
	default:
		r.Header.Set("Authorization", "Bearer "+e.key(cred))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			r.Header.Del(hdr[i])
		} else {
			r.Header.Set(hdr[i], hdr[i+1])
		}
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func (e *testEnv) key(name string) string {
	e.t.Helper()
	k, ok := e.keys[name]
	if !ok {
		e.t.Fatalf("no key %q", name)
	}
	return k
}

// mustJSON sends a request that must answer want and decodes its body.
func (e *testEnv) mustJSON(want int, method, path, body, cred string, hdr ...string) map[string]any {
	e.t.Helper()
	w := e.do(method, path, body, cred, hdr...)
	if w.Code != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, w.Code, want, w.Body.String())
	}
	if w.Body.Len() == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		e.t.Fatalf("%s %s: body is not a JSON object: %v: %s", method, path, err, w.Body.String())
	}
	return m
}

// create makes a resource and returns its id.
func (e *testEnv) create(path, body, cred string) string {
	e.t.Helper()
	m := e.mustJSON(http.StatusCreated, http.MethodPost, path, body, cred)
	id, _ := m["id"].(string)
	if id == "" {
		e.t.Fatalf("POST %s: no id in %v", path, m)
	}
	return id
}

// checkProblem asserts that w is an RFC 9457 problem with the contract's fields.
func checkProblem(t testing.TB, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("status %d: Content-Type %q, want application/problem+json: %s", w.Code, ct, w.Body.String())
	}
	var p map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("status %d: problem body is not JSON: %v: %q", w.Code, err, w.Body.String())
	}
	for _, k := range []string{"title", "status", "detail", "errors"} {
		if _, ok := p[k]; !ok {
			t.Errorf("status %d: problem has no %q: %s", w.Code, k, w.Body.String())
		}
	}
	if s, _ := p["status"].(float64); int(s) != w.Code {
		t.Errorf("problem status %v, response status %d", p["status"], w.Code)
	}
	if _, ok := p["errors"].([]any); !ok {
		t.Errorf("problem errors is not a list: %s", w.Body.String())
	}
	return p
}

// apiCase is one request of a table test.
type apiCase struct {
	name       string
	method     string
	path       string // may hold {placeholders} replaced by the test's fixtures
	body       string
	cred       string // see testEnv.do
	header     []string
	wantStatus int
	wantBody   string // a substring of the body
}

// run sends every case in order (they may depend on each other's effects).
func (e *testEnv) run(t *testing.T, cases []apiCase, fixtures map[string]string) {
	t.Helper()
	var pairs []string
	for k, v := range fixtures {
		pairs = append(pairs, "{"+k+"}", v)
	}
	rep := strings.NewReplacer(pairs...)
	for _, c := range cases {
		path, body := rep.Replace(c.path), rep.Replace(c.body)
		hdr := make([]string, len(c.header))
		for i, h := range c.header {
			hdr[i] = rep.Replace(h)
		}
		w := e.do(c.method, path, body, c.cred, hdr...)
		if w.Code != c.wantStatus {
			t.Errorf("%s: %s %s: status %d, want %d: %s", c.name, c.method, path, w.Code, c.wantStatus, w.Body.String())
			continue
		}
		if c.wantBody != "" && !strings.Contains(w.Body.String(), rep.Replace(c.wantBody)) {
			t.Errorf("%s: %s %s: body does not contain %q: %s", c.name, c.method, path, rep.Replace(c.wantBody), w.Body.String())
		}
		if w.Code >= 400 {
			checkProblem(t, w)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (the logger).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// faultStore injects failures into GetContext by id: "panic" panics, "boom"
// fails with a plain (internal) error, "unavailable" with EUNAVAILABLE,
// "slow" waits for the context to end.
type faultStore struct {
	contextd.Store
	pingErr error
}

func (s *faultStore) GetContext(ctx context.Context, sc contextd.Scope, id string) (*contextd.Context, error) {
	switch id {
	case "panic":
		panic("injected panic")
	case "boom":
		return nil, errors.New("sqlite: disk on fire at /var/secret/path")
	case "unavailable":
		return nil, contextd.Errorf(contextd.EUNAVAILABLE, "the store is restarting")
	case "ratelimited":
		return nil, contextd.Errorf(contextd.ERATELIMITED, "slow down")
	case "slow":
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.Store.GetContext(ctx, sc, id)
}

func (s *faultStore) Ping(ctx context.Context) error {
	if s.pingErr != nil {
		return s.pingErr
	}
	return s.Store.Ping(ctx)
}

// fakeLimiter refuses every request of the keys in deny.
type fakeLimiter struct{ deny map[string]bool }

func (l *fakeLimiter) Allow(_ context.Context, key string) contextd.RateDecision {
	for k := range l.deny {
		if strings.HasPrefix(key, k) {
			return contextd.RateDecision{Limit: 10, RetryAfter: 1500 * time.Millisecond, Reset: 15 * time.Second}
		}
	}
	return contextd.RateDecision{Allowed: true, Limit: 10, Remaining: 9, Reset: 1500 * time.Millisecond}
}

func readAll(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type httpapiConfig = httpapi.Config

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
