package ratelimit_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/ratelimit"
	"github.com/redis/go-redis/v9"
)

// fakeClock moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newMemLimiter(t *testing.T, rate, burst int) (*ratelimit.Limiter, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	l, err := ratelimit.New(ratelimit.Config{Rate: rate, Burst: burst, Backend: ratelimit.NewMemory(clk.Now)})
	if err != nil {
		t.Fatal(err)
	}
	return l, clk
}

func TestGCRABurstThenPaced(t *testing.T) {
	ctx := context.Background()
	l, clk := newMemLimiter(t, 60, 5) // one a second, five at once
	for i := range 5 {
		d := l.Allow(ctx, "k")
		if !d.Allowed || d.Limit != 5 || d.Remaining != 4-i {
			t.Fatalf("request %d: %+v, want allowed with %d remaining", i, d, 4-i)
		}
	}
	d := l.Allow(ctx, "k")
	if d.Allowed || d.Remaining != 0 || d.RetryAfter != time.Second {
		t.Fatalf("sixth request: %+v, want refused, retry after 1s", d)
	}
	if d.Reset != 5*time.Second {
		t.Errorf("reset %v, want 5s (the whole burst back)", d.Reset)
	}
	clk.Advance(999 * time.Millisecond)
	if d := l.Allow(ctx, "k"); d.Allowed || d.RetryAfter != time.Millisecond {
		t.Fatalf("just before the next slot: %+v", d)
	}
	clk.Advance(time.Millisecond)
	if d := l.Allow(ctx, "k"); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("at the next slot: %+v, want allowed with 0 remaining", d)
	}
	if d := l.Allow(ctx, "k"); d.Allowed {
		t.Fatalf("right after: %+v, want refused", d)
	}
	// Another key is untouched.
	if d := l.Allow(ctx, "other"); !d.Allowed || d.Remaining != 4 {
		t.Fatalf("other key: %+v", d)
	}
	// After a long pause the burst is whole again, never more.
	clk.Advance(time.Hour)
	if d := l.Allow(ctx, "k"); !d.Allowed || d.Remaining != 4 {
		t.Fatalf("after an hour: %+v, want 4 remaining", d)
	}
}

func TestGCRASustainedRate(t *testing.T) {
	ctx := context.Background()
	l, clk := newMemLimiter(t, 600, 10) // 10/s, burst 10
	allowed := 0
	for range 100 * 60 { // a request every 10 ms for 60 s: 100/s offered
		if l.Allow(ctx, "k").Allowed {
			allowed++
		}
		clk.Advance(10 * time.Millisecond)
	}
	// 600 per minute plus the initial burst.
	if allowed < 600 || allowed > 611 {
		t.Fatalf("allowed %d in a minute, want 600..611", allowed)
	}
}

func TestGCRADefaultBurstIsRate(t *testing.T) {
	l, _ := newMemLimiter(t, 3, 0)
	ctx := context.Background()
	for i := range 3 {
		if !l.Allow(ctx, "k").Allowed {
			t.Fatalf("request %d refused", i)
		}
	}
	if d := l.Allow(ctx, "k"); d.Allowed || d.RetryAfter != 20*time.Second {
		t.Fatalf("fourth: %+v, want retry after 20s", d)
	}
}

func TestMemoryForgetsIdleKeys(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	m := ratelimit.NewMemory(clk.Now)
	l, _ := ratelimit.New(ratelimit.Config{Rate: 60, Burst: 2, Backend: m})
	for i := range 100 {
		l.Allow(context.Background(), fmt.Sprint("k", i))
	}
	if m.Len() != 100 {
		t.Fatalf("len %d", m.Len())
	}
	clk.Advance(2 * time.Minute)
	l.Allow(context.Background(), "new")
	if m.Len() != 1 {
		t.Fatalf("after the sweep: %d keys, want 1", m.Len())
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := ratelimit.New(ratelimit.Config{Rate: 0}); err == nil {
		t.Error("rate 0 accepted")
	}
	if _, err := ratelimit.New(ratelimit.Config{Rate: 5, Burst: -1}); err == nil {
		t.Error("negative burst accepted")
	}
}

// failingBackend always fails.
type failingBackend struct{}

func (failingBackend) Take(context.Context, string, time.Duration, int) (d contextd.RateDecision, err error) {
	return d, fmt.Errorf("backend down")
}

func TestFailOpenAndClosed(t *testing.T) {
	for _, open := range []bool{true, false} {
		l, err := ratelimit.New(ratelimit.Config{Rate: 10, Backend: failingBackend{}, FailOpen: open})
		if err != nil {
			t.Fatal(err)
		}
		d := l.Allow(context.Background(), "k")
		if d.Err == nil || d.Allowed != open {
			t.Errorf("failOpen=%v: %+v", open, d)
		}
	}
}

// redisClient connects to REDIS_URL, or skips.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		t.Skip("REDIS_URL not set: the Redis integration tests need a redis-server")
	}
	c, err := ratelimit.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRedisSharedLimit: two limiters with their own clients (two contextd
// processes) share one limit on one Redis, also when hammered concurrently.
func TestRedisSharedLimit(t *testing.T) {
	c1, c2 := redisClient(t), redisClient(t)
	prefix := fmt.Sprintf("contextd-test:%d:", time.Now().UnixNano())
	mk := func(c *redis.Client) *ratelimit.Limiter {
		l, err := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 20, Backend: ratelimit.NewRedis(c), Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a, b := mk(c1), mk(c2)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := range 8 {
		l := a
		if i%2 == 1 {
			l = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				d := l.Allow(context.Background(), "shared")
				if d.Err != nil {
					t.Error(d.Err)
					return
				}
				if d.Allowed {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	// 80 requests against a burst of 20 at 1/min: exactly 20 pass (a 21st
	// would need a minute to go by).
	if n := allowed.Load(); n != 20 {
		t.Fatalf("%d requests passed across two limiters, want exactly 20", n)
	}
	d := b.Allow(context.Background(), "shared")
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Minute || d.Limit != 20 {
		t.Fatalf("after the burst: %+v", d)
	}
	if d := a.Allow(context.Background(), "another"); !d.Allowed || d.Remaining != 19 {
		t.Fatalf("another key: %+v", d)
	}
}

// TestRedisPacing: after the burst a slot opens every interval.
func TestRedisPacing(t *testing.T) {
	c := redisClient(t)
	prefix := fmt.Sprintf("contextd-test:%d:", time.Now().UnixNano())
	l, err := ratelimit.New(ratelimit.Config{Rate: 600, Burst: 2, Backend: ratelimit.NewRedis(c), Prefix: prefix}) // one per 100 ms
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 2 {
		if d := l.Allow(ctx, "p"); !d.Allowed {
			t.Fatalf("burst request %d: %+v", i, d)
		}
	}
	d := l.Allow(ctx, "p")
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 100*time.Millisecond {
		t.Fatalf("third: %+v, want refused for at most 100ms", d)
	}
	time.Sleep(d.RetryAfter + 5*time.Millisecond)
	if d := l.Allow(ctx, "p"); !d.Allowed {
		t.Fatalf("after waiting RetryAfter: %+v", d)
	}
	ttl, err := c.PTTL(ctx, prefix+"p").Result()
	if err != nil || ttl <= 0 || ttl > 400*time.Millisecond {
		t.Fatalf("the key's TTL is %v (%v): keys must expire once idle", ttl, err)
	}
}

// TestRedisDown: a Redis that does not answer fails open or closed as
// configured, and says why.
func TestRedisDown(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	for _, open := range []bool{true, false} {
		l, err := ratelimit.New(ratelimit.Config{Rate: 10, Backend: ratelimit.NewRedis(c), FailOpen: open})
		if err != nil {
			t.Fatal(err)
		}
		d := l.Allow(context.Background(), "k")
		if d.Err == nil || d.Allowed != open {
			t.Errorf("failOpen=%v: %+v", open, d)
		}
	}
}
