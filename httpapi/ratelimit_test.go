package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/httpapi"
	"github.com/contextd/contextd/ratelimit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// TestRateLimitHeaders: a credential's burst passes with RateLimit-*
// headers counting down, the next request is a 429 with Retry-After, other
// credentials are untouched, and the tenant limit holds all of a tenant's
// credentials together.
func TestRateLimitHeaders(t *testing.T) {
	clk := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clk }
	mem := ratelimit.NewMemory(now)
	cred, err := ratelimit.New(ratelimit.Config{Rate: 60, Burst: 3, Backend: mem})
	if err != nil {
		t.Fatal(err)
	}
	tenant, err := ratelimit.New(ratelimit.Config{Rate: 60, Burst: 5, Backend: mem})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withConfig(func(c *httpapi.Config) { c.Limiter, c.TenantLimiter = cred, tenant }))
	for i := range 3 {
		w := e.do(get, "/v1/contexts", "", "reader")
		if w.Code != 200 {
			t.Fatalf("request %d: %d", i, w.Code)
		}
		if got, want := w.Header().Get("RateLimit-Remaining"), fmt.Sprint(2-i); got != want {
			t.Errorf("request %d: RateLimit-Remaining %q, want %s", i, got, want)
		}
		if w.Header().Get("RateLimit-Limit") != "3" || w.Header().Get("RateLimit-Reset") == "" {
			t.Errorf("request %d: RateLimit headers %v", i, w.Header())
		}
	}
	w := e.do(get, "/v1/contexts", "", "reader")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" || w.Header().Get("RateLimit-Remaining") != "0" {
		t.Fatalf("fourth request: %d %v %s", w.Code, w.Header(), w.Body)
	}
	checkProblem(t, w)
	// The writer key has its own allowance, but the tenant's (5) is nearly spent.
	for i, want := range []int{200, 200, 429} {
		if w := e.do(get, "/v1/contexts", "", "writer"); w.Code != want {
			t.Fatalf("writer request %d: %d, want %d", i, w.Code, want)
		}
	}
	// Another tenant is untouched; public routes are never limited.
	if w := e.do(get, "/v1/contexts", "", "writerB"); w.Code != 200 {
		t.Fatalf("tenant-b: %d", w.Code)
	}
	for range 10 {
		if w := e.do(get, "/health", "", ""); w.Code != 200 || w.Header().Get("RateLimit-Limit") != "" {
			t.Fatalf("/health: %d %v", w.Code, w.Header())
		}
	}
	clk = clk.Add(time.Minute)
	if w := e.do(get, "/v1/contexts", "", "reader"); w.Code != 200 {
		t.Fatalf("a minute later: %d", w.Code)
	}
}

// downLimiter cannot decide, failing open or closed.
type downLimiter struct{ open bool }

func (l downLimiter) Allow(context.Context, string) contextd.RateDecision {
	return contextd.RateDecision{Allowed: l.open, Limit: 10, RetryAfter: time.Second, Err: errors.New("redis: connection refused")}
}

func TestRateLimiterDown(t *testing.T) {
	closed := newEnv(t, withConfig(func(c *httpapi.Config) { c.Limiter = downLimiter{open: false} }))
	w := closed.do(get, "/v1/contexts", "", "reader")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("fail closed: %d %v", w.Code, w.Header())
	}
	if !strings.Contains(closed.logs.String(), "rate limiter unavailable") {
		t.Errorf("fail closed was not logged: %s", closed.logs)
	}
	open := newEnv(t, withConfig(func(c *httpapi.Config) { c.Limiter = downLimiter{open: true} }))
	if w := open.do(get, "/v1/contexts", "", "reader"); w.Code != 200 {
		t.Fatalf("fail open: %d", w.Code)
	}
}

// TestRateLimitSharedAcrossProcesses: two handlers, each with its own Redis
// client and limiter (two contextd processes), over one store, enforce one
// limit per credential.
func TestRateLimitSharedAcrossProcesses(t *testing.T) {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		t.Skip("REDIS_URL not set: the Redis integration tests need a redis-server")
	}
	prefix := fmt.Sprintf("contextd-test:%d:", time.Now().UnixNano())
	limiter := func() *ratelimit.Limiter {
		c, err := ratelimit.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		l, err := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 6, Backend: ratelimit.NewRedis(redis.UniversalClient(c)), Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a := newEnv(t, withConfig(func(c *httpapi.Config) { c.Limiter = limiter() }))
	b := a.sibling(withConfig(func(c *httpapi.Config) { c.Limiter = limiter() }))
	passed := 0
	for i := range 10 {
		e := a
		if i%2 == 1 {
			e = b
		}
		switch w := e.do(get, "/v1/contexts", "", "reader"); w.Code {
		case 200:
			passed++
		case 429:
		default:
			t.Fatalf("request %d: %d %s", i, w.Code, w.Body)
		}
	}
	if passed != 6 {
		t.Fatalf("%d of 10 requests passed across two processes, want exactly the burst of 6", passed)
	}
}

// sibling is a second handler (another contextd process) over e's store
// and keys, its config changed by opts.
func (e *testEnv) sibling(opts ...func(*envOptions)) *testEnv {
	e.t.Helper()
	o := &envOptions{store: e.store, reg: prometheus.NewRegistry()}
	o.cfg.JWTSecret = []byte(testJWTSecret)
	for _, f := range opts {
		f(o)
	}
	cfg := o.cfg
	cfg.Service = contextd.NewService(e.store)
	cfg.Registry = o.reg
	cfg.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	h, err := httpapi.NewHandler(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	s := *e
	s.h, s.svc = h, cfg.Service
	return &s
}
