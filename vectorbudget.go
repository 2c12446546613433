package contextd

import (
	"context"
	"slices"
)

// VectorCounter returns how many vectors a VectorLoader will give for a
// tenant's kind (an upper bound is fine): the shard's arrays are sized for
// them before loading, so that loading does not grow them by doubling (and
// copying: twice the shard's memory for a moment).
type VectorCounter func(ctx context.Context, tenant, kind, model string) (int, error)

// VectorSource is where an index reads a shard: Load gives its vectors,
// Count (optional) how many there will be.
type VectorSource struct {
	Load  VectorLoader
	Count VectorCounter
	// Read, when set, reads rows' stored vectors back: shards from
	// binaryFrom rows then hold their vectors packed (half the bytes of
	// int8) and rescore their best candidates exactly from it.
	Read VectorReader
}

// NewVectorIndexFrom returns an empty index over vectors of model that sizes
// each shard with src.Count before loading it with src.Load.
func NewVectorIndexFrom(model string, src VectorSource) *VectorIndex {
	x := NewVectorIndex(model, src.Load)
	x.count, x.read = src.Count, src.Read
	return x
}

// VectorBytes estimates the memory of an index holding n vectors of dims
// dimensions with ids of idLen bytes and metaKeys metadata keys held for
// filters, in one shard (interned strings and tag sets aside): what a shard
// of contexts loaded with a count holds (vectorShard.bytes, which MaxBytes
// is compared with, counts what a shard holds).
func VectorBytes(n, dims, idLen, metaKeys int) int64 {
	vec := int64(dims) // int8
	if n >= binaryFrom {
		vec = int64(packedBytes(dims))
	}
	table := int64(8)
	for table*3 < int64(n)*4 {
		table *= 2
	}
	return int64(n)*(int64(slotBytes+max(idLen, 26)+8*((dims+63)/64)+4*metaKeys)+vec) + 4*table
}

// slotBytes is the memory of one row of a shard besides its vector, sign
// bits, id bytes, id table and metadata columns: the id's reference, the
// vector's scale, the user, session, type, status and tag set, and created.
const slotBytes = 8 + 4 + 5*4 + 8

// grow makes room for n rows before a load. The dimensions are not known
// yet: the vectors are sized for 256 (the built-in model's). A shard
// packs its vectors at binaryFrom rows: the int8 ones are sized for those.
func (sh *vectorShard) grow(n int) {
	if n <= 0 {
		return
	}
	dims := max(sh.dims, 256)
	sh.ids.grow(n)
	if sh.packed || (sh.pack && sh.n()+n >= binaryFrom) {
		sh.res = slices.Grow(sh.res, n*packedBytes(dims))
	}
	if !sh.packed {
		rows := n
		if sh.pack {
			rows = min(n, binaryFrom) // packed from there on
		}
		sh.vecs = slices.Grow(sh.vecs, rows*dims)
	}
	sh.bits = slices.Grow(sh.bits, n*((dims+63)/64))
	sh.scales = slices.Grow(sh.scales, n)
	sh.user, sh.session = slices.Grow(sh.user, n), slices.Grow(sh.session, n)
	sh.typ, sh.status = slices.Grow(sh.typ, n), slices.Grow(sh.status, n)
	sh.tagSet, sh.created = slices.Grow(sh.tagSet, n), slices.Grow(sh.created, n)
	if sh.memory {
		sh.importance, sh.confidence, sh.expires = slices.Grow(sh.importance, n), slices.Grow(sh.confidence, n), slices.Grow(sh.expires, n)
	}
}

// trim gives back what grow sized beyond the rows loaded: vectors of fewer
// than 256 dimensions, or fewer rows than counted.
func (sh *vectorShard) trim() {
	if cap(sh.vecs) > len(sh.vecs)+len(sh.vecs)/4 {
		sh.vecs = slices.Clone(sh.vecs)
	}
	if cap(sh.res) > len(sh.res)+len(sh.res)/4 {
		sh.res = slices.Clone(sh.res)
	}
}

// bytes is the memory the shard holds: its arrays' capacities, the id
// table, and the interned strings and tag sets with their maps' entries
// (about 48 bytes each). sh.mu is held.
func (sh *vectorShard) bytes() int64 {
	b := sh.ids.bytes() + int64(cap(sh.vecs)) + int64(cap(sh.res)) + 4*int64(len(sh.base)+len(sh.centre)) +
		4*int64(cap(sh.scales)) + 8*int64(cap(sh.bits)) +
		4*int64(cap(sh.user)+cap(sh.session)+cap(sh.typ)+cap(sh.status)+cap(sh.tagSet)) + 8*int64(cap(sh.created)) +
		int64(cap(sh.importance)) + 4*int64(cap(sh.confidence)) + 8*int64(cap(sh.expires))
	for _, col := range sh.meta {
		b += 4 * int64(cap(col))
	}
	b += sh.strBytes + 48*int64(len(sh.strs))
	b += sh.setBytes + 48*int64(len(sh.setKeys))
	return b
}

// shardLoad is a shard's load under way, which concurrent searches of the
// shard wait for instead of loading it again (a second copy in memory).
type shardLoad struct {
	done chan struct{}
	sh   *vectorShard
	err  error
}

// loadOnce loads a shard once for all the searches that need it. The load
// runs detached from ctx: it outlives a search that gives up (its timeout),
// so that a large shard, whose load may take longer than one request, is
// loaded once rather than started again by every search.
func (x *VectorIndex) loadOnce(ctx context.Context, tenant, kind string) (*vectorShard, error) {
	key := shardKey{tenant, kind}
	x.mu.Lock()
	if x.loading == nil {
		x.loading = map[shardKey]*shardLoad{}
	}
	l := x.loading[key]
	if l == nil {
		l = &shardLoad{done: make(chan struct{})}
		x.loading[key] = l
		go func() {
			l.sh, l.err = x.loadShard(context.WithoutCancel(ctx), tenant, kind)
			x.mu.Lock()
			delete(x.loading, key)
			x.mu.Unlock()
			close(l.done)
		}()
	}
	x.mu.Unlock()
	select {
	case <-l.done:
		return l.sh, l.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Bytes is the memory of the shards held, all tenants together, as
// MaxBytes counts it.
func (x *VectorIndex) Bytes() int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	var b int64
	for _, sh := range x.shards {
		sh.mu.RLock()
		b += sh.bytes()
		sh.mu.RUnlock()
	}
	return b
}
