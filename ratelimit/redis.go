package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/contextd/contextd"
	"github.com/redis/go-redis/v9"
)

// gcraScript is one GCRA step, atomic in Redis. The clock is the Redis
// server's (TIME), so every replica decides on the same time line even when
// their own clocks drift. KEYS[1] the key; ARGV[1] the emission interval and
// ARGV[2] the burst. Times are in microseconds (exact in Lua's doubles until
// the year 2255). Returns {allowed, remaining, reset µs, retry-after µs}.
const gcraScript = `
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * burst
if now < allow_at then
  return {0, 0, tat - now, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((now - allow_at) / interval), new_tat - now, 0}
`

// Redis is the Backend shared by every contextd process using one Redis.
type Redis struct {
	client redis.UniversalClient
	script *redis.Script
}

var _ Backend = (*Redis)(nil)

// NewRedis returns a backend on client.
func NewRedis(client redis.UniversalClient) *Redis {
	return &Redis{client: client, script: redis.NewScript(gcraScript)}
}

// Take implements Backend: one EVALSHA (EVAL the first time).
func (r *Redis) Take(ctx context.Context, key string, interval time.Duration, burst int) (contextd.RateDecision, error) {
	us := interval.Microseconds()
	if us < 1 {
		us = 1
	}
	res, err := r.script.Run(ctx, r.client, []string{key}, us, burst).Int64Slice()
	if err != nil {
		return contextd.RateDecision{}, fmt.Errorf("redis gcra: %w", err)
	}
	if len(res) != 4 {
		return contextd.RateDecision{}, fmt.Errorf("redis gcra: %d values, want 4", len(res))
	}
	return contextd.RateDecision{Allowed: res[0] == 1, Limit: burst, Remaining: int(res[1]),
		Reset: time.Duration(res[2]) * time.Microsecond, RetryAfter: time.Duration(res[3]) * time.Microsecond}, nil
}

// Open connects to the Redis of url (redis://[:password@]host:port/db or
// rediss:// for TLS) and checks it answers.
func Open(ctx context.Context, url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	opts.ReadTimeout = 500 * time.Millisecond // a limiter must not hold requests up
	opts.WriteTimeout = 500 * time.Millisecond
	opts.DialTimeout = 2 * time.Second
	c := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis %s: %w", opts.Addr, err)
	}
	return c, nil
}
