package storetest

import (
	"bytes"
	"context"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/contextd/contextd"
)

// conceptEmbedder is a deterministic embedder for the suite: words of one
// concept (dog, puppy, canine) share a dimension, other words hash to the
// rest. Texts about the same concept are similar without sharing a word,
// which is what semantic search must find.
type conceptEmbedder struct{ model string }

const conceptDims = 64

var concepts = [][]string{
	{"dog", "dogs", "puppy", "puppies", "canine", "hound"},
	{"car", "cars", "automobile", "vehicle", "sedan"},
	{"money", "cash", "payment", "invoice", "salary"},
	{"music", "violin", "guitar", "song", "melody"},
	{"ocean", "sea", "beach", "waves", "coast"},
}

func (c conceptEmbedder) Dimensions() int { return conceptDims }
func (c conceptEmbedder) Model() string   { return c.model }

func (c conceptEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, conceptDims)
	words:
		for _, w := range contextd.Words(t) {
			for d, group := range concepts {
				if slices.Contains(group, w) {
					v[d] += 3
					continue words
				}
			}
			h := fnv.New32a()
			h.Write([]byte(w))
			v[len(concepts)+int(h.Sum32()%uint32(conceptDims-len(concepts)))] += 0.3
		}
		var n float64
		for _, x := range v {
			n += float64(x) * float64(x)
		}
		if n > 0 {
			for j := range v {
				v[j] /= float32(math.Sqrt(n))
			}
		}
		out[i] = v
	}
	return out, nil
}

// semEnv is a Service with the concept embedder over the test's store.
type semEnv struct {
	*env
	svc *contextd.Service
	p   *contextd.Principal
}

func newSemEnv(e *env) *semEnv {
	e.t.Helper()
	if _, ok := contextd.StoreAs[contextd.VectorStore](e.s); !ok {
		e.t.Fatalf("the %s store is not a contextd.VectorStore", e.s.Kind())
	}
	svc := contextd.NewService(e.s)
	svc.Now = e.clock.Now
	svc.SetEmbedder(conceptEmbedder{model: "concepts-v1"})
	return &semEnv{env: e, svc: svc, p: &contextd.Principal{Tenant: "acme", Role: contextd.RoleAdmin, Subject: "t"}}
}

func (s *semEnv) create(items ...contextd.ContextCreate) []*contextd.Context {
	s.t.Helper()
	out, err := s.svc.CreateContexts(s.ctx, s.p, items, true)
	if err != nil {
		s.t.Fatalf("CreateContexts: %v", err)
	}
	return out
}

func (s *semEnv) search(q contextd.SearchQuery) *contextd.SearchResult {
	s.t.Helper()
	res, err := s.svc.Search(s.ctx, s.p, q)
	if err != nil {
		s.t.Fatalf("Search(%q, %s): %v", q.Query, q.Mode, err)
	}
	return res
}

func idsOf(res *contextd.SearchResult) []string {
	out := make([]string, len(res.Results))
	for i, h := range res.Results {
		out[i] = h.Context.ID
	}
	return out
}

func semanticTests() []test {
	return []test{
		{"semantic/ranks by meaning without shared words", func(e *env) {
			s := newSemEnv(e)
			s.create(
				contextd.ContextCreate{ID: "pet", Title: "Adopted a puppy", Content: "The new puppy chews shoes"},
				contextd.ContextCreate{ID: "auto", Title: "Garage visit", Content: "The automobile needs new tyres"},
				contextd.ContextCreate{ID: "pay", Title: "Accounts", Content: "The invoice is overdue"},
			)
			if got := idsOf(s.search(contextd.SearchQuery{Query: "dog", Mode: contextd.ModeFulltext})); len(got) != 0 {
				s.t.Fatalf("fulltext dog = %v, want nothing (no document says dog)", got)
			}
			res := s.search(contextd.SearchQuery{Query: "dog", Mode: contextd.ModeSemantic, Explain: true})
			if got := idsOf(res); len(got) != 3 || got[0] != "pet" {
				s.t.Fatalf("semantic dog = %v, want pet first of all 3", got)
			}
			if res.Total != 3 {
				s.t.Fatalf("total %d, want 3 (every context passing the filters)", res.Total)
			}
			h := res.Results[0]
			if h.Explain == nil || h.Explain.Vector == nil || h.Explain.BM25 != nil || h.Score != *h.Explain.Vector {
				s.t.Fatalf("explain = %+v, want a vector score only, equal to the score", h.Explain)
			}
			for i := 1; i < len(res.Results); i++ {
				if res.Results[i].Score > res.Results[i-1].Score {
					s.t.Fatalf("scores not descending: %v", idsOf(res))
				}
			}
			if r := s.search(contextd.SearchQuery{Query: "vehicle", Mode: contextd.ModeSemantic, Limit: 1}); len(r.Results) != 1 || r.Results[0].Context.ID != "auto" {
				s.t.Fatalf("semantic vehicle = %v, want auto", idsOf(r))
			}
		}},
		{"semantic/hybrid fuses both rankings and explains", func(e *env) {
			s := newSemEnv(e)
			s.create(
				contextd.ContextCreate{ID: "word", Title: "Dog food brands", Content: "compare prices"},
				contextd.ContextCreate{ID: "meaning", Title: "Canine nutrition", Content: "what a hound should eat"},
				contextd.ContextCreate{ID: "other", Title: "Beach trip", Content: "waves and sand"},
			)
			res := s.search(contextd.SearchQuery{Query: "dog", Mode: contextd.ModeHybrid, Explain: true})
			got := idsOf(res)
			if len(got) != 3 || got[0] != "word" || got[1] != "meaning" {
				s.t.Fatalf("hybrid dog = %v, want word (both lists), meaning (vector), other", got)
			}
			top := res.Results[0].Explain
			if top == nil || top.BM25 == nil || top.Vector == nil || top.Fused <= 0 || res.Results[0].Score != top.Fused {
				s.t.Fatalf("top explain = %+v, want bm25, vector and fused = score", top)
			}
			if ex := res.Results[1].Explain; ex == nil || ex.BM25 != nil || ex.Vector == nil {
				s.t.Fatalf("second explain = %+v, want vector only", ex)
			}
			if r := s.search(contextd.SearchQuery{Query: "dog", Mode: contextd.ModeHybrid}); r.Results[0].Explain != nil {
				s.t.Fatal("explain given without explain: true")
			}
		}},
		{"semantic/filters and facets match fulltext in every mode", func(e *env) {
			s := newSemEnv(e)
			var items []contextd.ContextCreate
			types := []string{"note", "decision", "task"}
			statuses := []string{contextd.StatusActive, contextd.StatusArchived, contextd.StatusDraft}
			for i := range 24 {
				items = append(items, contextd.ContextCreate{
					Title: "item " + string(rune('a'+i)), Content: concepts[i%len(concepts)][i%3] + " words here",
					Type: types[i%3], Status: statuses[(i/3)%3], Tags: [][]string{{"x"}, {"x", "y"}, {"y"}, nil}[i%4],
					SessionID: []string{"", "s1", "s2"}[i%3], Metadata: map[string]any{"n": float64(i % 5), "team": []string{"red", "blue"}[i%2]},
				})
				if i%6 == 5 {
					e.clock.Advance(time.Hour)
				}
			}
			s.create(items...)
			mid := Epoch.Add(90 * time.Minute)
			filters := []contextd.SearchFilters{
				{},
				{Types: []string{"note", "task"}},
				{Statuses: []string{contextd.StatusArchived}},
				{Tags: []string{"x", "y"}},
				{SessionID: "s1"},
				{CreatedAfter: mid},
				{CreatedBefore: mid, Types: []string{"decision"}},
				{Metadata: map[string]any{"team": "red", "n": 2}},
				{Types: []string{"nosuchtype"}},
				{Tags: []string{"nosuchtag"}},
			}
			facets := []string{"type", "status", "tags", "metadata.team"}
			for fi, f := range filters {
				base := s.search(contextd.SearchQuery{Filters: f, Facets: facets, Limit: 100})
				want := idsOf(base)
				slices.Sort(want)
				for _, mode := range []string{contextd.ModeSemantic, contextd.ModeHybrid} {
					res := s.search(contextd.SearchQuery{Query: "puppy money", Mode: mode, Filters: f, Facets: facets, Limit: 100})
					got := idsOf(res)
					slices.Sort(got)
					if !slices.Equal(got, want) {
						s.t.Fatalf("filter %d %+v, %s: ids %v, want %v", fi, f, mode, got, want)
					}
					if res.Total != base.Total {
						s.t.Fatalf("filter %d, %s: total %d, want %d", fi, mode, res.Total, base.Total)
					}
					for _, name := range facets {
						if !facetEqual(res.Facets[name], base.Facets[name]) {
							s.t.Fatalf("filter %d, %s: facet %s = %v, want %v", fi, mode, name, res.Facets[name], base.Facets[name])
						}
					}
				}
			}
			// Paging walks the same order.
			all := idsOf(s.search(contextd.SearchQuery{Query: "dog", Mode: contextd.ModeHybrid, Limit: 24}))
			var paged []string
			for off := 0; off < 24; off += 5 {
				paged = append(paged, idsOf(s.search(contextd.SearchQuery{Query: "dog", Mode: contextd.ModeHybrid, Limit: 5, Offset: off}))...)
			}
			if !slices.Equal(all, paged) {
				s.t.Fatalf("pages %v differ from one page %v", paged, all)
			}
		}},
		{"semantic/updates, deletes and tenants", func(e *env) {
			s := newSemEnv(e)
			cs := s.create(
				contextd.ContextCreate{ID: "a", Title: "First", Content: "a song on the guitar"},
				contextd.ContextCreate{ID: "b", Title: "Second", Content: "cash and salary"},
			)
			other := &contextd.Principal{Tenant: "other", Role: contextd.RoleAdmin}
			if _, err := s.svc.CreateContexts(s.ctx, other, []contextd.ContextCreate{{ID: "z", Title: "Melody", Content: "violin music"}}, false); err != nil {
				s.t.Fatal(err)
			}
			top := func(q string) string {
				r := s.search(contextd.SearchQuery{Query: q, Mode: contextd.ModeSemantic})
				if len(r.Results) == 0 {
					return ""
				}
				return r.Results[0].Context.ID
			}
			if got := top("melody"); got != "a" {
				s.t.Fatalf("melody -> %q, want a (z is another tenant's)", got)
			}
			content := "a long walk on the beach"
			if _, err := s.svc.UpdateContext(s.ctx, s.p, cs[0].ID, contextd.ContextUpdate{Content: &content}); err != nil {
				s.t.Fatal(err)
			}
			if got := top("ocean"); got != "a" {
				s.t.Fatalf("after update, ocean -> %q, want a", got)
			}
			archived := contextd.StatusArchived
			if _, err := s.svc.UpdateContext(s.ctx, s.p, "b", contextd.ContextUpdate{Status: &archived}); err != nil {
				s.t.Fatal(err)
			}
			r := s.search(contextd.SearchQuery{Query: "money", Mode: contextd.ModeSemantic, Filters: contextd.SearchFilters{Statuses: []string{archived}}})
			if got := idsOf(r); !slices.Equal(got, []string{"b"}) {
				s.t.Fatalf("archived filter after a status update = %v, want [b]", got)
			}
			if err := s.svc.DeleteContext(s.ctx, s.p, "b"); err != nil {
				s.t.Fatal(err)
			}
			r = s.search(contextd.SearchQuery{Query: "money", Mode: contextd.ModeSemantic})
			if got := idsOf(r); !slices.Equal(got, []string{"a"}) || r.Total != 1 {
				s.t.Fatalf("after delete = %v (total %d), want [a]", got, r.Total)
			}
		}},
		{"semantic/memories with filters and expiry", func(e *env) {
			s := newSemEnv(e)
			soon := Epoch.Add(time.Hour)
			mk := func(id, content, typ, imp, session string, exp *time.Time) contextd.MemoryCreate {
				return contextd.MemoryCreate{ID: id, Content: content, Type: typ, Importance: imp, SessionID: session, ExpiresAt: exp}
			}
			if _, err := s.svc.CreateMemories(s.ctx, s.p, []contextd.MemoryCreate{
				mk("m1", "the user has a puppy", contextd.MemoryFact, contextd.ImportanceHigh, "s1", nil),
				mk("m2", "prefers the hound breed", contextd.MemoryPreference, contextd.ImportanceLow, "s1", nil),
				mk("m3", "drives a sedan", contextd.MemoryFact, contextd.ImportanceHigh, "s2", nil),
				mk("m4", "canine allergy", contextd.MemoryFact, contextd.ImportanceHigh, "s2", &soon),
			}, true); err != nil {
				s.t.Fatal(err)
			}
			ms := func(q contextd.MemorySearch) []string {
				hits, err := s.svc.SearchMemories(s.ctx, s.p, q)
				if err != nil {
					s.t.Fatalf("SearchMemories: %v", err)
				}
				var out []string
				for _, h := range hits {
					out = append(out, h.Memory.ID)
					if q.Explain && (h.Explain == nil || h.Explain.Vector == nil) {
						s.t.Fatalf("no explain on %s", h.Memory.ID)
					}
				}
				return out
			}
			got := ms(contextd.MemorySearch{Query: "dog", Mode: contextd.ModeSemantic, Limit: 2, Explain: true})
			if len(got) != 2 || !slices.Contains(got, "m1") || slices.Contains(got, "m3") {
				s.t.Fatalf("semantic dog = %v, want two dog memories", got)
			}
			if got := ms(contextd.MemorySearch{Query: "dog", Mode: contextd.ModeSemantic, Types: []string{contextd.MemoryPreference}}); !slices.Equal(got, []string{"m2"}) {
				s.t.Fatalf("type filter = %v, want [m2]", got)
			}
			if got := ms(contextd.MemorySearch{Query: "dog", Mode: contextd.ModeHybrid, MinImportance: contextd.ImportanceHigh, SessionID: "s2"}); len(got) != 2 || got[0] != "m4" {
				s.t.Fatalf("hybrid high s2 = %v, want m4 first of 2", got)
			}
			e.clock.Advance(2 * time.Hour)
			for _, mode := range []string{contextd.ModeSemantic, contextd.ModeHybrid} {
				if got := ms(contextd.MemorySearch{Query: "canine", Mode: mode}); slices.Contains(got, "m4") {
					s.t.Fatalf("%s: the expired memory came back: %v", mode, got)
				}
			}
			if err := s.svc.DeleteSession(s.ctx, s.p, "s1"); err != nil {
				s.t.Fatal(err)
			}
			if got := ms(contextd.MemorySearch{Query: "dog", Mode: contextd.ModeSemantic}); !slices.Equal(got, []string{"m3"}) {
				s.t.Fatalf("after deleting session s1 = %v, want [m3]", got)
			}
		}},
		{"semantic/vectors of another model are not used", func(e *env) {
			s := newSemEnv(e)
			s.create(contextd.ContextCreate{ID: "a", Title: "Puppy", Content: "training"})
			s.svc.SetEmbedder(conceptEmbedder{model: "concepts-v2"})
			if r := s.search(contextd.SearchQuery{Query: "dog", Mode: contextd.ModeSemantic}); len(r.Results) != 0 {
				s.t.Fatalf("v2 search used v1 vectors: %v", idsOf(r))
			}
			vs, _ := contextd.StoreAs[contextd.VectorStore](e.s)
			backlog, err := vs.VectorBacklog(s.ctx, contextd.VectorContext, "concepts-v2", 10)
			if err != nil || len(backlog) != 1 || backlog[0].ID != "a" || !strings.Contains(backlog[0].Text, "training") {
				s.t.Fatalf("backlog = %+v, %v; want context a", backlog, err)
			}
			vecs, _ := conceptEmbedder{model: "concepts-v2"}.Embed(s.ctx, []string{backlog[0].Text})
			backlog[0].Vector = vecs[0]
			if err := vs.PutVectors(s.ctx, contextd.VectorContext, "concepts-v2", backlog); err != nil {
				s.t.Fatal(err)
			}
			if r := s.search(contextd.SearchQuery{Query: "dog", Mode: contextd.ModeSemantic}); !slices.Equal(idsOf(r), []string{"a"}) {
				s.t.Fatalf("after reindex = %v, want [a]", idsOf(r))
			}
			if b, _ := vs.VectorBacklog(s.ctx, contextd.VectorContext, "concepts-v2", 10); len(b) != 0 {
				s.t.Fatalf("backlog after reindex = %v", b)
			}
		}},
		{"semantic/hybrid memory search lifts the session neighbours of a hit", func(e *env) {
			s := newSemEnv(e)
			at := func(min int) time.Time { return Epoch.Add(time.Duration(min) * time.Minute) }
			mk := func(id, content, typ, session string, min int) contextd.MemoryCreate {
				return contextd.MemoryCreate{ID: id, Content: content, Type: typ, SessionID: session, Timestamp: at(min)}
			}
			// The reply "a-reply" follows the question in session s1; its
			// twin "z-reply" (same text) is in s2, next to it in time only.
			// Created out of time order: neighbours go by timestamp.
			if _, err := s.svc.CreateMemories(s.ctx, s.p, []contextd.MemoryCreate{
				mk("a-reply", "Lisbon with my sister", contextd.MemoryFact, "s1", 2),
				mk("q", "any holiday plans this summer", contextd.MemoryFact, "s1", 1),
				mk("z-reply", "Lisbon with my sister", contextd.MemoryFact, "s2", 3),
				mk("pref", "Lisbon with my sister", contextd.MemoryPreference, "s1", 0),
				mk("far", "bought a sedan", contextd.MemoryFact, "s1", 9),
			}, true); err != nil {
				s.t.Fatal(err)
			}
			hits, err := s.svc.SearchMemories(s.ctx, s.p, contextd.MemorySearch{Query: "holiday plans", Mode: contextd.ModeHybrid,
				Types: []string{contextd.MemoryFact}, Explain: true, Limit: 10})
			if err != nil {
				s.t.Fatal(err)
			}
			var got []string
			share := map[string]*float64{}
			for _, h := range hits {
				got = append(got, h.Memory.ID)
				share[h.Memory.ID] = h.Explain.Neighbour
			}
			if len(got) < 3 || got[0] != "q" || slices.Index(got, "a-reply") > slices.Index(got, "z-reply") {
				s.t.Fatalf("hybrid holiday plans = %v, want q first, its neighbour a-reply before its twin z-reply", got)
			}
			if slices.Contains(got, "pref") {
				s.t.Fatalf("the neighbour of another type came back: %v", got)
			}
			if share["a-reply"] == nil || *share["a-reply"] <= 0 || share["z-reply"] != nil {
				s.t.Fatalf("neighbour shares a-reply %v, z-reply %v; want a share for a-reply only", share["a-reply"], share["z-reply"])
			}
			// Semantic search does not expand.
			hits, err = s.svc.SearchMemories(s.ctx, s.p, contextd.MemorySearch{Query: "holiday plans", Mode: contextd.ModeSemantic, Explain: true, Limit: 10})
			if err != nil {
				s.t.Fatal(err)
			}
			for _, h := range hits {
				if h.Explain.Neighbour != nil {
					s.t.Fatalf("semantic search gave %s a neighbour share", h.Memory.ID)
				}
			}
		}},
		{"semantic/hybrid context search lifts graph neighbours", func(e *env) {
			s := newSemEnv(e)
			twin := "Lisbon with my sister"
			follows := []contextd.RelationshipCreate{{Type: contextd.RelFollows, TargetID: "q"}}
			s.create(contextd.ContextCreate{ID: "q", Title: "Question", Content: "any holiday plans this summer"})
			// z-linked FOLLOWS q; its twin a-twin (same text) is linked to
			// nothing, and would come first on a tie (ids ascending).
			s.create(
				contextd.ContextCreate{ID: "z-linked", Title: "Reply", Content: twin, Relationships: follows},
				contextd.ContextCreate{ID: "a-twin", Title: "Reply", Content: twin},
				contextd.ContextCreate{ID: "b-task", Title: "Reply", Content: twin, Type: "task",
					Relationships: []contextd.RelationshipCreate{{Type: contextd.RelRelatesTo, TargetID: "q"}}},
				contextd.ContextCreate{ID: "c-part", Title: "Reply", Content: twin,
					Relationships: []contextd.RelationshipCreate{{Type: contextd.RelContains, TargetID: "q"}}},
			)
			r := s.search(contextd.SearchQuery{Query: "holiday plans", Mode: contextd.ModeHybrid, Explain: true, Limit: 10,
				Filters: contextd.SearchFilters{Types: []string{contextd.DefaultContextType}}})
			got := idsOf(r)
			if len(got) != 4 || got[0] != "q" || got[1] != "z-linked" || slices.Contains(got, "b-task") {
				s.t.Fatalf("hybrid holiday plans = %v, want q, then z-linked (FOLLOWS q), no task", got)
			}
			for _, h := range r.Results {
				id, nb := h.Context.ID, h.Explain.Neighbour
				if (id == "z-linked") != (nb != nil) {
					s.t.Fatalf("%s: neighbour share %v; want one for z-linked only (CONTAINS is not walked)", id, nb)
				}
			}
		}},
		{"semantic/imported rows get vectors", func(e *env) {
			s := newSemEnv(e)
			s.create(contextd.ContextCreate{ID: "a", Title: "Puppy", Content: "training"})
			if _, err := s.svc.CreateMemories(s.ctx, s.p, []contextd.MemoryCreate{{ID: "m1", Type: contextd.MemoryFact, Content: "walks the hound", SessionID: "s1"}}, true); err != nil {
				s.t.Fatal(err)
			}
			var export bytes.Buffer
			if _, err := s.svc.Export(s.ctx, s.p, s.t.TempDir(), &export); err != nil {
				s.t.Fatal(err)
			}
			beta := &contextd.Principal{Tenant: "beta", Role: contextd.RoleAdmin, Subject: "t"}
			if _, err := s.svc.Import(s.ctx, beta, &export); err != nil {
				s.t.Fatal(err)
			}
			r, err := s.svc.Search(s.ctx, beta, contextd.SearchQuery{Query: "dog", Mode: contextd.ModeSemantic, Limit: 10})
			if err != nil || !slices.Equal(idsOf(r), []string{"a"}) || r.Results[0].Score <= 0 {
				s.t.Fatalf("semantic search of the imported tenant = %v, %v; want [a] with a positive score", r, err)
			}
			hits, err := s.svc.SearchMemories(s.ctx, beta, contextd.MemorySearch{Query: "dog", Mode: contextd.ModeSemantic})
			if err != nil || len(hits) != 1 || hits[0].Memory.ID != "m1" || hits[0].Score <= 0 {
				s.t.Fatalf("semantic memory search of the imported tenant = %v, %v; want m1 with a positive score", hits, err)
			}
		}},
		{"semantic/off is a clear 400", func(e *env) {
			svc := contextd.NewService(e.s)
			p := &contextd.Principal{Tenant: "acme", Role: contextd.RoleAdmin}
			_, err := svc.Search(e.ctx, p, contextd.SearchQuery{Query: "x", Mode: contextd.ModeSemantic})
			e.wantCode(err, contextd.EINVALID, "semantic search without an embedder")
			_, err = svc.SearchMemories(e.ctx, p, contextd.MemorySearch{Query: "x", Mode: contextd.ModeHybrid})
			e.wantCode(err, contextd.EINVALID, "hybrid memory search without an embedder")
		}},
	}
}

func facetEqual(a, b []contextd.FacetCount) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Count != b[i].Count || a[i].Value != b[i].Value {
			return false
		}
	}
	return true
}
