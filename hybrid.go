package contextd

import (
	"context"
	"sort"
	"strings"
)

// VectorStore is a Store that keeps embedding vectors with its rows and
// searches them. A store that is not one answers semantic and hybrid
// searches with EINVALID.
//
// Vectors reach the store on the records: ContextCreate.Vector,
// ContextUpdate.Vector, MemoryCreate.Vector and MemoryUpdate.Vector, with
// their model in VectorModel. The store writes them in the same transaction
// as the row.
type VectorStore interface {
	// UseVectorModel makes searches use the vectors of model (others are
	// ignored until `contextd reindex` replaces them).
	UseVectorModel(model string)
	// NearestVectors returns the k rows of kind most similar to vec among
	// those passing f, best first, and how many passed f.
	NearestVectors(ctx context.Context, kind string, vec []float32, f VectorFilter, k int) ([]VectorHit, int, error)
	// VectorBacklog returns up to limit rows of kind, of any tenant, whose
	// vector is missing or of another model than model, with the text to embed.
	VectorBacklog(ctx context.Context, kind, model string, limit int) ([]VectorText, error)
	// PutVectors stores the vectors of existing rows (rows gone meanwhile are skipped).
	PutVectors(ctx context.Context, kind, model string, items []VectorText) error
}

// VectorText is a row to embed, and its vector once embedded.
type VectorText struct {
	Tenant string
	ID     string
	Text   string
	Vector []float32
}

// ContextText is the text of a context that is embedded: title and content.
func ContextText(title, content string) string {
	if title == "" {
		return content
	}
	return title + "\n" + content
}

// HitExplain gives a result's component scores (explain: true). BM25 and
// Vector are nil when the result was not in that list.
type HitExplain struct {
	BM25       *float64 `json:"bm25"`
	Vector     *float64 `json:"vector"`
	Fused      float64  `json:"fused"`
	BM25Rank   int      `json:"bm25Rank,omitempty"`   // 1-based; 0 when absent
	VectorRank int      `json:"vectorRank,omitempty"` // 1-based; 0 when absent
	// Neighbour is the share of relevance received from a neighbouring
	// result: of the same session for memories, along FOLLOWS or RELATES_TO
	// for contexts (hybrid search only; see HybridTuning.NeighbourWeight). Nil when none.
	Neighbour *float64 `json:"neighbour,omitempty"`
}

// Fusion methods of hybrid search.
const (
	// FusionRRF is weighted reciprocal rank fusion: score = Σ w / (RRFK + rank),
	// after Cormack, Clarke and Büttcher (SIGIR 2009).
	FusionRRF = "rrf"
	// FusionConvex is a convex combination of min-max normalised scores:
	// BM25Weight·bm25' + VectorWeight·cos' (weights summing to 1), a result
	// missing from a list scoring 0 there; Bruch, Gai and Ingber (ACM TOIS
	// 2023) found it more effective than RRF and tunable on few queries.
	FusionConvex = "convex"
)

// HybridTuning holds the parameters of hybrid search. The defaults, a convex combination
// weighting BM25 0.7 and the vectors 0.3, measured best on LoCoMo with the
// built-in embedder (`contextd eval locomo`, README): RRF 1:1 .480/.580/.673/.779
// turn recall@5/10/25/50 (128-dimension table), convex 0.5:0.5
// .507/.613/.739/.797 (same), convex 0.7:0.3 .568/.654/.753/.815 (256 dims).
// With the SIF-reweighted table and session-neighbour expansion the weights
// matter little (0.7:0.3 .648/.741/.840/.892, 0.6:0.4 .644/.746/.845/.894,
// 0.5:0.5 .641/.741/.845/.894), so they stay.
type HybridTuning struct {
	Fusion       string  // FusionConvex or FusionRRF
	RRFK         float64 // the k of reciprocal rank fusion
	BM25Weight   float64 // weight of the BM25 list
	VectorWeight float64 // weight of the vector list
	// Depth is how many results of each list take part in fusion (at least
	// offset+limit).
	Depth int
	// Neighbour expansion (neighbours.go). NeighbourWeight is the share of a
	// result's relevance its nearest neighbours receive (0 turns the
	// expansion off); NeighbourDecay multiplies the share for each further
	// step; NeighbourWindow is how many steps (places each side in a session,
	// relationship hops) receive a share; NeighbourSeeds is how many of the
	// best results pass shares on; NeighbourSessionMax bounds the memories
	// read per session.
	NeighbourWeight     float64
	NeighbourDecay      float64
	NeighbourWindow     int
	NeighbourSeeds      int
	NeighbourSessionMax int
}

// DefaultHybridTuning returns the measured defaults described above.
func DefaultHybridTuning() HybridTuning {
	return HybridTuning{
		Fusion: FusionConvex, RRFK: 60, BM25Weight: 0.7, VectorWeight: 0.3, Depth: 100,
		NeighbourWeight: 0.5, NeighbourDecay: 0.5, NeighbourWindow: 2, NeighbourSeeds: 20, NeighbourSessionMax: 1000,
	}
}

// tuning returns the Service's hybrid parameters: s.Hybrid, or the defaults
// when it is the zero value.
func (s *Service) tuning() HybridTuning {
	if s.Hybrid == (HybridTuning{}) {
		return DefaultHybridTuning()
	}
	return s.Hybrid
}

// rankedID is one list's entry for fusion.
type rankedID struct {
	id    string
	score float64
}

type fusedID struct {
	id      string
	explain HitExplain
}

// fuse merges the BM25 and vector lists by weighted reciprocal rank.
func fuse(t HybridTuning, bm25, vec []rankedID) []fusedID {
	byID := map[string]*fusedID{}
	var order []*fusedID
	get := func(id string) *fusedID {
		f := byID[id]
		if f == nil {
			f = &fusedID{id: id}
			byID[id] = f
			order = append(order, f)
		}
		return f
	}
	norm := func(list []rankedID) func(float64) float64 {
		if len(list) == 0 {
			return func(float64) float64 { return 0 }
		}
		hi, lo := list[0].score, list[0].score
		for _, r := range list {
			hi, lo = max(hi, r.score), min(lo, r.score)
		}
		if hi == lo {
			return func(float64) float64 { return 1 }
		}
		return func(x float64) float64 { return (x - lo) / (hi - lo) }
	}
	nb, nv := norm(bm25), norm(vec)
	wsum := t.BM25Weight + t.VectorWeight
	for i, r := range bm25 {
		f := get(r.id)
		s := r.score
		f.explain.BM25, f.explain.BM25Rank = &s, i+1
		if t.Fusion == FusionConvex {
			f.explain.Fused += t.BM25Weight / wsum * nb(s)
		} else {
			f.explain.Fused += t.BM25Weight / (t.RRFK + float64(i+1))
		}
	}
	for i, r := range vec {
		f := get(r.id)
		s := r.score
		f.explain.Vector, f.explain.VectorRank = &s, i+1
		if t.Fusion == FusionConvex {
			f.explain.Fused += t.VectorWeight / wsum * nv(s)
		} else {
			f.explain.Fused += t.VectorWeight / (t.RRFK + float64(i+1))
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if a.explain.Fused != b.explain.Fused {
			return a.explain.Fused > b.explain.Fused
		}
		return a.id < b.id
	})
	out := make([]fusedID, len(order))
	for i, f := range order {
		out[i] = *f
	}
	return out
}

// SetEmbedder makes e the embedder of writes and searches (nil: off) and
// tells a VectorStore which model's vectors to use.
func (s *Service) SetEmbedder(e Embedder) {
	s.Embedder = e
	if vs, ok := StoreAs[VectorStore](s.Store); ok && e != nil {
		vs.UseVectorModel(e.Model())
	}
}

func (s *Service) vectorStore() (VectorStore, bool) {
	if s.Embedder == nil {
		return nil, false
	}
	return StoreAs[VectorStore](s.Store)
}

func semanticOff(loc string) error {
	return &Error{Code: EINVALID, Message: "semantic search is not enabled (EMBEDDINGS_PROVIDER=off, or a backend without vectors)",
		Fields: []FieldError{{Location: loc, Message: "semantic search is not enabled; use fulltext"}}}
}

// embedOne embeds a query.
func (s *Service) embedOne(ctx context.Context, text string) ([]float32, error) {
	v, err := s.Embedder.Embed(ctx, []string{text})
	if err != nil {
		return nil, err
	}
	return v[0], nil
}

// embedContexts fills the vectors of contexts about to be created.
func (s *Service) embedContexts(ctx context.Context, items []ContextCreate) error {
	if _, ok := s.vectorStore(); !ok {
		return nil
	}
	texts := make([]string, len(items))
	for i, it := range items {
		texts[i] = ContextText(it.Title, it.Content)
	}
	vecs, err := s.Embedder.Embed(ctx, texts)
	if err != nil {
		return err
	}
	for i := range items {
		items[i].Vector, items[i].VectorModel = vecs[i], s.Embedder.Model()
	}
	return nil
}

// embedMemories fills the vectors of memories about to be created.
func (s *Service) embedMemories(ctx context.Context, items []MemoryCreate) error {
	if _, ok := s.vectorStore(); !ok {
		return nil
	}
	texts := make([]string, len(items))
	for i, it := range items {
		texts[i] = it.Content
	}
	vecs, err := s.Embedder.Embed(ctx, texts)
	if err != nil {
		return err
	}
	for i := range items {
		items[i].Vector, items[i].VectorModel = vecs[i], s.Embedder.Model()
	}
	return nil
}

// updateContext stores u, with a new vector when the title or content
// change. The vector is made from the current state read first; the update
// is then made conditional on that version, so the stored vector always
// matches the stored text. When another write came between and the caller
// asked for no version, it starts again (a few times).
func (s *Service) updateContext(ctx context.Context, p *Principal, id string, u ContextUpdate) (*Context, error) {
	if _, ok := s.vectorStore(); !ok || (u.Title == nil && u.Content == nil) {
		return s.Store.UpdateContext(ctx, p.Scope(), id, u)
	}
	for attempt := 0; ; attempt++ {
		c, err := s.Store.GetContext(ctx, p.Scope(), id)
		if err != nil {
			return nil, err
		}
		title, content := c.Title, c.Content
		if u.Title != nil {
			title = *u.Title
		}
		if u.Content != nil {
			content = *u.Content
		}
		v, err := s.embedOne(ctx, ContextText(title, content))
		if err != nil {
			return nil, err
		}
		try := u
		if try.IfVersion == 0 {
			try.IfVersion = c.Version
		}
		try.Vector, try.VectorModel = v, s.Embedder.Model()
		out, err := s.Store.UpdateContext(ctx, p.Scope(), id, try)
		if ErrorCode(err) == EPRECONDITION && u.IfVersion == 0 && attempt < 4 {
			continue
		}
		return out, err
	}
}

// embedMemoryUpdate fills u's vector when the content changes.
func (s *Service) embedMemoryUpdate(ctx context.Context, u *MemoryUpdate) error {
	if _, ok := s.vectorStore(); !ok || u.Content == nil {
		return nil
	}
	v, err := s.embedOne(ctx, *u.Content)
	if err != nil {
		return err
	}
	u.Vector, u.VectorModel = v, s.Embedder.Model()
	return nil
}

// searchVectors runs a semantic or hybrid search over contexts. Every context
// that passes the filters is a match (Total and Facets count them, exactly as
// a fulltext search without words would); the order is by cosine similarity
// (semantic) or by fusion of the BM25 and vector ranks (hybrid).
func (s *Service) searchVectors(ctx context.Context, p *Principal, q SearchQuery) (*SearchResult, error) {
	t := s.tuning()
	vs, ok := s.vectorStore()
	if !ok {
		return nil, semanticOff("body.mode")
	}
	if strings.TrimSpace(q.Query) == "" {
		q.Mode = ModeFulltext // nothing to rank by: list, as fulltext does
		return s.Store.SearchContexts(ctx, p.Scope(), q)
	}
	vec, err := s.embedOne(ctx, q.Query)
	if err != nil {
		return nil, err
	}
	depth := max(t.Depth, q.Offset+q.Limit)
	// In hybrid mode the BM25 ranking runs beside the vector search: a
	// search waits for the slower of the two, not for their sum.
	var (
		blist []rankedID
		known = map[string]*SearchHit{}
	)
	bm25 := background(q.Mode == ModeHybrid, func() error {
		bq := q
		bq.Mode, bq.Facets = ModeFulltext, nil
		for bq.Offset = 0; bq.Offset < depth; bq.Offset += MaxSearchLimit {
			bq.Limit = min(MaxSearchLimit, depth-bq.Offset)
			r, err := s.Store.SearchContexts(ctx, p.Scope(), bq)
			if err != nil {
				return err
			}
			for _, h := range r.Results {
				blist = append(blist, rankedID{h.Context.ID, h.Score})
				known[h.Context.ID] = h
			}
			if len(r.Results) < bq.Limit {
				break
			}
		}
		return nil
	})
	defer bm25() // never leave it running
	vhits, total, err := vs.NearestVectors(ctx, VectorContext, vec,
		VectorFilter{Scope: p.Scope(), Contexts: &q.Filters, Now: s.now()}, depth)
	if err != nil {
		return nil, err
	}
	vlist := make([]rankedID, len(vhits))
	for i, h := range vhits {
		vlist[i] = rankedID{h.ID, h.Score}
	}
	res := &SearchResult{Results: []*SearchHit{}, Facets: map[string][]FacetCount{}}
	if len(q.Facets) > 0 {
		// Facets count every filtered context, as the match set is: the
		// store's own facet counting over a search without words.
		fq := q
		fq.Mode, fq.Query, fq.Offset, fq.Limit, fq.Highlight = ModeFulltext, "", 0, 1, false
		r, err := s.Store.SearchContexts(ctx, p.Scope(), fq)
		if err != nil {
			return nil, err
		}
		res.Facets = r.Facets
		total = max(total, r.Total)
	}
	if err := bm25(); err != nil {
		return nil, err
	}
	var fused []fusedID
	if q.Mode == ModeHybrid {
		fused = fuse(t, blist, vlist)
		cands := make([]*contextCandidate, len(fused))
		for i, f := range fused {
			cands[i] = &contextCandidate{id: f.id, rel: f.explain.Fused, explain: f.explain}
		}
		if cands, err = s.expandGraphNeighbours(ctx, p, vs, q, vec, cands); err != nil {
			return nil, err
		}
		fused = fused[:0]
		for _, c := range cands {
			c.explain.Fused = c.rel
			fused = append(fused, fusedID{id: c.id, explain: c.explain})
		}
	} else {
		fused = fuse(t, nil, vlist)
		for i := range fused {
			fused[i].explain.Fused = *fused[i].explain.Vector
		}
	}
	res.Total = max(total, len(fused))
	for i := q.Offset; i < len(fused) && i < q.Offset+q.Limit; i++ {
		f := fused[i]
		hit := known[f.id]
		if hit == nil {
			c, err := s.Store.GetContext(ctx, p.Scope(), f.id)
			if ErrorCode(err) == ENOTFOUND {
				continue // deleted since
			} else if err != nil {
				return nil, err
			}
			hit = &SearchHit{Context: c}
		}
		hit.Score = f.explain.Fused
		if q.Explain {
			e := f.explain
			hit.Explain = &e
		}
		res.Results = append(res.Results, hit)
	}
	return res, nil
}

// searchMemoryVectors runs a semantic or hybrid memory search. Relevance (the
// cosine similarity, or the fused rank score scaled to 0..1) is multiplied by
// the same importance, confidence and recency factors as MemoryScore.
func (s *Service) searchMemoryVectors(ctx context.Context, p *Principal, q MemorySearch) ([]*MemoryHit, error) {
	t := s.tuning()
	vs, ok := s.vectorStore()
	if !ok {
		return nil, semanticOff("body.mode")
	}
	if strings.TrimSpace(q.Query) == "" {
		q.Mode = ModeFulltext
		return s.Store.SearchMemories(ctx, p.Scope(), q)
	}
	vec, err := s.embedOne(ctx, q.Query)
	if err != nil {
		return nil, err
	}
	now := s.now()
	depth := max(t.Depth, q.Limit)
	// In hybrid mode the BM25 ranking runs beside the vector search.
	known := map[string]*Memory{}
	var blist []rankedID
	bm25 := background(q.Mode == ModeHybrid, func() error {
		bq := q
		bq.Mode, bq.Limit = ModeFulltext, MaxSearchLimit
		hits, err := s.Store.SearchMemories(ctx, p.Scope(), bq)
		if err != nil {
			return err
		}
		for _, h := range hits {
			// The store's score is s/(s+1) × weights: fuse on s, the BM25
			// score itself, so that convex fusion sees its real spread.
			bm := h.Score
			if w := MemoryScore(0, false, h.Memory, now); w > 0 {
				if r := h.Score / w; r < 1 {
					bm = r / (1 - r)
				}
			}
			blist = append(blist, rankedID{h.Memory.ID, bm})
			known[h.Memory.ID] = h.Memory
		}
		return nil
	})
	defer bm25() // never leave it running
	vhits, _, err := vs.NearestVectors(ctx, VectorMemory, vec, VectorFilter{Scope: p.Scope(), Memories: &q, Now: now}, depth)
	if err != nil {
		return nil, err
	}
	vlist := make([]rankedID, len(vhits))
	for i, h := range vhits {
		vlist[i] = rankedID{h.ID, h.Score}
	}
	if err := bm25(); err != nil {
		return nil, err
	}
	fused := fuse(t, blist, vlist)
	best := (t.BM25Weight + t.VectorWeight) / (t.RRFK + 1) // both lists' first place
	if t.Fusion == FusionConvex {
		best = 1
	}
	cands := make([]*memoryCandidate, 0, len(fused))
	for _, f := range fused {
		m := known[f.id]
		if m == nil {
			var err error
			m, err = s.Store.GetMemory(ctx, p.Scope(), f.id)
			if ErrorCode(err) == ENOTFOUND {
				continue
			} else if err != nil {
				return nil, err
			}
		}
		rel := f.explain.Fused / best
		if q.Mode == ModeSemantic {
			rel = max(0, *f.explain.Vector)
		}
		cands = append(cands, &memoryCandidate{m: m, rel: rel, explain: f.explain})
	}
	if q.Mode == ModeHybrid {
		if cands, err = s.expandNeighbours(ctx, p, q, cands, now); err != nil {
			return nil, err
		}
	}
	out := make([]*MemoryHit, 0, len(cands))
	for _, c := range cands {
		h := &MemoryHit{Memory: c.m, Score: c.rel * MemoryScore(0, false, c.m, now)}
		if q.Explain {
			e := c.explain
			e.Fused = h.Score
			h.Explain = &e
		}
		out = append(out, h)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Memory.ID > out[j].Memory.ID
	})
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// background runs fn in its own goroutine when on is true and returns a
// function that waits for it and returns its error (nil at once when off;
// safe to call more than once).
func background(on bool, fn func() error) (wait func() error) {
	if !on {
		return func() error { return nil }
	}
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = fn()
	}()
	return func() error {
		<-done
		return err
	}
}
