package storetest

import (
	"slices"
	"testing"

	"github.com/contextd/contextd"
)

func relationshipTests() []test {
	return []test{
		{"relationships/create-round-trip", testRelCreate},
		{"relationships/types", testRelTypes},
		{"relationships/inline-on-create", testRelInline},
		{"relationships/both-directions-on-get", testRelBothDirections},
		{"relationships/listed-contexts-carry-relationships", testRelOnList},
		{"relationships/duplicate", testRelDuplicate},
		{"relationships/contains-cycle", testRelContainsCycle},
		{"relationships/contains-dag-allowed", testRelContainsDAG},
		{"relationships/non-contains-cycle-allowed", testRelOtherCycle},
		{"relationships/missing-ends", testRelMissingEnds},
		{"relationships/find", testRelFind},
		{"relationships/delete", testRelDelete},
		{"relationships/delete-context-removes-edges", testRelDeleteContext},
	}
}

func (e *env) three() (a, b, c *contextd.Context) {
	e.t.Helper()
	cs := e.mustContexts(tenantA,
		contextd.ContextCreate{ID: "a", Title: "A"},
		contextd.ContextCreate{ID: "b", Title: "B"},
		contextd.ContextCreate{ID: "c", Title: "C"})
	e.tick()
	return cs[0], cs[1], cs[2]
}

func (e *env) checkRel(what string, got *contextd.Relationship, src, typ, dst string, props map[string]any) {
	e.t.Helper()
	if got == nil {
		e.t.Fatalf("%s: nil relationship", what)
	}
	if got.SourceID != src || got.TargetID != dst || got.Type != typ {
		e.t.Errorf("%s: %s, want %s", what, relKeys([]*contextd.Relationship{got})[0], relKey(src, typ, dst))
	}
	if !contextd.ValidID(got.ID) {
		e.t.Errorf("%s: id %q is not a valid id", what, got.ID)
	}
	if got.Properties == nil {
		e.t.Errorf("%s: properties is nil, want an object", what)
	} else if props != nil && !jsonEqual(got.Properties, props) {
		e.t.Errorf("%s: properties %s, want %s", what, js(got.Properties), js(props))
	}
}

// relByID finds the relationship id in rs.
func relByID(rs []*contextd.Relationship, id string) *contextd.Relationship {
	for _, r := range rs {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func testRelCreate(e *env) {
	a, b, _ := e.three()
	now := e.now()
	props := map[string]any{"weight": 0.5, "note": "because", "n": 3, "flags": []any{true}}
	r, err := e.linkErr(tenantA, contextd.RelationshipCreate{SourceID: a.ID, TargetID: b.ID, Type: contextd.RelRelatesTo, Properties: props})
	if err != nil {
		e.t.Fatalf("CreateRelationship: %v", err)
	}
	e.checkRel("created", r, a.ID, contextd.RelRelatesTo, b.ID, props)
	if !r.CreatedAt.Equal(now) {
		e.t.Errorf("createdAt %v, want %v", r.CreatedAt, now)
	}
	e.tick()
	for _, id := range []string{a.ID, b.ID} {
		got := relByID(e.getContext(tenantA, id).Relationships, r.ID)
		if got == nil {
			e.t.Errorf("GetContext(%s) does not show relationship %s", id, r.ID)
			continue
		}
		e.checkRel("on GetContext("+id+")", got, a.ID, contextd.RelRelatesTo, b.ID, props)
		if !got.CreatedAt.Equal(now) {
			e.t.Errorf("stored createdAt %v, want %v", got.CreatedAt, now)
		}
	}
	// A client-supplied relationship id is honoured; a taken one is a conflict.
	r2, err := e.linkErr(tenantA, contextd.RelationshipCreate{ID: "my-edge", SourceID: b.ID, TargetID: a.ID, Type: contextd.RelFollows})
	if err != nil {
		e.t.Fatalf("CreateRelationship with an id: %v", err)
	}
	if r2.ID != "my-edge" {
		e.t.Errorf("client relationship id came back as %q", r2.ID)
	}
	_, err = e.linkErr(tenantA, contextd.RelationshipCreate{ID: "my-edge", SourceID: a.ID, TargetID: b.ID, Type: contextd.RelInfluences})
	e.wantCode(err, contextd.ECONFLICT, "relationship with a taken id")
}

func testRelTypes(e *env) {
	a, b, _ := e.three()
	types := []string{contextd.RelRelatesTo, contextd.RelFollows, contextd.RelInfluences, contextd.RelContains, contextd.RelDerivedFrom, "MENTIONED_IN_2", "X"}
	want := map[string]bool{}
	for _, typ := range types {
		r := e.link(tenantA, a.ID, b.ID, typ)
		e.checkRel(typ, r, a.ID, typ, b.ID, map[string]any{})
		want[r.ID] = true
	}
	got := e.getContext(tenantA, a.ID).Relationships
	if len(got) != len(types) {
		e.t.Errorf("a has %d relationships %v, want %d", len(got), relKeys(got), len(types))
	}
	var gotTypes []string
	for _, r := range got {
		gotTypes = append(gotTypes, r.Type)
		if !want[r.ID] {
			e.t.Errorf("unexpected relationship %s", r.ID)
		}
	}
	if !sameSet(gotTypes, types) {
		e.t.Errorf("types stored %v, want %v", gotTypes, types)
	}
}

func testRelInline(e *env) {
	target := e.note(tenantA, "target", "")
	other := e.note(tenantA, "other", "")
	e.tick()
	c := e.mustContext(tenantA, contextd.ContextCreate{
		Title: "source",
		Relationships: []contextd.RelationshipCreate{
			{Type: contextd.RelDerivedFrom, TargetID: target.ID, Properties: map[string]any{"why": "quoted"}},
			{Type: "CITES", TargetID: other.ID},
		},
	})
	wantKeys := []string{relKey(c.ID, contextd.RelDerivedFrom, target.ID), relKey(c.ID, "CITES", other.ID)}
	if !sameSet(relKeys(c.Relationships), wantKeys) {
		e.t.Errorf("created context shows %v, want %v", relKeys(c.Relationships), wantKeys)
	}
	if got := relKeys(e.getContext(tenantA, c.ID).Relationships); !sameSet(got, wantKeys) {
		e.t.Errorf("GetContext(source) shows %v, want %v", got, wantKeys)
	}
	if got := relKeys(e.getContext(tenantA, target.ID).Relationships); !sameSet(got, wantKeys[:1]) {
		e.t.Errorf("GetContext(target) shows %v, want the incoming %v", got, wantKeys[:1])
	}
	for _, r := range e.getContext(tenantA, target.ID).Relationships {
		e.checkRel("incoming inline edge", r, c.ID, contextd.RelDerivedFrom, target.ID, map[string]any{"why": "quoted"})
		if !r.CreatedAt.Equal(c.CreatedAt) {
			e.t.Errorf("inline edge createdAt %v, want the context's %v", r.CreatedAt, c.CreatedAt)
		}
	}
	// An inline edge to a missing target is ENOTFOUND.
	_, err := e.createContexts(tenantA, contextd.ContextCreate{Title: "dangling", Relationships: []contextd.RelationshipCreate{{Type: contextd.RelRelatesTo, TargetID: "nowhere"}}})
	e.wantCode(err, contextd.ENOTFOUND, "inline relationship to a missing target")
}

func testRelBothDirections(e *env) {
	a, b, c := e.three()
	ab := e.link(tenantA, a.ID, b.ID, contextd.RelRelatesTo)
	cb := e.link(tenantA, c.ID, b.ID, contextd.RelInfluences)
	bc := e.link(tenantA, b.ID, c.ID, contextd.RelFollows)
	cases := map[string][]*contextd.Relationship{a.ID: {ab}, b.ID: {ab, cb, bc}, c.ID: {cb, bc}}
	for id, want := range cases {
		if got := relIDs(e.getContext(tenantA, id).Relationships); !sameSet(got, relIDs(want)) {
			e.t.Errorf("GetContext(%s) relationships %v, want %v", id, got, relKeys(want))
		}
	}
}

func testRelOnList(e *env) {
	a, b, _ := e.three()
	ab := e.link(tenantA, a.ID, b.ID, contextd.RelRelatesTo)
	for _, c := range e.listContexts(tenantA, contextd.ContextFilter{}) {
		want := []string{}
		if c.ID == a.ID || c.ID == b.ID {
			want = []string{ab.ID}
		}
		if got := relIDs(c.Relationships); !sameSet(got, want) {
			e.t.Errorf("FindContexts: %s has relationships %v, want %v", c.ID, got, want)
		}
	}
}

func testRelDuplicate(e *env) {
	a, b, _ := e.three()
	e.link(tenantA, a.ID, b.ID, contextd.RelRelatesTo)
	_, err := e.linkErr(tenantA, contextd.RelationshipCreate{SourceID: a.ID, TargetID: b.ID, Type: contextd.RelRelatesTo, Properties: map[string]any{"x": 1}})
	e.wantCode(err, contextd.ECONFLICT, "duplicate (source, target, type)")
	e.link(tenantA, a.ID, b.ID, contextd.RelFollows)   // same pair, another type
	e.link(tenantA, b.ID, a.ID, contextd.RelRelatesTo) // reverse direction
	e.link(tenantA, a.ID, b.ID, contextd.RelContains)  // CONTAINS a -> b
	_, err = e.linkErr(tenantA, contextd.RelationshipCreate{SourceID: a.ID, TargetID: b.ID, Type: contextd.RelContains})
	e.wantCode(err, contextd.ECONFLICT, "duplicate CONTAINS")
	if n := len(e.getContext(tenantA, a.ID).Relationships); n != 4 {
		e.t.Errorf("a has %d relationships, want 4", n)
	}
	// An inline duplicate at create time is refused too.
	_, err = e.createContexts(tenantA, contextd.ContextCreate{ID: "dup-inline", Title: "d", Relationships: []contextd.RelationshipCreate{
		{Type: contextd.RelRelatesTo, TargetID: a.ID}, {Type: contextd.RelRelatesTo, TargetID: a.ID}}})
	e.wantCode(err, contextd.ECONFLICT, "the same inline relationship twice")
	_, err = e.s.GetContext(e.ctx, tenantA, "dup-inline")
	e.wantCode(err, contextd.ENOTFOUND, "a context whose inline relationships conflicted")
}

func testRelContainsCycle(e *env) {
	a, b, c := e.three()
	e.link(tenantA, a.ID, b.ID, contextd.RelContains)
	e.link(tenantA, b.ID, c.ID, contextd.RelContains)
	cases := []struct{ name, src, dst string }{
		{"closing a 3-cycle", c.ID, a.ID},
		{"closing a 2-cycle", b.ID, a.ID},
		{"closing via the middle", c.ID, b.ID},
		{"self-loop", a.ID, a.ID},
		{"self-loop on a fresh node", "c", "c"},
	}
	for _, tc := range cases {
		_, err := e.linkErr(tenantA, contextd.RelationshipCreate{SourceID: tc.src, TargetID: tc.dst, Type: contextd.RelContains})
		e.wantCode(err, contextd.ECONFLICT, "CONTAINS %s (%s -> %s)", tc.name, tc.src, tc.dst)
	}
	// Nothing of the refused edges was stored.
	rels, err := e.findRelationships(tenantA, contextd.RelationshipFilter{ContextID: a.ID})
	if err != nil {
		e.t.Fatal(err)
	}
	if got := relKeys(rels); !sameSet(got, []string{relKey(a.ID, contextd.RelContains, b.ID)}) {
		e.t.Errorf("a's edges after refused cycles: %v", got)
	}
	// A self-loop inline on create is refused as well.
	_, err = e.createContexts(tenantA, contextd.ContextCreate{ID: "selfish", Title: "s",
		Relationships: []contextd.RelationshipCreate{{Type: contextd.RelContains, TargetID: "selfish"}}})
	if code := contextd.ErrorCode(err); code != contextd.ECONFLICT && code != contextd.ENOTFOUND {
		e.t.Errorf("inline CONTAINS self-loop: code %q (%v), want conflict (or not_found)", code, err)
	}
	_, err = e.s.GetContext(e.ctx, tenantA, "selfish")
	e.wantCode(err, contextd.ENOTFOUND, "the context whose inline self-loop was refused")
}

func testRelContainsDAG(e *env) {
	cs := e.mustContexts(tenantA,
		contextd.ContextCreate{ID: "top", Title: "top"},
		contextd.ContextCreate{ID: "left", Title: "left"},
		contextd.ContextCreate{ID: "right", Title: "right"},
		contextd.ContextCreate{ID: "bottom", Title: "bottom"})
	_ = cs
	// A diamond is acyclic: every edge is allowed.
	e.link(tenantA, "top", "left", contextd.RelContains)
	e.link(tenantA, "top", "right", contextd.RelContains)
	e.link(tenantA, "left", "bottom", contextd.RelContains)
	e.link(tenantA, "right", "bottom", contextd.RelContains)
	e.link(tenantA, "top", "bottom", contextd.RelContains)
	// Cycles through other types do not count against CONTAINS.
	e.link(tenantA, "bottom", "top", contextd.RelRelatesTo)
	_, err := e.linkErr(tenantA, contextd.RelationshipCreate{SourceID: "bottom", TargetID: "top", Type: contextd.RelContains})
	e.wantCode(err, contextd.ECONFLICT, "CONTAINS bottom -> top closes a cycle")
}

func testRelOtherCycle(e *env) {
	a, b, c := e.three()
	for _, typ := range []string{contextd.RelRelatesTo, contextd.RelFollows, "CUSTOM_LINK"} {
		e.link(tenantA, a.ID, b.ID, typ)
		e.link(tenantA, b.ID, c.ID, typ)
		e.link(tenantA, c.ID, a.ID, typ)
	}
	e.link(tenantA, b.ID, a.ID, contextd.RelInfluences)
	e.link(tenantA, a.ID, b.ID, contextd.RelInfluences)
}

func testRelMissingEnds(e *env) {
	a, _, _ := e.three()
	foreign := e.mustContext(tenantB, contextd.ContextCreate{ID: "foreign", Title: "B's"})
	cases := []struct{ name, src, dst string }{
		{"missing target", a.ID, "missing"},
		{"missing source", "missing", a.ID},
		{"target in another tenant", a.ID, foreign.ID},
		{"source in another tenant", foreign.ID, a.ID},
	}
	for _, tc := range cases {
		_, err := e.linkErr(tenantA, contextd.RelationshipCreate{SourceID: tc.src, TargetID: tc.dst, Type: contextd.RelRelatesTo})
		e.wantCode(err, contextd.ENOTFOUND, "%s", tc.name)
	}
	if rels := e.getContext(tenantB, foreign.ID).Relationships; len(rels) != 0 {
		e.t.Errorf("B's context got edges %v from A", relKeys(rels))
	}
	if rels := e.getContext(tenantA, a.ID).Relationships; len(rels) != 0 {
		e.t.Errorf("a got edges %v", relKeys(rels))
	}
}

func testRelFind(e *env) {
	a, b, c := e.three()
	ab := e.link(tenantA, a.ID, b.ID, contextd.RelRelatesTo)
	ca := e.link(tenantA, c.ID, a.ID, contextd.RelFollows)
	ac := e.link(tenantA, a.ID, c.ID, contextd.RelContains)
	bc := e.link(tenantA, b.ID, c.ID, contextd.RelFollows)
	cases := []struct {
		name string
		f    contextd.RelationshipFilter
		want []*contextd.Relationship
	}{
		{"default-both", contextd.RelationshipFilter{ContextID: a.ID}, []*contextd.Relationship{ab, ca, ac}},
		{"both", contextd.RelationshipFilter{ContextID: a.ID, Direction: contextd.DirectionBoth}, []*contextd.Relationship{ab, ca, ac}},
		{"out", contextd.RelationshipFilter{ContextID: a.ID, Direction: contextd.DirectionOut}, []*contextd.Relationship{ab, ac}},
		{"in", contextd.RelationshipFilter{ContextID: a.ID, Direction: contextd.DirectionIn}, []*contextd.Relationship{ca}},
		{"type-both", contextd.RelationshipFilter{ContextID: a.ID, Type: contextd.RelFollows}, []*contextd.Relationship{ca}},
		{"type-out-none", contextd.RelationshipFilter{ContextID: a.ID, Direction: contextd.DirectionOut, Type: contextd.RelFollows}, nil},
		{"c-in", contextd.RelationshipFilter{ContextID: c.ID, Direction: contextd.DirectionIn}, []*contextd.Relationship{ac, bc}},
		{"c-in-follows", contextd.RelationshipFilter{ContextID: c.ID, Direction: contextd.DirectionIn, Type: contextd.RelFollows}, []*contextd.Relationship{bc}},
		{"unused-type", contextd.RelationshipFilter{ContextID: c.ID, Type: "NEVER_USED"}, nil},
	}
	for _, tc := range cases {
		e.t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			got, err := e.findRelationships(tenantA, tc.f)
			if err != nil {
				t.Fatalf("FindRelationships: %v", err)
			}
			if !sameSet(relIDs(got), relIDs(tc.want)) {
				t.Errorf("%+v: got %v, want %v", tc.f, relKeys(got), relKeys(tc.want))
			}
		})
	}
	_, err := e.findRelationships(tenantA, contextd.RelationshipFilter{ContextID: "missing"})
	e.wantCode(err, contextd.ENOTFOUND, "FindRelationships of a missing context")
}

func testRelDelete(e *env) {
	a, b, _ := e.three()
	ab := e.link(tenantA, a.ID, b.ID, contextd.RelRelatesTo)
	keep := e.link(tenantA, a.ID, b.ID, contextd.RelFollows)
	if err := e.s.DeleteRelationship(e.ctx, tenantA, ab.ID); err != nil {
		e.t.Fatalf("DeleteRelationship: %v", err)
	}
	for _, id := range []string{a.ID, b.ID} {
		if got := relIDs(e.getContext(tenantA, id).Relationships); !slices.Equal(got, []string{keep.ID}) {
			e.t.Errorf("%s relationships after delete: %v, want only %s", id, got, keep.ID)
		}
	}
	e.wantCode(e.s.DeleteRelationship(e.ctx, tenantA, ab.ID), contextd.ENOTFOUND, "delete a deleted relationship")
	e.wantCode(e.s.DeleteRelationship(e.ctx, tenantA, "never-existed"), contextd.ENOTFOUND, "delete a missing relationship")
	// The same edge may be created again once deleted.
	e.link(tenantA, a.ID, b.ID, contextd.RelRelatesTo)
	// Deleting a CONTAINS edge frees the reverse direction.
	ac := e.link(tenantA, a.ID, b.ID, contextd.RelContains)
	if err := e.s.DeleteRelationship(e.ctx, tenantA, ac.ID); err != nil {
		e.t.Fatal(err)
	}
	e.link(tenantA, b.ID, a.ID, contextd.RelContains)
}

func testRelDeleteContext(e *env) {
	a, b, c := e.three()
	e.link(tenantA, a.ID, b.ID, contextd.RelRelatesTo)
	e.link(tenantA, b.ID, c.ID, contextd.RelContains)
	keep := e.link(tenantA, a.ID, c.ID, contextd.RelFollows)
	rels, err := e.findRelationships(tenantA, contextd.RelationshipFilter{ContextID: b.ID})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.s.DeleteContext(e.ctx, tenantA, b.ID); err != nil {
		e.t.Fatalf("DeleteContext: %v", err)
	}
	for _, id := range []string{a.ID, c.ID} {
		for _, r := range e.getContext(tenantA, id).Relationships {
			if r.SourceID == b.ID || r.TargetID == b.ID {
				e.t.Errorf("%s still shows %v after b was deleted", id, relKeys([]*contextd.Relationship{r}))
			}
		}
	}
	if got := relIDs(e.getContext(tenantA, a.ID).Relationships); !slices.Equal(got, []string{keep.ID}) {
		e.t.Errorf("a's relationships: %v, want only %s", got, keep.ID)
	}
	for _, r := range rels {
		e.wantCode(e.s.DeleteRelationship(e.ctx, tenantA, r.ID), contextd.ENOTFOUND, "delete edge %s of the deleted context", r.ID)
	}
	g := e.mustGraph(tenantA, contextd.GraphQuery{RootID: a.ID, Depth: 5})
	if ids := contextIDs(g.Nodes); !sameSet(ids, []string{a.ID, c.ID}) {
		e.t.Errorf("graph after delete: %v", ids)
	}
	// Recreating the id does not bring the old edges back.
	e.mustContext(tenantA, contextd.ContextCreate{ID: b.ID, Title: "B again"})
	if rels := e.getContext(tenantA, b.ID).Relationships; len(rels) != 0 {
		e.t.Errorf("recreated b has relationships %v", relKeys(rels))
	}
}
