package storetest

import (
	"slices"
	"testing"

	"github.com/contextd/contextd"
)

func graphTests() []test {
	return []test{
		{"graph/depth", testGraphDepth},
		{"graph/direction", testGraphDirection},
		{"graph/types", testGraphTypes},
		{"graph/each-node-once", testGraphEachNodeOnce},
		{"graph/cycles-terminate", testGraphCycles},
		{"graph/max-nodes-truncates", testGraphMaxNodes},
		{"graph/lone-root", testGraphLoneRoot},
		{"graph/root-missing", testGraphRootMissing},
	}
}

// chain creates n0 -REL-> n1 -> ... -> n(n-1) and returns the ids.
func (e *env) chain(n int, typ string) []string {
	e.t.Helper()
	var items []contextd.ContextCreate
	for i := range n {
		items = append(items, contextd.ContextCreate{ID: "n" + itoa(i), Title: "node " + itoa(i)})
	}
	cs := e.mustContexts(tenantA, items...)
	ids := contextIDs(cs)
	for i := 1; i < n; i++ {
		e.link(tenantA, ids[i-1], ids[i], typ)
	}
	return ids
}

// checkGraph checks the invariants of every graph answer: the root first,
// each node once, each edge once and only between returned nodes, of a
// followed type, and nodes in breadth-first order when depths are known.
func (e *env) checkGraph(what string, g *contextd.Graph, root string, types []string, depth map[string]int) {
	e.t.Helper()
	if g == nil || len(g.Nodes) == 0 {
		e.t.Fatalf("%s: empty graph", what)
	}
	if g.Nodes[0] == nil || g.Nodes[0].ID != root {
		e.t.Errorf("%s: first node %v, want the root %s", what, contextIDs(g.Nodes[:1]), root)
	}
	nodes := e.unique(what+": nodes", contextIDs(g.Nodes))
	e.unique(what+": edges", relIDs(g.Edges))
	for _, r := range g.Edges {
		if !nodes[r.SourceID] || !nodes[r.TargetID] {
			e.t.Errorf("%s: edge %s has an end outside the returned nodes %v", what, relKey(r.SourceID, r.Type, r.TargetID), contextIDs(g.Nodes))
		}
		if len(types) > 0 && !slices.Contains(types, r.Type) {
			e.t.Errorf("%s: edge %s is of a type not followed (%v)", what, relKey(r.SourceID, r.Type, r.TargetID), types)
		}
	}
	if depth != nil {
		last := 0
		for _, n := range g.Nodes {
			d, ok := depth[n.ID]
			if !ok {
				continue
			}
			if d < last {
				e.t.Errorf("%s: nodes not in breadth-first order: %v", what, contextIDs(g.Nodes))
				break
			}
			last = d
		}
	}
}

// hasEdges fails unless every key in want is among g's edges.
func (e *env) hasEdges(what string, g *contextd.Graph, want ...string) {
	e.t.Helper()
	got := relKeys(g.Edges)
	for _, k := range want {
		if !slices.Contains(got, k) {
			e.t.Errorf("%s: edge %s missing from %v", what, k, got)
		}
	}
}

func testGraphDepth(e *env) {
	ids := e.chain(7, contextd.RelRelatesTo)
	for d := 1; d <= contextd.MaxGraphDepth; d++ {
		g := e.mustGraph(tenantA, contextd.GraphQuery{RootID: ids[0], Depth: d, Direction: contextd.DirectionOut})
		what := "depth " + itoa(d)
		e.checkGraph(what, g, ids[0], nil, nil)
		if got := contextIDs(g.Nodes); !slices.Equal(got, ids[:d+1]) {
			e.t.Errorf("%s: nodes %v, want %v", what, got, ids[:d+1])
		}
		var wantEdges []string
		for i := 1; i <= d; i++ {
			wantEdges = append(wantEdges, relKey(ids[i-1], contextd.RelRelatesTo, ids[i]))
		}
		if got := relKeys(g.Edges); !sameSet(got, wantEdges) {
			e.t.Errorf("%s: edges %v, want %v", what, got, wantEdges)
		}
		if g.Truncated {
			e.t.Errorf("%s: truncated without a node cap", what)
		}
	}
	// Default depth is 1.
	g := e.mustGraph(tenantA, contextd.GraphQuery{RootID: ids[3]})
	if got := contextIDs(g.Nodes); !sameSet(got, ids[2:5]) {
		e.t.Errorf("default depth from n3: %v, want %v", got, ids[2:5])
	}
	// Node contents are full contexts.
	for _, n := range g.Nodes {
		if n.Title != "node "+n.ID[1:] || n.Version != 1 || n.Type != contextd.DefaultContextType {
			e.t.Errorf("graph node %s: title %q version %d type %q", n.ID, n.Title, n.Version, n.Type)
		}
	}
}

func testGraphDirection(e *env) {
	ids := e.chain(7, contextd.RelFollows)
	depth := map[string]int{ids[3]: 0, ids[2]: 1, ids[4]: 1, ids[1]: 2, ids[5]: 2}
	cases := []struct {
		dir  string
		want []string
	}{
		{contextd.DirectionOut, []string{ids[3], ids[4], ids[5]}},
		{contextd.DirectionIn, []string{ids[3], ids[2], ids[1]}},
		{contextd.DirectionBoth, []string{ids[3], ids[2], ids[4], ids[1], ids[5]}},
	}
	for _, tc := range cases {
		e.t.Run(tc.dir, func(t *testing.T) {
			e := e.with(t)
			g := e.mustGraph(tenantA, contextd.GraphQuery{RootID: ids[3], Depth: 2, Direction: tc.dir})
			e.checkGraph(tc.dir, g, ids[3], nil, depth)
			if got := contextIDs(g.Nodes); !sameSet(got, tc.want) {
				t.Errorf("nodes %v, want %v", got, tc.want)
			}
			if len(g.Edges) != len(tc.want)-1 {
				t.Errorf("edges %v, want %d", relKeys(g.Edges), len(tc.want)-1)
			}
		})
	}
}

func testGraphTypes(e *env) {
	e.mustContexts(tenantA,
		contextd.ContextCreate{ID: "a", Title: "a"}, contextd.ContextCreate{ID: "b", Title: "b"},
		contextd.ContextCreate{ID: "c", Title: "c"}, contextd.ContextCreate{ID: "d", Title: "d"},
		contextd.ContextCreate{ID: "e", Title: "e"})
	e.link(tenantA, "a", "b", contextd.RelContains)
	e.link(tenantA, "b", "c", contextd.RelContains)
	e.link(tenantA, "a", "d", contextd.RelRelatesTo)
	e.link(tenantA, "b", "e", contextd.RelFollows)
	e.link(tenantA, "d", "c", "CUSTOM_TYPE")
	cases := []struct {
		name  string
		types []string
		want  []string
		edges []string
	}{
		{"contains", []string{contextd.RelContains}, []string{"a", "b", "c"},
			[]string{"a -CONTAINS-> b", "b -CONTAINS-> c"}},
		{"contains+follows", []string{contextd.RelContains, contextd.RelFollows}, []string{"a", "b", "c", "e"},
			[]string{"a -CONTAINS-> b", "b -CONTAINS-> c", "b -FOLLOWS-> e"}},
		{"relates", []string{contextd.RelRelatesTo}, []string{"a", "d"}, []string{"a -RELATES_TO-> d"}},
		{"relates+custom", []string{contextd.RelRelatesTo, "CUSTOM_TYPE"}, []string{"a", "d", "c"},
			[]string{"a -RELATES_TO-> d", "d -CUSTOM_TYPE-> c"}},
		{"unused", []string{"NOT_THERE"}, []string{"a"}, nil},
		{"all", nil, []string{"a", "b", "c", "d", "e"}, nil},
	}
	for _, tc := range cases {
		e.t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			g := e.mustGraph(tenantA, contextd.GraphQuery{RootID: "a", Depth: 3, Direction: contextd.DirectionOut, Types: tc.types})
			e.checkGraph(tc.name, g, "a", tc.types, nil)
			if got := contextIDs(g.Nodes); !sameSet(got, tc.want) {
				t.Errorf("nodes %v, want %v", got, tc.want)
			}
			if tc.edges != nil {
				if got := relKeys(g.Edges); !sameSet(got, tc.edges) {
					t.Errorf("edges %v, want %v", got, tc.edges)
				}
			}
		})
	}
}

func testGraphEachNodeOnce(e *env) {
	e.mustContexts(tenantA,
		contextd.ContextCreate{ID: "top", Title: "top"}, contextd.ContextCreate{ID: "left", Title: "left"},
		contextd.ContextCreate{ID: "right", Title: "right"}, contextd.ContextCreate{ID: "bottom", Title: "bottom"},
		contextd.ContextCreate{ID: "under", Title: "under"})
	e.link(tenantA, "top", "left", contextd.RelContains)
	e.link(tenantA, "top", "right", contextd.RelContains)
	e.link(tenantA, "left", "bottom", contextd.RelContains)
	e.link(tenantA, "right", "bottom", contextd.RelContains)
	e.link(tenantA, "top", "bottom", contextd.RelRelatesTo)
	e.link(tenantA, "bottom", "under", contextd.RelContains)
	depth := map[string]int{"top": 0, "left": 1, "right": 1, "bottom": 1, "under": 2}
	for _, dir := range []string{contextd.DirectionOut, contextd.DirectionBoth} {
		g := e.mustGraph(tenantA, contextd.GraphQuery{RootID: "top", Depth: 5, Direction: dir})
		e.checkGraph("diamond "+dir, g, "top", nil, depth)
		if got := contextIDs(g.Nodes); !sameSet(got, []string{"top", "left", "right", "bottom", "under"}) {
			e.t.Errorf("diamond %s: nodes %v", dir, got)
		}
		e.hasEdges("diamond "+dir, g, "top -CONTAINS-> left", "top -CONTAINS-> right", "top -RELATES_TO-> bottom", "bottom -CONTAINS-> under")
	}
	// Depth 1: "under" is two steps away and stays out, with its edge.
	g := e.mustGraph(tenantA, contextd.GraphQuery{RootID: "top", Depth: 1, Direction: contextd.DirectionOut})
	e.checkGraph("diamond depth 1", g, "top", nil, depth)
	if got := contextIDs(g.Nodes); !sameSet(got, []string{"top", "left", "right", "bottom"}) {
		e.t.Errorf("diamond depth 1: nodes %v", got)
	}
}

func testGraphCycles(e *env) {
	e.mustContexts(tenantA, contextd.ContextCreate{ID: "a", Title: "a"}, contextd.ContextCreate{ID: "b", Title: "b"},
		contextd.ContextCreate{ID: "c", Title: "c"}, contextd.ContextCreate{ID: "d", Title: "d"})
	e.link(tenantA, "a", "b", contextd.RelRelatesTo)
	e.link(tenantA, "b", "c", contextd.RelRelatesTo)
	e.link(tenantA, "c", "a", contextd.RelRelatesTo)
	e.link(tenantA, "c", "b", contextd.RelFollows)
	e.link(tenantA, "b", "a", contextd.RelInfluences)
	e.link(tenantA, "a", "a", contextd.RelRelatesTo) // a non-CONTAINS self-loop
	for _, dir := range []string{contextd.DirectionOut, contextd.DirectionIn, contextd.DirectionBoth} {
		g := e.mustGraph(tenantA, contextd.GraphQuery{RootID: "a", Depth: 5, Direction: dir})
		e.checkGraph("cycle "+dir, g, "a", nil, nil)
		if got := contextIDs(g.Nodes); !sameSet(got, []string{"a", "b", "c"}) {
			e.t.Errorf("cycle %s: nodes %v, want a, b, c (d is unconnected)", dir, got)
		}
		for _, n := range g.Nodes[1:] {
			touched := false
			for _, r := range g.Edges {
				if r.SourceID == n.ID || r.TargetID == n.ID {
					touched = true
				}
			}
			if !touched {
				e.t.Errorf("cycle %s: node %s is returned without the edge that reached it", dir, n.ID)
			}
		}
	}
}

func testGraphMaxNodes(e *env) {
	items := []contextd.ContextCreate{{ID: "root", Title: "root"}}
	depth := map[string]int{"root": 0}
	for i := range 10 {
		items = append(items, contextd.ContextCreate{ID: "leaf" + itoa(i), Title: "leaf"}, contextd.ContextCreate{ID: "grand" + itoa(i), Title: "grand"})
		depth["leaf"+itoa(i)] = 1
		depth["grand"+itoa(i)] = 2
	}
	e.mustContexts(tenantA, items...)
	for i := range 10 {
		e.link(tenantA, "root", "leaf"+itoa(i), contextd.RelContains)
		e.link(tenantA, "leaf"+itoa(i), "grand"+itoa(i), contextd.RelContains)
	}
	full := e.mustGraph(tenantA, contextd.GraphQuery{RootID: "root", Depth: 2})
	e.checkGraph("uncapped", full, "root", nil, depth)
	if len(full.Nodes) != 21 || len(full.Edges) != 20 || full.Truncated {
		e.t.Errorf("uncapped: %d nodes, %d edges, truncated %v; want 21, 20, false", len(full.Nodes), len(full.Edges), full.Truncated)
	}
	exact := e.mustGraph(tenantA, contextd.GraphQuery{RootID: "root", Depth: 2, MaxNodes: 21})
	if len(exact.Nodes) != 21 || exact.Truncated {
		e.t.Errorf("cap equal to the node count: %d nodes, truncated %v; want 21, false", len(exact.Nodes), exact.Truncated)
	}
	for _, max := range []int{1, 4, 11, 15} {
		g := e.mustGraph(tenantA, contextd.GraphQuery{RootID: "root", Depth: 2, MaxNodes: max})
		what := "maxNodes " + itoa(max)
		e.checkGraph(what, g, "root", nil, depth)
		if len(g.Nodes) != max {
			e.t.Errorf("%s: %d nodes", what, len(g.Nodes))
		}
		if !g.Truncated {
			e.t.Errorf("%s: Truncated is false", what)
		}
		// Breadth first: leaves come before any grandchild is taken.
		for _, n := range g.Nodes {
			if max <= 11 && depth[n.ID] == 2 {
				e.t.Errorf("%s: grandchild %s returned before all leaves", what, n.ID)
			}
		}
		if max == 1 && len(g.Edges) != 0 {
			e.t.Errorf("%s: edges %v with only the root returned", what, relKeys(g.Edges))
		}
	}
}

func testGraphLoneRoot(e *env) {
	c := e.note(tenantA, "alone", "")
	e.note(tenantA, "also alone", "")
	g := e.mustGraph(tenantA, contextd.GraphQuery{RootID: c.ID, Depth: 5})
	e.checkGraph("lone", g, c.ID, nil, nil)
	if len(g.Nodes) != 1 || len(g.Edges) != 0 || g.Truncated {
		e.t.Errorf("lone root: %d nodes %d edges truncated %v", len(g.Nodes), len(g.Edges), g.Truncated)
	}
	e.checkContext("the root node", g.Nodes[0], c)
}

func testGraphRootMissing(e *env) {
	e.chain(2, contextd.RelRelatesTo)
	_, err := e.graph(tenantA, contextd.GraphQuery{RootID: "missing", Depth: 2})
	e.wantCode(err, contextd.ENOTFOUND, "graph from a missing root")
	_, err = e.graph(tenantB, contextd.GraphQuery{RootID: "n0", Depth: 2})
	e.wantCode(err, contextd.ENOTFOUND, "graph from another tenant's root")
}
