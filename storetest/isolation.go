package storetest

import (
	"fmt"
	"math"
	"slices"

	"github.com/contextd/contextd"
)

func isolationTests() []test {
	return []test{
		{"isolation/tenant-get", testIsoGet},
		{"isolation/tenant-update-delete", testIsoUpdateDelete},
		{"isolation/tenant-list", testIsoList},
		{"isolation/tenant-count", testIsoCount},
		{"isolation/tenant-search", testIsoSearch},
		{"isolation/tenant-scores", testIsoScores},
		{"isolation/tenant-graph", testIsoGraph},
		{"isolation/tenant-link", testIsoLink},
		{"isolation/tenant-relationships", testIsoRelationships},
		{"isolation/tenant-memories", testIsoMemories},
		{"isolation/tenant-sessions", testIsoSessions},
		{"isolation/uid-contexts", testUIDContexts},
		{"isolation/uid-search-graph-link", testUIDSearchGraph},
		{"isolation/uid-memories", testUIDMemories},
		{"isolation/uid-sessions", testUIDSessions},
		{"isolation/uid-writes-forbidden", testUIDWrites},
	}
}

// twoTenants is data in tenant A and in tenant B, with colliding ids where
// ids can collide ("n1", "shared-session").
type twoTenants struct {
	a1, a2, aN1 *contextd.Context // A's
	aEdge       *contextd.Relationship
	aMem        *contextd.Memory
	b1, bN1     *contextd.Context // B's
	bMem        *contextd.Memory
}

func seedTwoTenants(e *env) *twoTenants {
	e.t.Helper()
	var d twoTenants
	cs := e.mustContexts(tenantA,
		contextd.ContextCreate{ID: "a1", Title: "Secret merger aardvark", Content: "aardvark plans", Type: "secret-type",
			Tags: []string{"confidential"}, SessionID: "shared-session", UserID: "alice", Metadata: map[string]any{"code": "red"}},
		contextd.ContextCreate{ID: "a2", Title: "More aardvark", Content: "aardvark", UserID: "bob", Type: "secret-type"},
		contextd.ContextCreate{ID: "n1", Title: "A's n1 aardvark"},
		contextd.ContextCreate{ID: "n2", Title: "A's n2"})
	d.a1, d.a2, d.aN1 = cs[0], cs[1], cs[2]
	d.aEdge = e.link(tenantA, "a1", "a2", contextd.RelContains)
	e.link(tenantA, "n1", "n2", contextd.RelRelatesTo)
	e.link(tenantA, "n1", "a1", contextd.RelRelatesTo)
	d.aMem = e.mustMemory(tenantA, contextd.MemoryCreate{ID: "mem-a", Content: "aardvark memory of A", SessionID: "shared-session", UserID: "alice", Importance: contextd.ImportanceCritical})
	e.mustMemory(tenantA, contextd.MemoryCreate{Content: "another aardvark of A", SessionID: "a-only", UserID: "alice"})
	e.mustSession(tenantA, contextd.SessionCreate{ID: "a-empty", UserID: "alice"})

	bs := e.mustContexts(tenantB,
		contextd.ContextCreate{ID: "b1", Title: "B's aardvark", Content: "aardvark of B", UserID: "zed"},
		contextd.ContextCreate{ID: "n1", Title: "B's n1", UserID: "zed"},
		contextd.ContextCreate{ID: "n3", Title: "B's n3", UserID: "zed"})
	d.b1, d.bN1 = bs[0], bs[1]
	e.link(tenantB, "n1", "n3", contextd.RelRelatesTo)
	d.bMem = e.mustMemory(tenantB, contextd.MemoryCreate{ID: "mem-b", Content: "aardvark memory of B", SessionID: "shared-session", UserID: "zed"})
	e.tick()
	return &d
}

func testIsoGet(e *env) {
	d := seedTwoTenants(e)
	for _, id := range []string{"a1", "a2", "n2"} {
		_, err := e.s.GetContext(e.ctx, tenantB, id)
		e.wantCode(err, contextd.ENOTFOUND, "B gets A's context %s", id)
	}
	if got := e.getContext(tenantB, "n1"); got.Title != d.bN1.Title {
		e.t.Errorf("B's n1 is %q", got.Title)
	}
	if got := e.getContext(tenantA, "n1"); got.Title != d.aN1.Title {
		e.t.Errorf("A's n1 is %q", got.Title)
	}
	_, err := e.s.GetMemory(e.ctx, tenantB, d.aMem.ID)
	e.wantCode(err, contextd.ENOTFOUND, "B gets A's memory")
	_, err = e.s.GetSession(e.ctx, tenantB, "a-only")
	e.wantCode(err, contextd.ENOTFOUND, "B gets A's session")
}

func testIsoUpdateDelete(e *env) {
	d := seedTwoTenants(e)
	_, err := e.updateContext(tenantB, "a1", contextd.ContextUpdate{Title: ptr("pwned")})
	e.wantCode(err, contextd.ENOTFOUND, "B updates A's context")
	_, err = e.updateContext(tenantB, "a1", contextd.ContextUpdate{Title: ptr("pwned"), IfVersion: 1})
	e.wantCode(err, contextd.ENOTFOUND, "B updates A's context with IfVersion")
	e.wantCode(e.s.DeleteContext(e.ctx, tenantB, "a1"), contextd.ENOTFOUND, "B deletes A's context")
	e.wantCode(e.s.DeleteRelationship(e.ctx, tenantB, d.aEdge.ID), contextd.ENOTFOUND, "B deletes A's relationship")
	_, err = e.updateMemory(tenantB, d.aMem.ID, contextd.MemoryUpdate{Content: ptr("pwned")})
	e.wantCode(err, contextd.ENOTFOUND, "B updates A's memory")
	e.wantCode(e.s.DeleteMemory(e.ctx, tenantB, d.aMem.ID), contextd.ENOTFOUND, "B deletes A's memory")
	e.wantCode(e.s.DeleteSession(e.ctx, tenantB, "a-only"), contextd.ENOTFOUND, "B deletes A's session")
	// B deleting its own n1 and its own shared-session leaves A's alone.
	if err := e.s.DeleteContext(e.ctx, tenantB, "n1"); err != nil {
		e.t.Fatal(err)
	}
	if err := e.s.DeleteSession(e.ctx, tenantB, "shared-session"); err != nil {
		e.t.Fatal(err)
	}
	e.checkContext("A's a1", e.getContext(tenantA, "a1"), d.a1)
	e.checkContext("A's n1", e.getContext(tenantA, "n1"), d.aN1)
	e.checkMemory("A's memory", e.getMemory(tenantA, d.aMem.ID), d.aMem)
	if s := e.getSession(tenantA, "shared-session"); s.MemoryCount != 1 {
		e.t.Errorf("A's shared-session counts %d memories", s.MemoryCount)
	}
	e.getSession(tenantA, "a-only")
	if rels := e.getContext(tenantA, "a1").Relationships; relByID(rels, d.aEdge.ID) == nil {
		e.t.Errorf("A's edge is gone: %v", relKeys(rels))
	}
	if n := len(e.getContext(tenantA, "n1").Relationships); n != 2 {
		e.t.Errorf("A's n1 has %d relationships, want 2", n)
	}
}

func testIsoList(e *env) {
	d := seedTwoTenants(e)
	if got := contextIDs(e.listContexts(tenantB, contextd.ContextFilter{})); !sameSet(got, []string{"b1", "n1", "n3"}) {
		e.t.Errorf("B lists contexts %v", got)
	}
	for _, f := range []contextd.ContextFilter{
		{Type: "secret-type"}, {Tags: []string{"confidential"}}, {SessionID: "shared-session"}, {UserID: "alice"}, {UserID: "bob"},
	} {
		if got := contextIDs(e.listContexts(tenantB, f)); len(got) != 0 {
			e.t.Errorf("B lists %v with filter %+v", got, f)
		}
	}
	if got := contextIDs(e.listContexts(tenantA, contextd.ContextFilter{})); !sameSet(got, []string{"a1", "a2", "n1", "n2"}) {
		e.t.Errorf("A lists contexts %v", got)
	}
	for _, c := range e.listContexts(tenantB, contextd.ContextFilter{}) {
		for _, r := range c.Relationships {
			if r.SourceID == "n2" || r.TargetID == "n2" || r.TargetID == "a1" {
				e.t.Errorf("B's %s carries A's edge %v", c.ID, relKeys([]*contextd.Relationship{r}))
			}
		}
	}
	_ = d
}

func testIsoCount(e *env) {
	seedTwoTenants(e)
	st, err := e.s.IndexStats(e.ctx, tenantB)
	if err != nil {
		e.t.Fatal(err)
	}
	if st.Documents != 3 || st.Memories != 1 {
		e.t.Errorf("B's IndexStats: %d documents %d memories, want 3 and 1", st.Documents, st.Memories)
	}
	st, err = e.s.IndexStats(e.ctx, tenantA)
	if err != nil {
		e.t.Fatal(err)
	}
	if st.Documents != 4 || st.Memories != 2 {
		e.t.Errorf("A's IndexStats: %d documents %d memories, want 4 and 2", st.Documents, st.Memories)
	}
}

func testIsoSearch(e *env) {
	seedTwoTenants(e)
	res := e.search(tenantB, contextd.SearchQuery{Query: "aardvark merger secret", Limit: 100,
		Facets: []string{"type", "status", "tags", "metadata.code"}})
	if got := hitIDs(res.Results); !slices.Equal(got, []string{"b1"}) || res.Total != 1 {
		e.t.Errorf("B searches: %v total %d, want only b1", got, res.Total)
	}
	if got := facetMap(res.Facets["type"]); fmt.Sprint(got) != fmt.Sprint(map[string]int{"note": 1}) {
		e.t.Errorf("B's type facet %v", got)
	}
	if got := facetMap(res.Facets["tags"]); len(got) != 0 {
		e.t.Errorf("B's tags facet %v shows A's tags", got)
	}
	if got := facetMap(res.Facets["metadata.code"]); len(got) != 0 {
		e.t.Errorf("B's metadata facet %v shows A's values", got)
	}
	res = e.search(tenantB, contextd.SearchQuery{Limit: 100, Facets: []string{"type"}})
	if got := hitIDs(res.Results); !sameSet(got, []string{"b1", "n1", "n3"}) || res.Total != 3 {
		e.t.Errorf("B's empty query: %v total %d", got, res.Total)
	}
	res = e.search(tenantB, contextd.SearchQuery{Query: "-nothing", Limit: 100})
	if res.Total != 3 {
		e.t.Errorf("B's exclusion-only query: total %d, want 3", res.Total)
	}
	res = e.search(tenantB, contextd.SearchQuery{Query: "aardvark", Filters: contextd.SearchFilters{Types: []string{"secret-type"}}})
	if res.Total != 0 {
		e.t.Errorf("B finds A's type: %v", hitIDs(res.Results))
	}
	res = e.search(tenantA, contextd.SearchQuery{Query: "aardvark", Limit: 100})
	if got := hitIDs(res.Results); !sameSet(got, []string{"a1", "a2", "n1"}) || res.Total != 3 {
		e.t.Errorf("A searches: %v total %d", got, res.Total)
	}
	hits := e.searchMemories(tenantB, contextd.MemorySearch{Query: "aardvark", Limit: 100})
	if got := memoryHitIDs(hits); !slices.Equal(got, []string{"mem-b"}) {
		e.t.Errorf("B searches memories: %v", got)
	}
	hits = e.searchMemories(tenantB, contextd.MemorySearch{Limit: 100})
	if got := memoryHitIDs(hits); !slices.Equal(got, []string{"mem-b"}) {
		e.t.Errorf("B searches memories without a query: %v", got)
	}
}

func testIsoGraph(e *env) {
	seedTwoTenants(e)
	for _, dir := range []string{contextd.DirectionOut, contextd.DirectionIn, contextd.DirectionBoth} {
		g := e.mustGraph(tenantB, contextd.GraphQuery{RootID: "n1", Depth: 5, Direction: dir})
		want := map[string][]string{contextd.DirectionOut: {"n1", "n3"}, contextd.DirectionIn: {"n1"}, contextd.DirectionBoth: {"n1", "n3"}}[dir]
		if got := contextIDs(g.Nodes); !sameSet(got, want) {
			e.t.Errorf("B's graph from n1 %s: %v, want %v", dir, got, want)
		}
		if g.Nodes[0].Title != "B's n1" {
			e.t.Errorf("B's graph root is %q", g.Nodes[0].Title)
		}
		for _, r := range g.Edges {
			if r.TargetID == "n2" || r.TargetID == "a1" {
				e.t.Errorf("B's graph holds A's edge %v", relKeys([]*contextd.Relationship{r}))
			}
		}
	}
	g := e.mustGraph(tenantA, contextd.GraphQuery{RootID: "n1", Depth: 5})
	if got := contextIDs(g.Nodes); !sameSet(got, []string{"n1", "n2", "a1", "a2"}) {
		e.t.Errorf("A's graph from n1: %v", got)
	}
	for _, id := range []string{"a1", "n2"} {
		_, err := e.graph(tenantB, contextd.GraphQuery{RootID: id, Depth: 2})
		e.wantCode(err, contextd.ENOTFOUND, "B's graph from A's %s", id)
	}
	if got := relKeys(e.getContext(tenantB, "n1").Relationships); !slices.Equal(got, []string{relKey("n1", contextd.RelRelatesTo, "n3")}) {
		e.t.Errorf("B's n1 relationships: %v", got)
	}
}

func testIsoLink(e *env) {
	seedTwoTenants(e)
	cases := []struct{ name, src, dst string }{
		{"B's to A's", "b1", "a1"},
		{"A's to B's (from B)", "a1", "b1"},
		{"A's to A's (from B)", "a1", "a2"},
		{"B's to A's id n2", "n1", "n2"},
	}
	for _, tc := range cases {
		_, err := e.linkErr(tenantB, contextd.RelationshipCreate{SourceID: tc.src, TargetID: tc.dst, Type: contextd.RelRelatesTo})
		e.wantCode(err, contextd.ENOTFOUND, "link %s", tc.name)
	}
	_, err := e.createContexts(tenantB, contextd.ContextCreate{ID: "b-new", Title: "x", Relationships: []contextd.RelationshipCreate{{Type: contextd.RelRelatesTo, TargetID: "a1"}}})
	e.wantCode(err, contextd.ENOTFOUND, "B creates a context linked to A's")
	_, err = e.s.GetContext(e.ctx, tenantB, "b-new")
	e.wantCode(err, contextd.ENOTFOUND, "the refused context")
	// A CONTAINS in B between ids that form a cycle in A is fine: cycles are per tenant.
	e.mustContexts(tenantB, contextd.ContextCreate{ID: "a1", Title: "B's a1"}, contextd.ContextCreate{ID: "a2", Title: "B's a2"})
	e.link(tenantB, "a2", "a1", contextd.RelContains)
	// And A's CONTAINS a1 -> a2 is not a duplicate of anything in B.
	if rels := e.getContext(tenantA, "a1").Relationships; len(rels) != 2 {
		e.t.Errorf("A's a1 has %v", relKeys(rels))
	}
}

func testIsoRelationships(e *env) {
	d := seedTwoTenants(e)
	_, err := e.findRelationships(tenantB, contextd.RelationshipFilter{ContextID: "a1"})
	e.wantCode(err, contextd.ENOTFOUND, "B lists A's edges")
	rels, err := e.findRelationships(tenantB, contextd.RelationshipFilter{ContextID: "n1"})
	if err != nil {
		e.t.Fatal(err)
	}
	if got := relKeys(rels); !slices.Equal(got, []string{relKey("n1", contextd.RelRelatesTo, "n3")}) {
		e.t.Errorf("B's n1 edges: %v", got)
	}
	e.wantCode(e.s.DeleteRelationship(e.ctx, tenantB, d.aEdge.ID), contextd.ENOTFOUND, "B deletes A's edge")
}

func testIsoMemories(e *env) {
	d := seedTwoTenants(e)
	if got := memoryIDs(e.listMemories(tenantB, contextd.MemoryFilter{})); !slices.Equal(got, []string{"mem-b"}) {
		e.t.Errorf("B lists memories %v", got)
	}
	if got := memoryIDs(e.listMemories(tenantB, contextd.MemoryFilter{SessionID: "shared-session"})); !slices.Equal(got, []string{"mem-b"}) {
		e.t.Errorf("B lists memories of shared-session %v", got)
	}
	if got := memoryIDs(e.listMemories(tenantB, contextd.MemoryFilter{UserID: "alice"})); len(got) != 0 {
		e.t.Errorf("B lists A's user's memories %v", got)
	}
	if got := memoryIDs(e.listMemories(tenantA, contextd.MemoryFilter{SessionID: "shared-session"})); !slices.Equal(got, []string{d.aMem.ID}) {
		e.t.Errorf("A lists memories of shared-session %v", got)
	}
	// A memory id is per tenant.
	e.mustMemory(tenantB, contextd.MemoryCreate{ID: d.aMem.ID, Content: "B's copy"})
	e.checkMemory("A's memory", e.getMemory(tenantA, d.aMem.ID), d.aMem)
}

func testIsoSessions(e *env) {
	seedTwoTenants(e)
	if got := sessionIDs(e.listSessions(tenantB, contextd.SessionFilter{})); !slices.Equal(got, []string{"shared-session"}) {
		e.t.Errorf("B lists sessions %v", got)
	}
	if got := sessionIDs(e.listSessions(tenantB, contextd.SessionFilter{UserID: "alice"})); len(got) != 0 {
		e.t.Errorf("B lists A's user's sessions %v", got)
	}
	b := e.getSession(tenantB, "shared-session")
	if b.UserID != "zed" || b.MemoryCount != 1 || b.ContextCount != 0 {
		e.t.Errorf("B's shared-session: %+v, want zed's with 1 memory and 0 contexts", b)
	}
	a := e.getSession(tenantA, "shared-session")
	if a.UserID != "alice" || a.MemoryCount != 1 || a.ContextCount != 1 {
		e.t.Errorf("A's shared-session: %+v, want alice's with 1 memory and 1 context", a)
	}
	if got := sessionIDs(e.listSessions(tenantA, contextd.SessionFilter{})); !sameSet(got, []string{"shared-session", "a-only", "a-empty"}) {
		e.t.Errorf("A lists sessions %v", got)
	}
}

var (
	aliceScope = contextd.Scope{Tenant: tenantA.Tenant, UserID: "alice"}
	bobScope   = contextd.Scope{Tenant: tenantA.Tenant, UserID: "bob"}
)

// seedUsers creates data of alice and bob in tenant A.
func seedUsers(e *env) {
	e.t.Helper()
	e.mustContexts(tenantA,
		contextd.ContextCreate{ID: "al1", Title: "alice's pelican", Type: "diary", Tags: []string{"mine"}, UserID: "alice", SessionID: "sa"},
		contextd.ContextCreate{ID: "al2", Title: "alice's second", UserID: "alice"},
		contextd.ContextCreate{ID: "bo1", Title: "bob's pelican", Type: "secret", Tags: []string{"his"}, UserID: "bob", SessionID: "sb"})
	e.link(tenantA, "al1", "al2", contextd.RelRelatesTo)
	e.link(tenantA, "al2", "bo1", contextd.RelRelatesTo)
	e.mustMemories(tenantA,
		contextd.MemoryCreate{ID: "m-al", Content: "alice likes pelican birds", SessionID: "sa", UserID: "alice"},
		contextd.MemoryCreate{ID: "m-bo", Content: "bob likes pelican birds", SessionID: "sb", UserID: "bob"})
	e.tick()
}

func testUIDContexts(e *env) {
	seedUsers(e)
	if got := contextIDs(e.listContexts(aliceScope, contextd.ContextFilter{})); !sameSet(got, []string{"al1", "al2"}) {
		e.t.Errorf("alice lists %v", got)
	}
	if got := contextIDs(e.listContexts(aliceScope, contextd.ContextFilter{UserID: "bob"})); len(got) != 0 {
		e.t.Errorf("alice lists bob's with a userId filter: %v", got)
	}
	if got := contextIDs(e.listContexts(bobScope, contextd.ContextFilter{})); !sameSet(got, []string{"bo1"}) {
		e.t.Errorf("bob lists %v", got)
	}
	if got := contextIDs(e.listContexts(tenantA, contextd.ContextFilter{})); len(got) != 3 {
		e.t.Errorf("the whole tenant lists %v", got)
	}
	_, err := e.s.GetContext(e.ctx, aliceScope, "bo1")
	e.wantCode(err, contextd.ENOTFOUND, "alice gets bob's context")
	_, err = e.updateContext(aliceScope, "bo1", contextd.ContextUpdate{Title: ptr("mine now")})
	e.wantCode(err, contextd.ENOTFOUND, "alice updates bob's context")
	e.wantCode(e.s.DeleteContext(e.ctx, aliceScope, "bo1"), contextd.ENOTFOUND, "alice deletes bob's context")
	_, err = e.findRelationships(aliceScope, contextd.RelationshipFilter{ContextID: "bo1"})
	e.wantCode(err, contextd.ENOTFOUND, "alice lists the edges of bob's context")
	if got := e.getContext(aliceScope, "al1"); got.Title != "alice's pelican" {
		e.t.Errorf("alice gets her own: %q", got.Title)
	}
	e.mustUpdateContext(aliceScope, "al1", contextd.ContextUpdate{Title: ptr("alice's pelican, edited")})
	if got := e.getContext(tenantA, "bo1"); got.Version != 1 || got.Title != "bob's pelican" {
		e.t.Errorf("bob's context changed: %+v", got)
	}
	st, err := e.s.IndexStats(e.ctx, aliceScope)
	if err != nil {
		e.t.Fatal(err)
	}
	if st.Documents != 2 || st.Memories != 1 {
		e.t.Errorf("alice's IndexStats: %d documents %d memories, want 2 and 1", st.Documents, st.Memories)
	}
}

func testUIDSearchGraph(e *env) {
	seedUsers(e)
	res := e.search(aliceScope, contextd.SearchQuery{Query: "pelican", Limit: 100, Facets: []string{"type", "tags"}})
	if got := hitIDs(res.Results); !slices.Equal(got, []string{"al1"}) || res.Total != 1 {
		e.t.Errorf("alice searches: %v total %d", got, res.Total)
	}
	if got := facetMap(res.Facets["type"]); fmt.Sprint(got) != fmt.Sprint(map[string]int{"diary": 1}) {
		e.t.Errorf("alice's type facet: %v", got)
	}
	if got := facetMap(res.Facets["tags"]); fmt.Sprint(got) != fmt.Sprint(map[string]int{"mine": 1}) {
		e.t.Errorf("alice's tags facet: %v", got)
	}
	res = e.search(aliceScope, contextd.SearchQuery{Limit: 100, Filters: contextd.SearchFilters{UserID: "bob"}})
	if res.Total != 0 {
		e.t.Errorf("alice finds bob's with a userId filter: %v", hitIDs(res.Results))
	}
	g := e.mustGraph(aliceScope, contextd.GraphQuery{RootID: "al1", Depth: 5})
	if got := contextIDs(g.Nodes); !sameSet(got, []string{"al1", "al2"}) {
		e.t.Errorf("alice's graph reaches %v, want only her own contexts", got)
	}
	for _, r := range g.Edges {
		if r.SourceID == "bo1" || r.TargetID == "bo1" {
			e.t.Errorf("alice's graph has bob's edge %v", relKeys([]*contextd.Relationship{r}))
		}
	}
	_, err := e.graph(aliceScope, contextd.GraphQuery{RootID: "bo1", Depth: 2})
	e.wantCode(err, contextd.ENOTFOUND, "alice's graph from bob's context")
	_, err = e.linkErr(aliceScope, contextd.RelationshipCreate{SourceID: "al1", TargetID: "bo1", Type: contextd.RelFollows})
	e.wantCode(err, contextd.ENOTFOUND, "alice links to bob's context")
	_, err = e.linkErr(aliceScope, contextd.RelationshipCreate{SourceID: "bo1", TargetID: "al1", Type: contextd.RelFollows})
	e.wantCode(err, contextd.ENOTFOUND, "alice links from bob's context")
}

func testUIDMemories(e *env) {
	seedUsers(e)
	if got := memoryIDs(e.listMemories(aliceScope, contextd.MemoryFilter{})); !slices.Equal(got, []string{"m-al"}) {
		e.t.Errorf("alice lists memories %v", got)
	}
	if got := memoryIDs(e.listMemories(aliceScope, contextd.MemoryFilter{SessionID: "sb"})); len(got) != 0 {
		e.t.Errorf("alice lists the memories of bob's session: %v", got)
	}
	_, err := e.s.GetMemory(e.ctx, aliceScope, "m-bo")
	e.wantCode(err, contextd.ENOTFOUND, "alice gets bob's memory")
	_, err = e.updateMemory(aliceScope, "m-bo", contextd.MemoryUpdate{Content: ptr("x")})
	e.wantCode(err, contextd.ENOTFOUND, "alice updates bob's memory")
	e.wantCode(e.s.DeleteMemory(e.ctx, aliceScope, "m-bo"), contextd.ENOTFOUND, "alice deletes bob's memory")
	if got := memoryHitIDs(e.searchMemories(aliceScope, contextd.MemorySearch{Query: "pelican birds"})); !slices.Equal(got, []string{"m-al"}) {
		e.t.Errorf("alice searches memories: %v", got)
	}
	if got := memoryHitIDs(e.searchMemories(aliceScope, contextd.MemorySearch{UserID: "bob"})); len(got) != 0 {
		e.t.Errorf("alice searches bob's memories by userId: %v", got)
	}
	e.getMemory(tenantA, "m-bo")
}

func testUIDSessions(e *env) {
	seedUsers(e)
	if got := sessionIDs(e.listSessions(aliceScope, contextd.SessionFilter{})); !slices.Equal(got, []string{"sa"}) {
		e.t.Errorf("alice lists sessions %v", got)
	}
	_, err := e.s.GetSession(e.ctx, aliceScope, "sb")
	e.wantCode(err, contextd.ENOTFOUND, "alice gets bob's session")
	e.wantCode(e.s.DeleteSession(e.ctx, aliceScope, "sb"), contextd.ENOTFOUND, "alice deletes bob's session")
	e.getMemory(tenantA, "m-bo")
	if s := e.getSession(aliceScope, "sa"); s.MemoryCount != 1 {
		e.t.Errorf("alice's session: %+v", s)
	}
}

func testUIDWrites(e *env) {
	seedUsers(e)
	_, err := e.createContexts(aliceScope, contextd.ContextCreate{Title: "as bob", UserID: "bob"})
	e.wantCode(err, contextd.EFORBIDDEN, "alice creates a context of bob")
	_, err = e.createMemories(aliceScope, contextd.MemoryCreate{Content: "as bob", UserID: "bob", SessionID: "new-s"})
	e.wantCode(err, contextd.EFORBIDDEN, "alice creates a memory of bob")
	_, err = e.createSession(aliceScope, contextd.SessionCreate{ID: "bobs-new", UserID: "bob"})
	e.wantCode(err, contextd.EFORBIDDEN, "alice creates a session of bob")
	if got := contextIDs(e.listContexts(tenantA, contextd.ContextFilter{UserID: "bob"})); !slices.Equal(got, []string{"bo1"}) {
		e.t.Errorf("bob's contexts after refused writes: %v", got)
	}
	_, err = e.s.GetSession(e.ctx, tenantA, "new-s")
	e.wantCode(err, contextd.ENOTFOUND, "the session of a refused memory")
	// Her own data she may write.
	e.mustContext(aliceScope, contextd.ContextCreate{Title: "mine", UserID: "alice"})
	e.mustMemory(aliceScope, contextd.MemoryCreate{Content: "mine", UserID: "alice", SessionID: "sa"})
}

// testIsoScores: a tenant's search scores, of contexts and of memories, are
// its own: other tenants' writes of the same words do not move them (BM25's
// document counts and lengths are the caller's tenant's alone). Seventeen
// other tenants write, so that one of them shares whatever a store groups
// tenants by (the embedded store's index shards).
func testIsoScores(e *env) {
	mine := contextd.Scope{Tenant: "scores-mine"}
	texts := []string{"kestrel harbor lantern", "kestrel meadow", "harbor lantern lantern quarry", "meadow quarry orchard",
		"kestrel kestrel quarry harbor", "orchard lantern meadow meadow"}
	for i, t := range texts {
		e.mustContext(mine, contextd.ContextCreate{Title: fmt.Sprintf("note %d", i), Content: t})
		e.mustMemory(mine, contextd.MemoryCreate{Content: t, SessionID: "s"})
	}
	type scored struct {
		ids    []string
		scores []float64
	}
	run := func() (ctxs, mems scored) {
		res := e.search(mine, contextd.SearchQuery{Query: "kestrel lantern", Limit: 10})
		for _, h := range res.Results {
			ctxs.ids, ctxs.scores = append(ctxs.ids, h.Context.ID), append(ctxs.scores, h.Score)
		}
		for _, h := range e.searchMemories(mine, contextd.MemorySearch{Query: "kestrel lantern", Limit: 10}) {
			mems.ids, mems.scores = append(mems.ids, h.Memory.ID), append(mems.scores, h.Score)
		}
		return ctxs, mems
	}
	c0, m0 := run()
	if len(c0.ids) != 5 || len(m0.ids) != 5 {
		e.t.Fatalf("contexts %v, memories %v: want the 5 holding kestrel or lantern", c0.ids, m0.ids)
	}
	for i := range 17 {
		other := contextd.Scope{Tenant: fmt.Sprintf("scores-other-%02d", i)}
		var cs []contextd.ContextCreate
		var ms []contextd.MemoryCreate
		for j := range 12 {
			t := "kestrel kestrel kestrel"
			if j%3 == 0 {
				t += " lantern"
			}
			cs = append(cs, contextd.ContextCreate{Title: "kestrel", Content: t})
			ms = append(ms, contextd.MemoryCreate{Content: t, SessionID: "s"})
		}
		e.mustContexts(other, cs...)
		e.mustMemories(other, ms...)
	}
	c1, m1 := run()
	for _, x := range []struct {
		what          string
		before, after scored
	}{{"contexts", c0, c1}, {"memories", m0, m1}} {
		if !slices.Equal(x.before.ids, x.after.ids) {
			e.t.Errorf("%s: %v after other tenants wrote, %v before", x.what, x.after.ids, x.before.ids)
			continue
		}
		for i := range x.before.scores {
			if b, a := x.before.scores[i], x.after.scores[i]; math.Abs(a-b) > 1e-9*math.Abs(b) {
				e.t.Errorf("%s: %s scores %v after other tenants wrote, %v before", x.what, x.before.ids[i], a, b)
			}
		}
	}
}
