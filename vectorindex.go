package contextd

import (
	"container/heap"
	"context"
	"encoding/binary"
	"math"
	"math/bits"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Vector kinds: what a vector belongs to.
const (
	VectorContext = "context"
	VectorMemory  = "memory"
)

// VectorEntry is one row's vector with the attributes searches filter on.
// Stores build entries from their rows; the index keeps them compactly.
type VectorEntry struct {
	ID        string
	Vector    []float32 // L2-normalised
	UserID    string
	SessionID string
	Type      string
	Status    string // contexts
	Tags      []string
	CreatedAt time.Time
	Metadata  map[string]any // contexts: top-level scalar values are kept for filters

	ImportanceRank int        // memories
	Confidence     float64    // memories
	ExpiresAt      *time.Time // memories; nil never expires
}

// VectorHit is a row found by vector search, best first.
type VectorHit struct {
	ID    string
	Score float64 // cosine similarity
}

// VectorLoader reads every vector of one tenant and kind that was made by
// model, calling fn for each.
type VectorLoader func(ctx context.Context, tenant, kind, model string, fn func(VectorEntry)) error

// VectorIndex holds vectors in memory, per tenant and kind, as int8 with one
// scale per vector (a quarter of float32), and answers exact nearest-neighbour
// queries filtered like the stores' own filters. A tenant's shard is loaded
// from the store on first use and kept current by the store's writes; a
// store invalidates a shard when a write is too broad to patch (a session
// delete, an import). It is safe for concurrent use.
type VectorIndex struct {
	load  VectorLoader
	model string
	// MaxVectors bounds the vectors held in memory, all tenants together:
	// loading a shard beyond it drops the least recently searched shards
	// (they reload on their next search). 0 means DefaultMaxVectors.
	MaxVectors int
	uses       int64 // a counter stamping shard use, for eviction
	// MaxBytes, when > 0, bounds the memory of the shards held, all tenants
	// together (an estimate from their arrays, ids and tags: shardBytes),
	// like MaxVectors: loading a shard beyond it drops the least recently
	// searched shards first. A single shard larger than it is still loaded,
	// and then held alone.
	MaxBytes int64

	count VectorCounter // optional: sizes a shard before loading

	mu      sync.Mutex
	shards  map[shardKey]*vectorShard
	loading map[shardKey]*shardLoad // loads under way (vectorbudget.go)
}

type shardKey struct{ tenant, kind string }

// DefaultMaxVectors is the default bound of a VectorIndex: 4M vectors, about
// 1.3 GB at 256 dimensions.
const DefaultMaxVectors = 4_000_000

// NewVectorIndex returns an empty index over vectors of model.
func NewVectorIndex(model string, load VectorLoader) *VectorIndex {
	return &VectorIndex{load: load, model: model, shards: map[shardKey]*vectorShard{}}
}

// Model is the embedding model whose vectors the index holds.
func (x *VectorIndex) Model() string { return x.model }

// Invalidate drops a tenant's shards ("" kind: both); the next search reloads them.
func (x *VectorIndex) Invalidate(tenant, kind string) {
	if x == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for k := range x.shards {
		if k.tenant == tenant && (kind == "" || k.kind == kind) {
			delete(x.shards, k)
		}
	}
}

// Reset drops every shard.
func (x *VectorIndex) Reset() {
	x.mu.Lock()
	x.shards = map[shardKey]*vectorShard{}
	x.mu.Unlock()
}

// loaded returns the shard if it is in memory (nil otherwise).
func (x *VectorIndex) loaded(tenant, kind string) *vectorShard {
	x.mu.Lock()
	defer x.mu.Unlock()
	sh := x.shards[shardKey{tenant, kind}]
	if sh != nil {
		x.uses++
		sh.used.Store(x.uses)
	}
	return sh
}

// evict drops the least recently used shards other than keep until the
// vectors held fit MaxVectors. x.mu is held.
func (x *VectorIndex) evict(keep *vectorShard) {
	limit := x.MaxVectors
	if limit <= 0 {
		limit = DefaultMaxVectors
	}
	for {
		total := 0
		var oldest shardKey
		var oldestSh *vectorShard
		var bytes int64
		for k, sh := range x.shards {
			sh.mu.RLock()
			total += sh.n()
			bytes += sh.bytes()
			sh.mu.RUnlock()
			if sh != keep && (oldestSh == nil || sh.used.Load() < oldestSh.used.Load()) {
				oldest, oldestSh = k, sh
			}
		}
		if (total <= limit && (x.MaxBytes <= 0 || bytes <= x.MaxBytes)) || oldestSh == nil {
			return
		}
		delete(x.shards, oldest)
	}
}

// Upsert adds or replaces entries after their write committed. A shard not in
// memory is left alone: it will be loaded with them.
// An entry without a vector updates the attributes of one already held.
func (x *VectorIndex) Upsert(tenant, kind, model string, es ...VectorEntry) {
	if x == nil || (model != x.model && model != "") {
		return
	}
	if sh := x.loaded(tenant, kind); sh != nil {
		sh.mu.Lock()
		for _, e := range es {
			sh.put(e)
		}
		sh.mu.Unlock()
	}
}

// Remove drops entries after their delete committed.
func (x *VectorIndex) Remove(tenant, kind string, ids ...string) {
	if x == nil {
		return
	}
	if sh := x.loaded(tenant, kind); sh != nil {
		sh.mu.Lock()
		for _, id := range ids {
			sh.remove(id)
		}
		sh.mu.Unlock()
	}
}

func (x *VectorIndex) shard(ctx context.Context, tenant, kind string) (*vectorShard, error) {
	if sh := x.loaded(tenant, kind); sh != nil {
		return sh, nil
	}
	return x.loadOnce(ctx, tenant, kind)
}

// loadShard loads a shard from the store and holds it.
func (x *VectorIndex) loadShard(ctx context.Context, tenant, kind string) (*vectorShard, error) {
	sh := newShard(kind == VectorMemory)
	if x.count != nil {
		n, err := x.count(ctx, tenant, kind, x.model)
		if err != nil {
			return nil, err
		}
		sh.grow(n)
	}
	err := x.load(ctx, tenant, kind, x.model, func(e VectorEntry) { sh.put(e) })
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if cur := x.shards[shardKey{tenant, kind}]; cur != nil {
		return cur, nil
	}
	x.uses++
	sh.used.Store(x.uses)
	x.shards[shardKey{tenant, kind}] = sh
	x.evict(sh)
	return sh, nil
}

// VectorFilter is what a vector search must match: the scope, the search
// filters of contexts or of memories, and the time for memory expiry.
type VectorFilter struct {
	Scope    Scope
	Contexts *SearchFilters // for VectorContext
	Memories *MemorySearch  // for VectorMemory
	Now      time.Time
	// IDs, when not nil, limits the search to these rows (the ones of
	// them that pass the rest of the filter): a cheap exact filter check
	// of a few rows.
	IDs []string
}

// Nearest returns the k entries of a tenant's kind most similar to vec
// that pass f, best first (ties by id), and how many passed f.
func (x *VectorIndex) Nearest(ctx context.Context, kind string, vec []float32, f VectorFilter, k int) ([]VectorHit, int, error) {
	sh, err := x.shard(ctx, f.Scope.Tenant, kind)
	if err != nil {
		return nil, 0, err
	}
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	pred := sh.compile(f)
	q, qs := quantize(vec)
	if len(q) != sh.dims && sh.n() > 0 {
		return nil, 0, Errorf(EINVALID, "the query vector has %d dimensions, the index %d", len(q), sh.dims)
	}
	if f.IDs != nil {
		hits, total := sh.nearestOf(q, qs, pred, f.IDs, k)
		return hits, total, nil
	}
	n := sh.n()
	if n > binaryFrom {
		hits, total := sh.nearestBinary(q, qs, pred, k)
		return hits, total, nil
	}
	workers := 1
	if n >= 50000 {
		workers = runtime.GOMAXPROCS(0)
	}
	chunk := (n + workers - 1) / max(workers, 1)
	results := make([]hitHeap, workers)
	counts := make([]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*chunk, min(n, (w+1)*chunk)
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := hitHeap{}
			for i := lo; i < hi; i++ {
				if !pred(i) {
					continue
				}
				counts[w]++
				s := float64(dotInt8(q, sh.vecs[i*sh.dims:(i+1)*sh.dims])) * float64(qs) * float64(sh.scales[i])
				if len(h) < k {
					heap.Push(&h, scored{i, s})
				} else if s > h[0].score || (s == h[0].score && sh.ids[i] < sh.ids[h[0].slot]) {
					h[0] = scored{i, s}
					heap.Fix(&h, 0)
				}
			}
			results[w] = h
		}()
	}
	wg.Wait()
	var all []scored
	total := 0
	for w := range workers {
		all = append(all, results[w]...)
		total += counts[w]
	}
	out := sh.best(all, k)
	return out, total, nil
}

// best sorts all best first and returns the first k as hits.
func (sh *vectorShard) best(all []scored, k int) []VectorHit {
	sortScored(all, sh.ids)
	if len(all) > k {
		all = all[:k]
	}
	out := make([]VectorHit, len(all))
	for i, s := range all {
		out[i] = VectorHit{ID: sh.ids[s.slot], Score: s.score}
	}
	return out
}

// nearestOf ranks the rows of ids that pass pred (ids unknown here are
// skipped), best first, at most k.
func (sh *vectorShard) nearestOf(q []int8, qs float32, pred func(int) bool, ids []string, k int) ([]VectorHit, int) {
	var all []scored
	seen := map[int]bool{}
	for _, id := range ids {
		i, ok := sh.slot[id]
		if !ok || seen[i] || !pred(i) {
			continue
		}
		seen[i] = true
		all = append(all, scored{i, float64(dotInt8(q, sh.vecs[i*sh.dims:(i+1)*sh.dims])) * float64(qs) * float64(sh.scales[i])})
	}
	total := len(all)
	out := sh.best(all, k)
	return out, total
}

type scored struct {
	slot  int
	score float64
}

// hitHeap is a min-heap by score: the root is the worst kept hit.
type hitHeap []scored

func (h hitHeap) Len() int           { return len(h) }
func (h hitHeap) Less(i, j int) bool { return h[i].score < h[j].score }
func (h hitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(v any)        { *h = append(*h, v.(scored)) }
func (h *hitHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

func sortScored(s []scored, ids []string) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].score != s[j].score {
			return s[i].score > s[j].score
		}
		return ids[s[i].slot] < ids[s[j].slot]
	})
}

// quantize turns a float vector into int8 with a scale (v ≈ q * scale).
func quantize(v []float32) ([]int8, float32) {
	var amax float32
	for _, x := range v {
		amax = max(amax, float32(math.Abs(float64(x))))
	}
	q := make([]int8, len(v))
	if amax == 0 {
		return q, 0
	}
	scale := amax / 127
	for i, x := range v {
		q[i] = int8(math.Round(float64(x / scale)))
	}
	return q, scale
}

// dotInt8 is the integer dot product of two int8 vectors of equal length.
func dotInt8(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		s0 += int32(a[i])*int32(b[i]) + int32(a[i+4])*int32(b[i+4])
		s1 += int32(a[i+1])*int32(b[i+1]) + int32(a[i+5])*int32(b[i+5])
		s2 += int32(a[i+2])*int32(b[i+2]) + int32(a[i+6])*int32(b[i+6])
		s3 += int32(a[i+3])*int32(b[i+3]) + int32(a[i+7])*int32(b[i+7])
	}
	for ; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return s0 + s1 + s2 + s3
}

// vectorShard is one tenant's vectors of one kind, in parallel arrays
// (slot i). Strings are interned to small integers.
type vectorShard struct {
	used   atomic.Int64 // the index's use stamp of the last search
	mu     sync.RWMutex
	dims   int
	slot   map[string]int
	ids    []string
	idLen  int64 // the ids' bytes, for bytes()
	memory bool  // a shard of memories: importance, confidence and expires are kept
	vecs   []int8
	scales []float32
	bits   []uint64 // sign bits of each vector less centre, words per vector = (dims+63)/64

	// centre is the mean vector the sign bits are taken against (nil: the
	// origin), computed from the shard's own vectors when it reaches
	// binaryFrom rows and again each time it doubles (centredAt). The
	// built-in model's vectors share one large common direction, so the
	// signs of their raw coordinates say little about which of them are
	// near a query; the signs of their offsets from the mean do. Ranking
	// is unaffected: the exact stage scores the vectors themselves.
	centre    []float32
	centredAt int

	user, session, typ, status []uint32
	tags                       [][]uint32
	created                    []int64
	meta                       map[string][]uint32 // per metadata key: the interned typed value of each slot, 0 when absent
	importance                 []int8
	confidence                 []float32
	expires                    []int64 // unix nanos, 0 never

	strs map[string]uint32 // interned strings; 0 is ""
}

func newShard(memory bool) *vectorShard {
	return &vectorShard{memory: memory, slot: map[string]int{}, strs: map[string]uint32{"": 0}, meta: map[string][]uint32{}}
}

func (sh *vectorShard) n() int { return len(sh.ids) }

func (sh *vectorShard) intern(s string) uint32 {
	if id, ok := sh.strs[s]; ok {
		return id
	}
	id := uint32(len(sh.strs))
	sh.strs[s] = id
	return id
}

// lookup returns the interned id of s, or false when no entry has it.
func (sh *vectorShard) lookup(s string) (uint32, bool) {
	id, ok := sh.strs[s]
	return id, ok
}

func (sh *vectorShard) put(e VectorEntry) {
	if e.Vector == nil {
		i, ok := sh.slot[e.ID]
		if !ok {
			return
		}
		e.Vector = make([]float32, sh.dims)
		for j, x := range sh.vecs[i*sh.dims : (i+1)*sh.dims] {
			e.Vector[j] = float32(x) * sh.scales[i]
		}
	}
	q, scale := quantize(e.Vector)
	if sh.dims == 0 {
		sh.dims = len(q)
	}
	if len(q) != sh.dims {
		return // a vector of another shape cannot be compared; reindex fixes it
	}
	words := (sh.dims + 63) / 64
	var tags []uint32
	if len(e.Tags) > 0 {
		tags = make([]uint32, len(e.Tags))
	}
	for j, t := range e.Tags {
		tags[j] = sh.intern(t)
	}
	var exp int64
	if e.ExpiresAt != nil {
		exp = e.ExpiresAt.UnixNano()
	}
	i, ok := sh.slot[e.ID]
	if !ok {
		i = len(sh.ids)
		sh.slot[e.ID] = i
		sh.ids = append(sh.ids, e.ID)
		sh.idLen += int64(len(e.ID))
		sh.vecs = append(sh.vecs, q...)
		sh.bits = append(sh.bits, make([]uint64, words)...)
		sh.scales = append(sh.scales, scale)
		sh.user = append(sh.user, 0)
		sh.session = append(sh.session, 0)
		sh.typ = append(sh.typ, 0)
		sh.status = append(sh.status, 0)
		sh.tags = append(sh.tags, nil)
		sh.created = append(sh.created, 0)
		for k, col := range sh.meta {
			sh.meta[k] = append(col, 0)
		}
		if sh.memory {
			sh.importance = append(sh.importance, 0)
			sh.confidence = append(sh.confidence, 0)
			sh.expires = append(sh.expires, 0)
		}
	}
	copy(sh.vecs[i*sh.dims:], q)
	sh.scales[i] = scale
	if n := sh.n(); n >= binaryFrom && n >= 2*sh.centredAt {
		sh.recentre()
	} else {
		centredBits(q, scale, sh.centre, sh.bits[i*words:(i+1)*words])
	}
	sh.user[i], sh.session[i] = sh.intern(e.UserID), sh.intern(e.SessionID)
	sh.typ[i], sh.status[i] = sh.intern(e.Type), sh.intern(e.Status)
	sh.tags[i], sh.created[i] = tags, e.CreatedAt.UnixNano()
	for _, col := range sh.meta {
		col[i] = 0
	}
	for k, v := range e.Metadata {
		tv, ok := typedValue(v)
		if !ok {
			continue
		}
		col := sh.meta[k]
		if col == nil {
			col = make([]uint32, len(sh.ids))
			sh.meta[k] = col
		}
		col[i] = sh.intern(tv)
	}
	if sh.memory {
		sh.importance[i], sh.confidence[i], sh.expires[i] = int8(e.ImportanceRank), float32(e.Confidence), exp
	}
}

func (sh *vectorShard) remove(id string) {
	i, ok := sh.slot[id]
	if !ok {
		return
	}
	last := len(sh.ids) - 1
	sh.idLen -= int64(len(id))
	if i != last {
		sh.ids[i] = sh.ids[last]
		sh.slot[sh.ids[i]] = i
		copy(sh.vecs[i*sh.dims:(i+1)*sh.dims], sh.vecs[last*sh.dims:])
		w := (sh.dims + 63) / 64
		copy(sh.bits[i*w:(i+1)*w], sh.bits[last*w:])
		sh.scales[i] = sh.scales[last]
		sh.user[i], sh.session[i], sh.typ[i], sh.status[i] = sh.user[last], sh.session[last], sh.typ[last], sh.status[last]
		sh.tags[i], sh.created[i] = sh.tags[last], sh.created[last]
		for _, col := range sh.meta {
			col[i] = col[last]
		}
		if sh.memory {
			sh.importance[i], sh.confidence[i], sh.expires[i] = sh.importance[last], sh.confidence[last], sh.expires[last]
		}
	}
	sh.ids[last] = "" // the string is garbage now
	delete(sh.slot, id)
	sh.ids = sh.ids[:last]
	sh.vecs = sh.vecs[:last*sh.dims]
	sh.bits = sh.bits[:last*((sh.dims+63)/64)]
	sh.scales = sh.scales[:last]
	sh.user, sh.session, sh.typ, sh.status = sh.user[:last], sh.session[:last], sh.typ[:last], sh.status[:last]
	sh.tags, sh.created = sh.tags[:last], sh.created[:last]
	for k, col := range sh.meta {
		sh.meta[k] = col[:last]
	}
	if sh.memory {
		sh.importance, sh.confidence, sh.expires = sh.importance[:last], sh.confidence[:last], sh.expires[:last]
	}
}

// compile turns a filter into a predicate over slots. A value no entry has
// makes the predicate false for all.
func (sh *vectorShard) compile(f VectorFilter) func(int) bool {
	never := func(int) bool { return false }
	var conds []func(int) bool
	one := func(col []uint32, v string) bool {
		if v == "" {
			return true
		}
		id, ok := sh.lookup(v)
		if !ok {
			return false
		}
		conds = append(conds, func(i int) bool { return col[i] == id })
		return true
	}
	anyOf := func(col []uint32, vs []string) bool {
		if len(vs) == 0 {
			return true
		}
		set := map[uint32]bool{}
		for _, v := range vs {
			if id, ok := sh.lookup(v); ok {
				set[id] = true
			}
		}
		if len(set) == 0 {
			return false
		}
		if len(set) == 1 {
			var only uint32
			for id := range set {
				only = id
			}
			conds = append(conds, func(i int) bool { return col[i] == only })
			return true
		}
		conds = append(conds, func(i int) bool { return set[col[i]] })
		return true
	}
	allTags := func(tags []string) bool {
		for _, t := range tags {
			id, ok := sh.lookup(t)
			if !ok {
				return false
			}
			conds = append(conds, func(i int) bool {
				for _, x := range sh.tags[i] {
					if x == id {
						return true
					}
				}
				return false
			})
		}
		return true
	}
	if !one(sh.user, f.Scope.UserID) {
		return never
	}
	if c := f.Contexts; c != nil {
		if !anyOf(sh.typ, c.Types) || !anyOf(sh.status, c.Statuses) || !allTags(c.Tags) ||
			!one(sh.session, c.SessionID) || !one(sh.user, c.UserID) {
			return never
		}
		if !c.CreatedAfter.IsZero() {
			t := c.CreatedAfter.UnixNano()
			conds = append(conds, func(i int) bool { return sh.created[i] > t })
		}
		if !c.CreatedBefore.IsZero() {
			t := c.CreatedBefore.UnixNano()
			conds = append(conds, func(i int) bool { return sh.created[i] < t })
		}
		for k, v := range c.Metadata {
			tv, ok := typedValue(metaValue(v))
			if !ok {
				return never
			}
			id, ok := sh.lookup(tv)
			col := sh.meta[k]
			if !ok || col == nil {
				return never
			}
			conds = append(conds, func(i int) bool { return col[i] == id })
		}
	}
	if m := f.Memories; m != nil {
		if !anyOf(sh.typ, m.Types) || !allTags(m.Tags) || !one(sh.session, m.SessionID) || !one(sh.user, m.UserID) {
			return never
		}
		if m.MinImportance != "" {
			r := int8(ImportanceRank(m.MinImportance))
			conds = append(conds, func(i int) bool { return sh.importance[i] >= r })
		}
		if m.MinConfidence > 0 {
			c := m.MinConfidence
			conds = append(conds, func(i int) bool { return float64(sh.confidence[i]) >= c })
		}
		now := f.Now.UnixNano()
		conds = append(conds, func(i int) bool { return sh.expires[i] == 0 || sh.expires[i] > now })
	}
	switch len(conds) {
	case 0:
		return func(int) bool { return true }
	case 1:
		return conds[0]
	}
	return func(i int) bool {
		for _, c := range conds {
			if !c(i) {
				return false
			}
		}
		return true
	}
}

// metaValue normalises a filter value the way stored metadata decodes from
// JSON (numbers are float64).
func metaValue(v any) any {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case int32:
		return float64(n)
	case float32:
		return float64(n)
	}
	return v
}

// EncodeVector stores v as its int8 quantization: a little-endian float32
// scale, then one int8 per dimension.
func EncodeVector(v []float32) []byte {
	q, scale := quantize(v)
	b := make([]byte, 4+len(q))
	binary.LittleEndian.PutUint32(b, math.Float32bits(scale))
	for i, x := range q {
		b[4+i] = byte(x)
	}
	return b
}

// DecodeVector reads what EncodeVector wrote (nil for a malformed value).
func DecodeVector(b []byte) []float32 {
	if len(b) < 4 {
		return nil
	}
	scale := math.Float32frombits(binary.LittleEndian.Uint32(b))
	v := make([]float32, len(b)-4)
	for i, x := range b[4:] {
		v[i] = float32(int8(x)) * scale
	}
	return v
}

// ContextVectorEntry is the index entry of a context with vector v (nil: keep
// the vector the index has).
func ContextVectorEntry(c *Context, v []float32) VectorEntry {
	return VectorEntry{ID: c.ID, Vector: v, UserID: c.UserID, SessionID: c.SessionID, Type: c.Type, Status: c.Status,
		Tags: c.Tags, CreatedAt: c.CreatedAt, Metadata: c.Metadata}
}

// MemoryVectorEntry is the index entry of a memory with vector v (nil: keep
// the vector the index has).
func MemoryVectorEntry(m *Memory, v []float32) VectorEntry {
	return VectorEntry{ID: m.ID, Vector: v, UserID: m.UserID, SessionID: m.SessionID, Type: m.Type, Tags: m.Tags,
		CreatedAt: m.CreatedAt, ImportanceRank: ImportanceRank(m.Importance), Confidence: m.Confidence, ExpiresAt: m.ExpiresAt}
}

// binaryFrom is the shard size from which searches run in two stages: the
// Hamming distance of sign bits (one XOR and popcount per 64 dimensions)
// picks the RescoreFactor·k closest candidates, which the int8 dot product
// then ranks. Below it every vector is scored exactly.
const binaryFrom = 20000

// RescoreFactor is how many candidates per wanted result the binary stage
// keeps (at least 5,000).
var RescoreFactor = 50

// centredBits sets bit j of out when the vector q·scale lies above centre
// in dimension j (above 0 when centre is nil).
func centredBits(q []int8, scale float32, centre []float32, out []uint64) {
	clear(out)
	for j, x := range q {
		c := float32(0)
		if centre != nil {
			c = centre[j]
		}
		if float32(x)*scale > c {
			out[j/64] |= 1 << (j % 64)
		}
	}
}

// recentre sets centre to the mean of the shard's vectors and takes every
// vector's sign bits again against it: O(rows·dims), done at binaryFrom
// rows and each time the shard doubles, so amortised O(dims) a row.
func (sh *vectorShard) recentre() {
	n, d := sh.n(), sh.dims
	sum := make([]float64, d)
	for i := range n {
		sc := float64(sh.scales[i])
		for j, x := range sh.vecs[i*d : (i+1)*d] {
			sum[j] += float64(x) * sc
		}
	}
	centre := make([]float32, d)
	for j := range sum {
		centre[j] = float32(sum[j] / float64(n))
	}
	words := (d + 63) / 64
	for i := range n {
		centredBits(sh.vecs[i*d:(i+1)*d], sh.scales[i], centre, sh.bits[i*words:(i+1)*words])
	}
	sh.centre, sh.centredAt = centre, n
}

func (sh *vectorShard) nearestBinary(q []int8, qs float32, pred func(int) bool, k int) ([]VectorHit, int) {
	n, words := sh.n(), (sh.dims+63)/64
	qb := make([]uint64, words)
	centredBits(q, qs, sh.centre, qb) // the query's offset from the mean too: measured better than its raw signs
	// Stage 1: distances of the vectors passing the filter (255: filtered out).
	dist := make([]uint8, n)
	var hist [256]int
	total := 0
	workers := runtime.GOMAXPROCS(0)
	chunk := (n + workers - 1) / workers
	hists := make([][257]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*chunk, min(n, (w+1)*chunk)
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := &hists[w]
			for i := lo; i < hi; i++ {
				if !pred(i) {
					dist[i] = 255
					continue
				}
				d := 0
				b := sh.bits[i*words : (i+1)*words]
				for j, x := range qb {
					d += bits.OnesCount64(x ^ b[j])
				}
				dist[i] = uint8(min(d, 254))
				h[dist[i]]++
				h[256]++
			}
		}()
	}
	wg.Wait()
	for w := range workers {
		for d := range 255 {
			hist[d] += hists[w][d]
		}
		total += hists[w][256]
	}
	// The cut: the smallest distance keeping at least `want` candidates.
	want := max(5000, RescoreFactor*k)
	cut, kept := 0, 0
	for cut = 0; cut < 255 && kept < want; cut++ {
		kept += hist[cut]
	}
	// Stage 2: exact int8 scores of the candidates.
	h := hitHeap{}
	for i := range n {
		if dist[i] >= uint8(cut) {
			continue
		}
		s := float64(dotInt8(q, sh.vecs[i*sh.dims:(i+1)*sh.dims])) * float64(qs) * float64(sh.scales[i])
		if len(h) < k {
			heap.Push(&h, scored{i, s})
		} else if s > h[0].score || (s == h[0].score && sh.ids[i] < sh.ids[h[0].slot]) {
			h[0] = scored{i, s}
			heap.Fix(&h, 0)
		}
	}
	all := []scored(h)
	sortScored(all, sh.ids)
	out := make([]VectorHit, len(all))
	for i, s := range all {
		out[i] = VectorHit{ID: sh.ids[s.slot], Score: s.score}
	}
	return out, total
}

// typedValue is the interned form of a scalar metadata value: its JSON type
// and value, so that "1" and 1 differ as they do in the stores.
func typedValue(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "\x00null", true
	case bool:
		if x {
			return "\x00true", true
		}
		return "\x00false", true
	case string:
		return "\x00s" + x, true
	case float64:
		return "\x00n" + strconv.FormatFloat(x, 'g', -1, 64), true
	}
	return "", false
}
