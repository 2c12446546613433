// Package ratelimit limits request rates with GCRA (the generic cell rate
// algorithm): each key keeps one number, its theoretical arrival time (TAT),
// so a decision is one read-modify-write. Limits are "Rate requests per
// minute, up to Burst at once". The state lives in process (Memory) or in
// Redis (Redis, one atomic Lua script) so that replicas share one limit.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/contextd/contextd"
)

// Backend stores the TAT of each key and applies one GCRA step atomically.
type Backend interface {
	// Take applies one request of key against a limit of burst requests at
	// once, refilled one every interval.
	Take(ctx context.Context, key string, interval time.Duration, burst int) (contextd.RateDecision, error)
}

// Config describes a Limiter.
type Config struct {
	// Rate is the sustained rate in requests per minute; must be positive.
	Rate int
	// Burst is how many requests may arrive at once; 0 means Rate (a whole
	// minute's allowance).
	Burst int
	// Backend keeps the state; nil means a new Memory with the real clock.
	Backend Backend
	// FailOpen lets requests through when the backend fails (the error is
	// logged); false refuses them (the gateway answers 503).
	FailOpen bool
	// Prefix is put before every key (a Redis key namespace, "contextd:rl:").
	Prefix string
	// Logger receives backend failures (at most one line every 10 s). nil
	// means slog.Default().
	Logger *slog.Logger
}

// Limiter is a contextd.RateLimiter over a Backend.
type Limiter struct {
	interval time.Duration
	burst    int
	backend  Backend
	failOpen bool
	prefix   string
	log      *slog.Logger
	lastLog  atomic.Int64 // unix nanos of the last failure logged
}

var _ contextd.RateLimiter = (*Limiter)(nil)

// New returns a Limiter of cfg.Rate requests per minute.
func New(cfg Config) (*Limiter, error) {
	if cfg.Rate <= 0 {
		return nil, errors.New("ratelimit: the rate must be positive")
	}
	if cfg.Burst < 0 {
		return nil, errors.New("ratelimit: the burst must not be negative")
	}
	l := &Limiter{interval: time.Minute / time.Duration(cfg.Rate), burst: cfg.Burst, backend: cfg.Backend,
		failOpen: cfg.FailOpen, prefix: cfg.Prefix, log: cfg.Logger}
	if l.burst == 0 {
		l.burst = cfg.Rate
	}
	if l.backend == nil {
		l.backend = NewMemory(nil)
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	return l, nil
}

// Allow implements contextd.RateLimiter.
func (l *Limiter) Allow(ctx context.Context, key string) contextd.RateDecision {
	d, err := l.backend.Take(ctx, l.prefix+key, l.interval, l.burst)
	if err == nil {
		return d
	}
	now := time.Now().UnixNano()
	if last := l.lastLog.Load(); now-last > int64(10*time.Second) && l.lastLog.CompareAndSwap(last, now) {
		l.log.Warn("rate limiter backend failed", "err", err, "failOpen", l.failOpen)
	}
	return contextd.RateDecision{Allowed: l.failOpen, Limit: l.burst, Remaining: 0,
		RetryAfter: time.Second, Err: fmt.Errorf("ratelimit: %w", err)}
}

// gcra applies one request to tat (the stored TAT, zero for a new key) at
// time now: the new TAT to store (zero when refused) and the decision.
func gcra(now, tat time.Time, interval time.Duration, burst int) (time.Time, contextd.RateDecision) {
	if tat.Before(now) {
		tat = now
	}
	window := interval * time.Duration(burst) // the whole allowance
	newTAT := tat.Add(interval)
	allowAt := newTAT.Add(-window)
	if now.Before(allowAt) {
		return time.Time{}, contextd.RateDecision{Allowed: false, Limit: burst, Remaining: 0,
			Reset: tat.Sub(now), RetryAfter: allowAt.Sub(now)}
	}
	remaining := int(now.Sub(allowAt) / interval)
	return newTAT, contextd.RateDecision{Allowed: true, Limit: burst, Remaining: remaining, Reset: newTAT.Sub(now)}
}

// Memory is the in-process Backend: one TAT per key in a map. Keys whose
// TAT has passed are forgotten once a minute.
type Memory struct {
	now func() time.Time

	mu        sync.Mutex
	tats      map[string]time.Time
	lastSweep time.Time
}

var _ Backend = (*Memory)(nil)

// NewMemory returns an empty in-process backend; now is its clock (nil:
// time.Now).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, tats: map[string]time.Time{}}
}

// Take implements Backend.
func (m *Memory) Take(_ context.Context, key string, interval time.Duration, burst int) (contextd.RateDecision, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Sub(m.lastSweep) > time.Minute {
		for k, t := range m.tats {
			if !t.After(now) {
				delete(m.tats, k)
			}
		}
		m.lastSweep = now
	}
	tat, d := gcra(now, m.tats[key], interval, burst)
	if d.Allowed {
		m.tats[key] = tat
	}
	return d, nil
}

// Len is the number of keys held (for tests and metrics).
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tats)
}
