package contextd

import (
	"context"
	"slices"
	"sort"
	"time"
)

// Neighbour expansion of hybrid search: session neighbours for memories
// (here), graph neighbours for contexts (expandGraphNeighbours, below), with
// the same parameters.
//
// A conversation stored as memories is a sequence: one memory per turn, the
// turns of a session in time order. The answer to a question is often in a
// turn next to the one that shares the question's words ("What did Caroline
// say about the support group?" matches the question's turn; the reply is
// the next one). So, in hybrid mode, each of the best NeighbourSeeds results
// passes a damped share of its relevance to the memories around it in its
// session: the memory d places before or after it (d ≤ NeighbourWindow, in
// timestamp order) gets NeighbourWeight · NeighbourDecay^(d−1) · relevance.
// A memory's relevance becomes its own plus the largest share it receives,
// divided by 1 + NeighbourWeight to stay in 0..1. Neighbours that neither
// list found join the results, if they pass the search's filters.
//
// The walk is bounded: at most NeighbourSeeds sessions are read, each only
// when it has at most NeighbourSessionMax memories (a longer session is not
// walked), always within the caller's scope. Memories without a session
// have no neighbours. This is score propagation over the session graph (a
// short, damped walk, as in graph-based re-ranking and the "surrounding
// context" expansion of conversational retrieval), not a learnt model, so
// it needs no training data. Measured on LoCoMo (README): hybrid turn
// recall@5/10/25/50 .585/.668/.755/.821 without it, .648/.741/.840/.892 with it.

// memoryCandidate is a memory in a hybrid search with its relevance so far.
type memoryCandidate struct {
	m       *Memory
	rel     float64
	explain HitExplain
}

// expandNeighbours applies session-neighbour expansion to cands (see
// HybridTuning) and returns the candidates, new neighbours included.
func (s *Service) expandNeighbours(ctx context.Context, p *Principal, q MemorySearch, cands []*memoryCandidate, now time.Time) ([]*memoryCandidate, error) {
	t := s.tuning()
	if !t.expands() || len(cands) == 0 {
		return cands, nil
	}
	seeds := topSeeds(cands, func(c *memoryCandidate) float64 { return c.rel }, t.NeighbourSeeds)

	// The sessions of the seeds, each in time order.
	order := map[string][]*Memory{} // session -> memories; nil when too long
	for _, c := range seeds {
		sid := c.m.SessionID
		if _, done := order[sid]; done || sid == "" {
			continue
		}
		ms, err := s.sessionMemories(ctx, p, sid)
		if err != nil {
			return nil, err
		}
		order[sid] = ms
	}

	// The largest share each memory receives.
	share := map[string]float64{}
	mems := map[string]*Memory{}
	for _, c := range seeds {
		ms := order[c.m.SessionID]
		at := slices.IndexFunc(ms, func(m *Memory) bool { return m.ID == c.m.ID })
		if at < 0 {
			continue
		}
		w := t.NeighbourWeight
		for d := 1; d <= t.NeighbourWindow; d++ {
			for _, j := range []int{at - d, at + d} {
				if j < 0 || j >= len(ms) {
					continue
				}
				id := ms[j].ID
				if v := w * c.rel; v > share[id] {
					share[id] = v
					mems[id] = ms[j]
				}
			}
			w *= t.NeighbourDecay
		}
	}

	byID := map[string]*memoryCandidate{}
	for _, c := range cands {
		byID[c.m.ID] = c
	}
	ids := make([]string, 0, len(share))
	for id := range share {
		ids = append(ids, id)
	}
	sort.Strings(ids) // deterministic order of new candidates
	for _, id := range ids {
		c := byID[id]
		if c == nil {
			if !memoryMatches(q, mems[id], now) {
				continue
			}
			c = &memoryCandidate{m: mems[id]}
			cands = append(cands, c)
			byID[id] = c
		}
		v := share[id]
		c.explain.Neighbour = &v
	}
	for _, c := range cands {
		if c.explain.Neighbour != nil {
			c.rel += *c.explain.Neighbour
		}
		c.rel /= 1 + t.NeighbourWeight
	}
	return cands, nil
}

// sessionMemories returns the live memories of a session in time order
// (timestamp, then creation, then id), or nil when it has more than
// NeighbourSessionMax.
func (s *Service) sessionMemories(ctx context.Context, p *Principal, sid string) ([]*Memory, error) {
	t := s.tuning()
	var out []*Memory
	f := MemoryFilter{SessionID: sid, Limit: MaxListLimit, Ascending: true}
	for {
		page, next, err := s.Store.FindMemories(ctx, p.Scope(), f)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(out) > t.NeighbourSessionMax {
			return nil, nil
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.Timestamp.Equal(b.Timestamp) {
			return a.Timestamp.Before(b.Timestamp)
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.ID < b.ID
	})
	return out, nil
}

// memoryMatches reports whether m passes the filters of q (the scope is the
// store's business) at time now.
func memoryMatches(q MemorySearch, m *Memory, now time.Time) bool {
	if m == nil || (m.ExpiresAt != nil && !m.ExpiresAt.After(now)) {
		return false
	}
	if len(q.Types) > 0 && !slices.Contains(q.Types, m.Type) {
		return false
	}
	if q.SessionID != "" && m.SessionID != q.SessionID {
		return false
	}
	if q.UserID != "" && m.UserID != q.UserID {
		return false
	}
	if q.MinImportance != "" && ImportanceRank(m.Importance) < ImportanceRank(q.MinImportance) {
		return false
	}
	if m.Confidence < q.MinConfidence {
		return false
	}
	for _, t := range q.Tags {
		if !slices.Contains(m.Tags, t) {
			return false
		}
	}
	return true
}

// Graph-neighbour expansion of hybrid context search: the same damped
// propagation as for memories, over relationships instead of session
// order. Each of the best NeighbourSeeds results passes
// NeighbourWeight · NeighbourDecay^(d−1) of its relevance to the contexts d
// ≤ NeighbourWindow hops away along FOLLOWS and RELATES_TO edges, in either
// direction (a conversation stored as contexts, each turn FOLLOWS the one
// before, is the sequence case; RELATES_TO links what a client said
// belongs together). Other edge types (CONTAINS, DERIVED_FROM, INFLUENCES,
// custom ones) are not walked. A context with more than neighbourMaxEdges
// edges of a type is a hub and passes nothing along that type. Neighbours
// that neither list found join the results when they pass the search's
// filters (checked by the vector index, exactly as a semantic search
// filters); the walk stays in the caller's scope.

// neighbourEdgeTypes are the relationship types the walk follows.
var neighbourEdgeTypes = []string{RelFollows, RelRelatesTo}

// neighbourMaxEdges bounds the edges of one type a context may have and
// still pass shares along them.
const neighbourMaxEdges = 50

// contextCandidate is a context in a hybrid search with its relevance so far.
type contextCandidate struct {
	id      string
	rel     float64
	explain HitExplain
}

// expandGraphNeighbours applies graph-neighbour expansion to cands and
// returns them, new neighbours that pass the filters of q included.
func (s *Service) expandGraphNeighbours(ctx context.Context, p *Principal, vs VectorStore, q SearchQuery, vec []float32, cands []*contextCandidate) ([]*contextCandidate, error) {
	t := s.tuning()
	if !t.expands() || len(cands) == 0 {
		return cands, nil
	}
	seeds := topSeeds(cands, func(c *contextCandidate) float64 { return c.rel }, t.NeighbourSeeds)

	edges := map[string][]string{} // context -> its neighbours along the walked types
	around := func(id string) ([]string, error) {
		if n, ok := edges[id]; ok {
			return n, nil
		}
		// One read of the context's edges, split by type here (a read per
		// walked type cost twice the store's round trips).
		all, err := s.Store.FindRelationships(ctx, p.Scope(), RelationshipFilter{ContextID: id, Direction: DirectionBoth})
		if ErrorCode(err) == ENOTFOUND {
			all, err = nil, nil // deleted since
		}
		if err != nil {
			return nil, err
		}
		var out []string
		for _, typ := range neighbourEdgeTypes {
			var rs []*Relationship
			for _, r := range all {
				if r.Type == typ {
					rs = append(rs, r)
				}
			}
			if len(rs) > neighbourMaxEdges {
				continue
			}
			for _, r := range rs {
				other := r.TargetID
				if other == id {
					other = r.SourceID
				}
				if other != id {
					out = append(out, other)
				}
			}
		}
		edges[id] = out
		return out, nil
	}

	share := map[string]float64{}
	for _, c := range seeds {
		if c.rel <= 0 {
			continue
		}
		seen := map[string]bool{c.id: true}
		frontier := []string{c.id}
		w := t.NeighbourWeight
		for d := 1; d <= t.NeighbourWindow && len(frontier) > 0; d++ {
			var next []string
			for _, id := range frontier {
				ns, err := around(id)
				if err != nil {
					return nil, err
				}
				for _, n := range ns {
					if seen[n] {
						continue
					}
					seen[n] = true
					next = append(next, n)
					if v := w * c.rel; v > share[n] {
						share[n] = v
					}
				}
			}
			frontier = next
			w *= t.NeighbourDecay
		}
	}

	byID := map[string]*contextCandidate{}
	for _, c := range cands {
		byID[c.id] = c
	}
	var fresh []string
	for id := range share {
		if byID[id] == nil {
			fresh = append(fresh, id)
		}
	}
	if len(fresh) > 0 {
		sort.Strings(fresh)
		// Which new neighbours pass the filters: the index checks them.
		pass, _, err := vs.NearestVectors(ctx, VectorContext, vec,
			VectorFilter{Scope: p.Scope(), Contexts: &q.Filters, Now: s.now(), IDs: fresh}, len(fresh))
		if err != nil {
			return nil, err
		}
		for _, h := range pass {
			c := &contextCandidate{id: h.ID}
			cands = append(cands, c)
			byID[h.ID] = c
		}
	}
	for id, v := range share {
		if c := byID[id]; c != nil {
			c.explain.Neighbour = &v // v is per iteration (Go 1.22)
		}
	}
	for _, c := range cands {
		if c.explain.Neighbour != nil {
			c.rel += *c.explain.Neighbour
		}
		c.rel /= 1 + t.NeighbourWeight
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].rel != cands[j].rel {
			return cands[i].rel > cands[j].rel
		}
		return cands[i].id < cands[j].id
	})
	return cands, nil
}

// expands reports whether t turns neighbour expansion on.
func (t HybridTuning) expands() bool {
	return t.NeighbourWeight > 0 && t.NeighbourWindow > 0 && t.NeighbourSeeds > 0
}

// topSeeds returns the n candidates of highest relevance, best first (ties
// in their order in cands).
func topSeeds[T any](cands []T, rel func(T) float64, n int) []T {
	seeds := slices.Clone(cands)
	sort.SliceStable(seeds, func(i, j int) bool { return rel(seeds[i]) > rel(seeds[j]) })
	return seeds[:min(len(seeds), n)]
}
