package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the Backend shared by every replica through one Redis. Per
// tenant it keeps a hash (generation and earliest memory expiry), a writing
// counter with a lease, and the entries, each with its TTL:
//
//	<prefix>{<tenant>}          hash: g (generation), e (earliest memory expiry, Unix ms)
//	<prefix>{<tenant>}:w        writes in flight (expires after the write lease)
//	<prefix>{<tenant>}:e:<g>:<key>  an entry
//
// Every step is one Lua script, so each is atomic. A lost hash (Redis
// restarted without persistence, or evicted it) comes back with a
// generation made from Redis's clock in microseconds, above every earlier
// one, so older entries are never read again.
type Redis struct {
	c      *redis.Client
	prefix string
	lease  time.Duration
}

// RedisOptions configure NewRedis.
type RedisOptions struct {
	// URL is redis://[user:password@]host:port[/db] (rediss:// for TLS).
	URL string
	// Prefix starts every key: it keeps deployments sharing one Redis apart.
	Prefix string
	// WriteLease bounds how long a write that could not end (EndWrite
	// failed) keeps its tenant uncached; 0 means 2 minutes. It must be longer
	// than any request.
	WriteLease time.Duration
	// Timeout bounds each Redis command (dial, read, write); 0 means 500 ms.
	Timeout time.Duration
}

// NewRedis connects to Redis and checks that it answers.
func NewRedis(ctx context.Context, o RedisOptions) (*Redis, error) {
	opts, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("cache: REDIS_URL: %w", err)
	}
	t := o.Timeout
	if t <= 0 {
		t = 500 * time.Millisecond
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = t, t, t, t
	opts.MaxRetries = 1
	r := &Redis{c: redis.NewClient(opts), prefix: o.Prefix, lease: o.WriteLease}
	if r.lease <= 0 {
		r.lease = 2 * time.Minute
	}
	if err := r.Ping(ctx); err != nil {
		r.c.Close()
		return nil, fmt.Errorf("cache: Redis at %s: %w", opts.Addr, err)
	}
	return r, nil
}

// genInit is the Lua helper that reads (or starts) a tenant's generation.
const genInit = `
local function gen(h)
  local g = redis.call('HGET', h, 'g')
  if not g then
    local t = redis.call('TIME')
    g = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
    redis.call('HSET', h, 'g', g)
  end
  return g
end
`

var (
	// KEYS: hash. ARGV: entry key prefix, key.
	lookupScript = redis.NewScript(genInit + `
local g = gen(KEYS[1])
local v = redis.call('GET', ARGV[1] .. g .. ':' .. ARGV[2])
return {g, redis.call('HGET', KEYS[1], 'e') or '', v or ''}
`)
	// KEYS: hash, writing, entry. ARGV: generation, value, ttl ms.
	fillScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'g') ~= ARGV[1] then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then return 0 end
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
return 1
`)
	// KEYS: hash, writing. ARGV: lease ms, expiry (Unix ms) or ''.
	beginScript = redis.NewScript(genInit + `
gen(KEYS[1])
redis.call('HINCRBY', KEYS[1], 'g', 1)
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
if ARGV[2] ~= '' then
  local e = redis.call('HGET', KEYS[1], 'e')
  if (not e) or tonumber(ARGV[2]) < tonumber(e) then redis.call('HSET', KEYS[1], 'e', ARGV[2]) end
end
return 1
`)
	// KEYS: hash, writing.
	endScript = redis.NewScript(genInit + `
gen(KEYS[1])
redis.call('HINCRBY', KEYS[1], 'g', 1)
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
return 1
`)
)

func (r *Redis) hash(tenant string) string { return r.prefix + "{" + tenant + "}" }

// Lookup implements Backend.
func (r *Redis) Lookup(ctx context.Context, tenant, key string) (string, time.Time, []byte, error) {
	h := r.hash(tenant)
	res, err := lookupScript.Run(ctx, r.c, []string{h}, h+":e:", key).StringSlice()
	if err != nil {
		return "", time.Time{}, nil, err
	}
	if len(res) != 3 {
		return "", time.Time{}, nil, errors.New("cache: unexpected lookup reply")
	}
	var expiry time.Time
	if res[1] != "" {
		ms, err := strconv.ParseInt(res[1], 10, 64)
		if err != nil {
			return "", time.Time{}, nil, fmt.Errorf("cache: expiry %q: %w", res[1], err)
		}
		expiry = time.UnixMilli(ms)
	}
	var val []byte
	if res[2] != "" {
		val = []byte(res[2])
	}
	return res[0], expiry, val, nil
}

// Fill implements Backend.
func (r *Redis) Fill(ctx context.Context, tenant, key, gen string, val []byte, ttl time.Duration) (bool, error) {
	h := r.hash(tenant)
	n, err := fillScript.Run(ctx, r.c, []string{h, h + ":w", h + ":e:" + gen + ":" + key}, gen, val, ttl.Milliseconds()).Int()
	return n == 1, err
}

// BeginWrite implements Backend.
func (r *Redis) BeginWrite(ctx context.Context, tenant string, expiry time.Time) error {
	h := r.hash(tenant)
	e := ""
	if !expiry.IsZero() {
		e = strconv.FormatInt(expiry.UnixMilli(), 10) // rounded down: bypasses a little early, never late
	}
	return beginScript.Run(ctx, r.c, []string{h, h + ":w"}, r.lease.Milliseconds(), e).Err()
}

// EndWrite implements Backend.
func (r *Redis) EndWrite(ctx context.Context, tenant string) error {
	h := r.hash(tenant)
	return endScript.Run(ctx, r.c, []string{h, h + ":w"}).Err()
}

// Ping implements Backend.
func (r *Redis) Ping(ctx context.Context) error { return r.c.Ping(ctx).Err() }

// Close implements Backend.
func (r *Redis) Close() error { return r.c.Close() }
