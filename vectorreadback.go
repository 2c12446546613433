package contextd

import (
	"context"
	"slices"
	"strings"
)

// VectorReader reads the stored vectors of a tenant's rows of kind made by
// model, calling fn for each of ids found (in any order; rows gone or of
// another model are skipped).
type VectorReader func(ctx context.Context, tenant, kind, model string, ids []string, fn func(id string, v []float32)) error

// ReadBackFactor is how many candidates per wanted result a packed shard's
// search reads back from the store and scores exactly (at least
// ReadBackMin): its packed vectors rank candidates closely enough that the
// exact best are among their best few hundred.
var ReadBackFactor = 10

// ReadBackMin is the fewest candidates a packed shard's search reads back.
var ReadBackMin = 100

// nearestPacked searches a packed shard: the candidates by sign bits and
// packed vectors under sh's read lock (held on entry, released here), then,
// without the lock, their vectors read back from the store and scored as
// an int8 index scores them. The total is of the rows passing f at the
// time of the first stage.
func (x *VectorIndex) nearestPacked(ctx context.Context, sh *vectorShard, kind string, vec []float32, f VectorFilter, k int) ([]VectorHit, int, error) {
	cands, total, err := func() ([]VectorHit, int, error) {
		defer sh.mu.RUnlock()
		q, qs := quantize(vec)
		if len(q) != sh.dims {
			return nil, 0, Errorf(EINVALID, "the query vector has %d dimensions, the index %d", len(q), sh.dims)
		}
		pred := sh.compile(f)
		keep := max(ReadBackMin, ReadBackFactor*k)
		if f.IDs != nil {
			hits, total := sh.nearestOf(q, qs, pred, f.IDs, keep)
			return hits, total, nil
		}
		hits, total := sh.nearestBinary(q, qs, pred, k, keep)
		return hits, total, nil
	}()
	if err != nil || len(cands) == 0 {
		return nil, total, err
	}
	ids := make([]string, len(cands))
	for i, c := range cands {
		ids[i] = c.ID
	}
	q, qs := quantize(vec)
	out := make([]VectorHit, 0, len(cands))
	err = x.read(ctx, f.Scope.Tenant, kind, x.model, ids, func(id string, v []float32) {
		if len(v) != len(q) {
			return
		}
		p, ps := quantize(v)
		out = append(out, VectorHit{ID: id, Score: float64(dotInt8(q, p)) * float64(qs) * float64(ps)})
	})
	if err != nil {
		return nil, 0, err
	}
	slices.SortFunc(out, func(a, b VectorHit) int {
		if a.Score != b.Score {
			if a.Score > b.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out[:min(k, len(out))], total, nil
}
