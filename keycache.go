package contextd

import (
	"context"
	"crypto/subtle"
	"sync"
	"time"
)

// Key lookups are cached per process. A cached lookup is used only while the
// store's key generation (Store.APIKeyGeneration, changed in the same
// transaction as every key create, revoke and import, by any process) is the
// one read before the lookup, so a key revoked anywhere stops at once. Only
// keys that were found are cached: unknown keys cannot fill the cache.

// maxCachedKeys bounds the cache; when full it is emptied (keys are few,
// and a refill costs one lookup per key).
const maxCachedKeys = 10_000

// touchEvery is how often a key's lastUsedAt is written, at most.
const touchEvery = time.Minute

type cachedKey struct {
	hash string
	key  *APIKey
	gen  int64
}

type keyCache struct {
	mu      sync.RWMutex
	entries map[string]cachedKey // by key hash
	touched map[string]time.Time // key id -> last lastUsedAt write started
}

func (c *keyCache) get(hash string, gen int64) *APIKey {
	c.mu.RLock()
	e, ok := c.entries[hash]
	c.mu.RUnlock()
	// The map lookup found the entry by hash; the comparison that decides is
	// constant time.
	if !ok || e.gen != gen || subtle.ConstantTimeCompare([]byte(e.hash), []byte(hash)) != 1 {
		return nil
	}
	return e.key
}

func (c *keyCache) put(hash string, k *APIKey, gen int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxCachedKeys {
		c.entries = map[string]cachedKey{}
	}
	c.entries[hash] = cachedKey{hash: hash, key: k, gen: gen}
}

// shouldTouch reports whether the key's use at now is to be written, and
// notes it.
func (c *keyCache) shouldTouch(id string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.touched == nil || len(c.touched) >= maxCachedKeys {
		c.touched = map[string]time.Time{}
	}
	if last, ok := c.touched[id]; ok && now.Sub(last) < touchEvery {
		return false
	}
	c.touched[id] = now
	return true
}

// lookupKey returns the key with hash, from the cache while the key
// generation holds, else from the store.
func (s *Service) lookupKey(ctx context.Context, hash string) (*APIKey, error) {
	gen, err := s.Store.APIKeyGeneration(ctx)
	if err != nil {
		return nil, err
	}
	if k := s.keys.get(hash, gen); k != nil {
		return k, nil
	}
	k, err := s.Store.APIKeyByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	s.keys.put(hash, k, gen)
	return k, nil
}

// touchKey records the key's use at most once a minute, off the request
// path. Failures are ignored: lastUsedAt is informative.
func (s *Service) touchKey(k *APIKey, now time.Time) {
	if !s.keys.shouldTouch(k.ID, now) {
		return
	}
	// No deadline: a write job whose context ends while it waits behind a
	// long batch would fail the shared transaction and make the store run
	// the other jobs of that batch again. The store answers every job, also
	// when it closes.
	go func() { _ = s.Store.TouchAPIKey(context.Background(), k.ID, now) }()
}
