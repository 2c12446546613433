package contextd

import (
	"container/heap"
	"context"
	"encoding/binary"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
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
	read  VectorReader  // optional: large shards are packed and their best rescored from it (vectorreadback.go)

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
	sh := newShard(kind == VectorMemory, x.read != nil)
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
	sh.trim()
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
	if sh.packed {
		return x.nearestPacked(ctx, sh, kind, vec, f, k) // unlocks sh.mu
	}
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
		hits, total := sh.nearestBinary(q, qs, pred, k, k)
		return hits, total, nil
	}
	qc := sh.queryBase(q, qs)
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
				s := sh.score(q, qs, qc, i)
				if len(h) < k {
					heap.Push(&h, scored{i, s})
				} else if s > h[0].score || (s == h[0].score && sh.ids.less(i, h[0].slot)) {
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
		out[i] = VectorHit{ID: sh.ids.id(s.slot), Score: s.score}
	}
	return out
}

// nearestOf ranks the rows of ids that pass pred (ids unknown here are
// skipped), best first, at most k.
func (sh *vectorShard) nearestOf(q []int8, qs float32, pred func(int) bool, ids []string, k int) ([]VectorHit, int) {
	var all []scored
	seen := map[int]bool{}
	qc := sh.queryBase(q, qs)
	for _, id := range ids {
		i, ok := sh.ids.find(id)
		if !ok || seen[i] || !pred(i) {
			continue
		}
		seen[i] = true
		all = append(all, scored{i, sh.score(q, qs, qc, i)})
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

func sortScored(s []scored, ids *idTable) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].score != s[j].score {
			return s[i].score > s[j].score
		}
		return ids.less(s[i].slot, s[j].slot)
	})
}

// quantize turns a float vector into int8 with a scale (v ≈ q * scale).
func quantize(v []float32) ([]int8, float32) {
	q := make([]int8, len(v))
	return q, quantizeInto(v, q)
}

// quantizeInto is quantize into q (len(v) values), returning the scale.
func quantizeInto(v []float32, q []int8) float32 {
	var amax float32
	for _, x := range v {
		amax = max(amax, float32(math.Abs(float64(x))))
	}
	q = q[:len(v)]
	if amax == 0 {
		clear(q)
		return 0
	}
	scale := amax / 127
	for i, x := range v {
		q[i] = int8(math.Round(float64(x / scale)))
	}
	return scale
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
// (slot i). Strings are interned to small integers; rows' tag lists to
// tag sets.
type vectorShard struct {
	used   atomic.Int64 // the index's use stamp of the last search
	mu     sync.RWMutex
	dims   int
	ids    *idTable
	memory bool // a shard of memories: importance, confidence and expires are kept
	pack   bool // pack the vectors at binaryFrom rows (the index can read them back)

	// A vector is held as int8 in vecs (dims a row) until the shard
	// reaches binaryFrom rows; from then on (packed) as its int4 offset
	// from base in res (packedBytes(dims) a row; vectorpack.go), and vecs
	// is dropped. scales is either form's scale.
	vecs   []int8
	packed bool
	base   []float32
	res    []byte
	scales []float32
	bits   []uint64 // sign bits of each vector less centre, words per vector = (dims+63)/64

	// centre is the mean vector the sign bits are taken against (nil: the
	// origin), computed from the shard's own vectors when it reaches
	// binaryFrom rows and again each time it doubles (centredAt). The
	// built-in model's vectors share one large common direction, so the
	// signs of their raw coordinates say little about which of them are
	// near a query; the signs of their offsets from the mean do. Ranking
	// is unaffected: the second stage scores the vectors themselves.
	centre    []float32
	centredAt int

	user, session, typ, status []uint32
	tagSet                     []uint32 // index in tagSets; 0 is no tags
	created                    []int64
	meta                       map[string][]uint32 // per metadata key: the interned typed value of each slot, 0 when absent
	importance                 []int8
	confidence                 []float32
	expires                    []int64 // unix nanos, 0 never

	strs     map[string]uint32 // interned strings; 0 is ""
	strBytes int64             // the interned strings' bytes, for bytes()
	// tagSets are the distinct lists of interned tags rows have, found by
	// setKeys (their ids' bytes): rows share a few thousand lists at most.
	tagSets  [][]uint32
	setKeys  map[string]uint32
	setBytes int64
}

func newShard(memory, pack bool) *vectorShard {
	return &vectorShard{memory: memory, pack: pack, ids: newIDTable(), strs: map[string]uint32{"": 0}, meta: map[string][]uint32{},
		tagSets: [][]uint32{nil}, setKeys: map[string]uint32{}}
}

func (sh *vectorShard) n() int { return sh.ids.n() }

func (sh *vectorShard) intern(s string) uint32 {
	if id, ok := sh.strs[s]; ok {
		return id
	}
	id := uint32(len(sh.strs))
	s = strings.Clone(s) // s may be a view of a loader's buffer (queryRowsBuf)
	sh.strs[s] = id
	sh.strBytes += int64(len(s))
	return id
}

// lookup returns the interned id of s, or false when no entry has it.
func (sh *vectorShard) lookup(s string) (uint32, bool) {
	id, ok := sh.strs[s]
	return id, ok
}

// tagSetOf returns the tag set of tags, adding it when new.
func (sh *vectorShard) tagSetOf(tags []string) uint32 {
	if len(tags) == 0 {
		return 0
	}
	set := make([]uint32, len(tags))
	key := make([]byte, 4*len(tags))
	for j, t := range tags {
		set[j] = sh.intern(t)
		binary.LittleEndian.PutUint32(key[4*j:], set[j])
	}
	if id, ok := sh.setKeys[string(key)]; ok {
		return id
	}
	id := uint32(len(sh.tagSets))
	sh.tagSets = append(sh.tagSets, set)
	sh.setKeys[string(key)] = id
	sh.setBytes += int64(24 + 2*len(key)) // the set's slice and its key
	return id
}

// vector writes slot i's vector, as held, into out.
func (sh *vectorShard) vector(i int, out []float32) {
	if sh.packed {
		pb := packedBytes(sh.dims)
		unpackResidual(sh.res[i*pb:(i+1)*pb], sh.scales[i], sh.base, out)
		return
	}
	for j, x := range sh.vecs[i*sh.dims : (i+1)*sh.dims] {
		out[j] = float32(x) * sh.scales[i]
	}
}

// setVector sets slot i's vector and sign bits.
func (sh *vectorShard) setVector(i int, v []float32) {
	d, words := sh.dims, (sh.dims+63)/64
	b := sh.bits[i*words : (i+1)*words]
	if sh.packed {
		pb := packedBytes(d)
		sh.scales[i] = packResidual(v, sh.base, sh.res[i*pb:(i+1)*pb])
		floatBits(v, sh.centre, b)
	} else {
		q := sh.vecs[i*d : (i+1)*d]
		scale := quantizeInto(v, q)
		sh.scales[i] = scale
		centredBits(q, scale, sh.centre, b)
	}
	if n := sh.n(); !sh.packed && n >= binaryFrom && n >= 2*sh.centredAt {
		sh.recentre()
	}
}

// score is slot i's score for the int8 query q of scale qs, whose dot
// product with base is qc (queryBase).
func (sh *vectorShard) score(q []int8, qs float32, qc float64, i int) float64 {
	if sh.packed {
		pb := packedBytes(sh.dims)
		return qc + float64(dotPacked(q, sh.res[i*pb:(i+1)*pb]))*float64(qs)*float64(sh.scales[i])
	}
	return float64(dotInt8(q, sh.vecs[i*sh.dims:(i+1)*sh.dims])) * float64(qs) * float64(sh.scales[i])
}

// queryBase is the query's dot product with base (0 unless packed).
func (sh *vectorShard) queryBase(q []int8, qs float32) float64 {
	if !sh.packed {
		return 0
	}
	var s float64
	for j, x := range q {
		s += float64(x) * float64(sh.base[j])
	}
	return s * float64(qs)
}

// put adds or replaces e's row. An entry without a vector updates the
// attributes of a row held (and is ignored otherwise).
func (sh *vectorShard) put(e VectorEntry) {
	i, ok := sh.ids.find(e.ID)
	if e.Vector == nil && !ok {
		return
	}
	if e.Vector != nil {
		if sh.dims == 0 {
			sh.dims = len(e.Vector)
		}
		if len(e.Vector) != sh.dims {
			return // a vector of another shape cannot be compared; reindex fixes it
		}
	}
	var exp int64
	if e.ExpiresAt != nil {
		exp = e.ExpiresAt.UnixNano()
	}
	if !ok {
		i = sh.ids.add(e.ID)
		if sh.packed {
			sh.res = append(sh.res, make([]byte, packedBytes(sh.dims))...)
		} else {
			sh.vecs = append(sh.vecs, make([]int8, sh.dims)...)
		}
		sh.bits = append(sh.bits, make([]uint64, (sh.dims+63)/64)...)
		sh.scales = append(sh.scales, 0)
		sh.user = append(sh.user, 0)
		sh.session = append(sh.session, 0)
		sh.typ = append(sh.typ, 0)
		sh.status = append(sh.status, 0)
		sh.tagSet = append(sh.tagSet, 0)
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
	sh.user[i], sh.session[i] = sh.intern(e.UserID), sh.intern(e.SessionID)
	sh.typ[i], sh.status[i] = sh.intern(e.Type), sh.intern(e.Status)
	sh.tagSet[i], sh.created[i] = sh.tagSetOf(e.Tags), e.CreatedAt.UnixNano()
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
			// Sized like the other columns (grow): a load does not grow
			// it by doubling. k may be a view of a loader's buffer.
			col = make([]uint32, sh.n(), max(sh.n(), cap(sh.created)))
			sh.meta[strings.Clone(k)] = col
		}
		col[i] = sh.intern(tv)
	}
	if sh.memory {
		sh.importance[i], sh.confidence[i], sh.expires[i] = int8(e.ImportanceRank), float32(e.Confidence), exp
	}
	if e.Vector != nil {
		sh.setVector(i, e.Vector)
	}
}

func (sh *vectorShard) remove(id string) {
	i, ok := sh.ids.find(id)
	if !ok {
		return
	}
	last := sh.n() - 1
	sh.ids.removeSwap(i)
	d, w, pb := sh.dims, (sh.dims+63)/64, packedBytes(sh.dims)
	if i != last {
		if sh.packed {
			copy(sh.res[i*pb:(i+1)*pb], sh.res[last*pb:])
		} else {
			copy(sh.vecs[i*d:(i+1)*d], sh.vecs[last*d:])
		}
		copy(sh.bits[i*w:(i+1)*w], sh.bits[last*w:])
		sh.scales[i] = sh.scales[last]
		sh.user[i], sh.session[i], sh.typ[i], sh.status[i] = sh.user[last], sh.session[last], sh.typ[last], sh.status[last]
		sh.tagSet[i], sh.created[i] = sh.tagSet[last], sh.created[last]
		for _, col := range sh.meta {
			col[i] = col[last]
		}
		if sh.memory {
			sh.importance[i], sh.confidence[i], sh.expires[i] = sh.importance[last], sh.confidence[last], sh.expires[last]
		}
	}
	if sh.packed {
		sh.res = sh.res[:last*pb]
	} else {
		sh.vecs = sh.vecs[:last*d]
	}
	sh.bits = sh.bits[:last*w]
	sh.scales = sh.scales[:last]
	sh.user, sh.session, sh.typ, sh.status = sh.user[:last], sh.session[:last], sh.typ[:last], sh.status[:last]
	sh.tagSet, sh.created = sh.tagSet[:last], sh.created[:last]
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
		if len(tags) == 0 {
			return true
		}
		var want []uint32
		for _, t := range tags {
			id, ok := sh.lookup(t)
			if !ok {
				return false
			}
			want = append(want, id)
		}
		// Which tag sets have every wanted tag, once per search.
		pass := make([]bool, len(sh.tagSets))
		for s, set := range sh.tagSets {
			pass[s] = true
			for _, id := range want {
				if !slices.Contains(set, id) {
					pass[s] = false
					break
				}
			}
		}
		conds = append(conds, func(i int) bool { return pass[sh.tagSet[i]] })
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
	return DecodeVectorInto(make([]float32, len(b)-4), b)
}

// DecodeVectorInto is DecodeVector into dst, grown when short (nil when b
// holds no vector): a loader reuses one buffer for every row.
func DecodeVectorInto(dst []float32, b []byte) []float32 {
	if len(b) < 4 {
		return nil
	}
	scale := math.Float32frombits(binary.LittleEndian.Uint32(b))
	dst = slices.Grow(dst[:0], len(b)-4)[:len(b)-4]
	for i, x := range b[4:] {
		dst[i] = float32(int8(x)) * scale
	}
	return dst
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
// rows and each time the shard doubles, so amortised O(dims) a row. A
// shard that packs its vectors (vectorpack.go) does so the first time, as
// offsets from this mean, and is not recentred again: its centre stays
// their base, and the sign bits of later rows are taken from their float
// vectors (taken again from packed vectors, the bits of coordinates near
// the centre would flip: measured recall@10 0.921 instead of 0.943 at 250k).
func (sh *vectorShard) recentre() {
	n, d := sh.n(), sh.dims
	row := make([]float32, d)
	sum := make([]float64, d)
	for i := range n {
		sh.vector(i, row)
		for j, x := range row {
			sum[j] += float64(x)
		}
	}
	centre := make([]float32, d)
	for j := range sum {
		centre[j] = float32(sum[j] / float64(n))
	}
	words := (d + 63) / 64
	for i := range n {
		sh.vector(i, row)
		floatBits(row, centre, sh.bits[i*words:(i+1)*words])
	}
	if !sh.packed && sh.pack {
		pb := packedBytes(d)
		res := sh.res[:0]
		if cap(res) < n*pb {
			res = make([]byte, 0, n*pb)
		}
		res = res[:n*pb]
		for i := range n {
			sh.vector(i, row)
			sh.scales[i] = packResidual(row, centre, res[i*pb:(i+1)*pb])
		}
		sh.res, sh.vecs, sh.base, sh.packed = res, nil, centre, true
	}
	sh.centre, sh.centredAt = centre, n
}

// nearestBinary is the two-stage search: the best k of the RescoreFactor·k
// candidates nearest by sign bits (at least 5,000), scored exactly, or
// when packed by their packed vectors, of which it keeps the best keep.
func (sh *vectorShard) nearestBinary(q []int8, qs float32, pred func(int) bool, k, keep int) ([]VectorHit, int) {
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
	// Stage 2: the candidates' scores, from their packed vectors.
	h := hitHeap{}
	qc := sh.queryBase(q, qs)
	for i := range n {
		if dist[i] >= uint8(cut) {
			continue
		}
		s := sh.score(q, qs, qc, i)
		if len(h) < keep {
			heap.Push(&h, scored{i, s})
		} else if s > h[0].score || (s == h[0].score && sh.ids.less(i, h[0].slot)) {
			h[0] = scored{i, s}
			heap.Fix(&h, 0)
		}
	}
	all := []scored(h)
	sortScored(all, sh.ids)
	out := make([]VectorHit, len(all))
	for i, s := range all {
		out[i] = VectorHit{ID: sh.ids.id(s.slot), Score: s.score}
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
