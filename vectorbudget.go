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
}

// NewVectorIndexFrom returns an empty index over vectors of model that sizes
// each shard with src.Count before loading it with src.Load.
func NewVectorIndexFrom(model string, src VectorSource) *VectorIndex {
	x := NewVectorIndex(model, src.Load)
	x.count = src.Count
	return x
}

// VectorBytes estimates the memory of an index holding n vectors of dims
// dimensions with ids of idLen bytes and metaKeys metadata keys held for
// filters: what MaxBytes is compared with.
func VectorBytes(n, dims, idLen, metaKeys int) int64 {
	return int64(n) * (int64(slotBytes+dims+4+8*((dims+63)/64)+4*metaKeys) + int64(idLen))
}

// slotBytes is the memory of one row of a shard besides its vector, sign
// bits, id bytes and metadata columns: the id's string header, the slot
// map's entry, the user, session, type and status, the tags' slice header
// and created.
const slotBytes = 16 + 40 + 4*4 + 24 + 8

// grow makes room for n rows before a load. The dimensions are not known
// yet: the vectors are sized for 256 (the built-in model's).
func (sh *vectorShard) grow(n int) {
	if n <= 0 {
		return
	}
	dims := max(sh.dims, 256)
	sh.slot = make(map[string]int, n)
	sh.ids = slices.Grow(sh.ids, n)
	sh.vecs = slices.Grow(sh.vecs, n*dims)
	sh.bits = slices.Grow(sh.bits, n*((dims+63)/64))
	sh.scales = slices.Grow(sh.scales, n)
	sh.user, sh.session = slices.Grow(sh.user, n), slices.Grow(sh.session, n)
	sh.typ, sh.status = slices.Grow(sh.typ, n), slices.Grow(sh.status, n)
	sh.tags, sh.created = slices.Grow(sh.tags, n), slices.Grow(sh.created, n)
	if sh.memory {
		sh.importance, sh.confidence, sh.expires = slices.Grow(sh.importance, n), slices.Grow(sh.confidence, n), slices.Grow(sh.expires, n)
	}
}

// bytes estimates the memory the shard holds (VectorBytes, plus the tags
// and memory columns it has). sh.mu is held.
func (sh *vectorShard) bytes() int64 {
	n := int64(sh.n())
	b := VectorBytes(sh.n(), sh.dims, 0, len(sh.meta)) + sh.idLen + 24*int64(len(sh.strs))
	for _, t := range sh.tags {
		if len(t) > 0 {
			b += int64(max(8, 4*len(t)))
		}
	}
	if sh.memory {
		b += n * (1 + 4 + 8)
	}
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
