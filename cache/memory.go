package cache

import (
	"container/list"
	"context"
	"strconv"
	"sync"
	"time"
)

// Memory is the in-process Backend: a least-recently-used map bounded in
// bytes, with the generations kept beside it. It serves one process only.
type Memory struct {
	mu      sync.Mutex
	max     int64
	size    int64
	lru     *list.List // of *memEntry, most recent first
	entries map[string]*list.Element
	tenants map[string]*memTenant
	now     func() time.Time
}

type memEntry struct {
	key     string
	val     []byte
	expires time.Time
}

type memTenant struct {
	gen     uint64
	writing int
	expiry  time.Time
}

// entryOverhead approximates the bookkeeping bytes of one entry.
const entryOverhead = 128

// NewMemory returns an in-process backend holding at most maxBytes of
// entries (keys and values); maxBytes <= 0 means 64 MiB.
func NewMemory(maxBytes int64) *Memory {
	if maxBytes <= 0 {
		maxBytes = 64 << 20
	}
	return &Memory{max: maxBytes, lru: list.New(), entries: map[string]*list.Element{},
		tenants: map[string]*memTenant{}, now: time.Now}
}

func (m *Memory) tenant(t string) *memTenant {
	mt := m.tenants[t]
	if mt == nil {
		mt = &memTenant{}
		m.tenants[t] = mt
	}
	return mt
}

func entryKey(tenant, gen, key string) string {
	return strconv.Itoa(len(tenant)) + ":" + tenant + ":" + gen + ":" + key
}

// Lookup implements Backend.
func (m *Memory) Lookup(_ context.Context, tenant, key string) (string, time.Time, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mt := m.tenant(tenant)
	gen := strconv.FormatUint(mt.gen, 10)
	el, ok := m.entries[entryKey(tenant, gen, key)]
	if !ok {
		return gen, mt.expiry, nil, nil
	}
	e := el.Value.(*memEntry)
	if !m.now().Before(e.expires) {
		m.remove(el)
		return gen, mt.expiry, nil, nil
	}
	m.lru.MoveToFront(el)
	return gen, mt.expiry, e.val, nil
}

// Fill implements Backend.
func (m *Memory) Fill(_ context.Context, tenant, key, gen string, val []byte, ttl time.Duration) (bool, error) {
	k := entryKey(tenant, gen, key)
	cost := int64(len(val) + len(k) + entryOverhead)
	m.mu.Lock()
	defer m.mu.Unlock()
	mt := m.tenant(tenant)
	if strconv.FormatUint(mt.gen, 10) != gen || mt.writing > 0 || cost > m.max {
		return false, nil
	}
	if el, ok := m.entries[k]; ok {
		m.remove(el)
	}
	for m.size+cost > m.max {
		m.remove(m.lru.Back())
	}
	m.entries[k] = m.lru.PushFront(&memEntry{key: k, val: val, expires: m.now().Add(ttl)})
	m.size += cost
	return true, nil
}

func (m *Memory) remove(el *list.Element) {
	e := m.lru.Remove(el).(*memEntry)
	delete(m.entries, e.key)
	m.size -= int64(len(e.val) + len(e.key) + entryOverhead)
}

// BeginWrite implements Backend.
func (m *Memory) BeginWrite(_ context.Context, tenant string, expiry time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mt := m.tenant(tenant)
	mt.gen++
	mt.writing++
	if !expiry.IsZero() && (mt.expiry.IsZero() || expiry.Before(mt.expiry)) {
		mt.expiry = expiry
	}
	return nil
}

// EndWrite implements Backend.
func (m *Memory) EndWrite(_ context.Context, tenant string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mt := m.tenant(tenant)
	mt.gen++
	if mt.writing > 0 {
		mt.writing--
	}
	return nil
}

// Len returns the number of entries and their bytes (with bookkeeping).
func (m *Memory) Len() (entries int, bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries), m.size
}

// Ping implements Backend.
func (m *Memory) Ping(context.Context) error { return nil }

// Close implements Backend.
func (m *Memory) Close() error { return nil }
