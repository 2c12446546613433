package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/contextd/contextd"
)

// The vectors of IntegrityWorkload: a made-up model of IntegrityDims
// dimensions, as a configured embedder would give them.
const (
	IntegrityModel = "integrity-test-v1"
	IntegrityDims  = 8
)

// IntegrityObjects names what IntegrityWorkload left in the store.
type IntegrityObjects struct {
	Tenant string
	// Contexts are the live contexts: Contexts[0] was updated (new
	// vector), Contexts[2] deleted and restored, Contexts[3] updated without
	// a new vector.
	Contexts []string
	// Memories are the live memories: Memories[0] was updated.
	Memories []string
	// Deleted are contexts and memories deleted for good.
	Deleted []contextd.ObjectRef
}

// IntegrityCheckOptions are the check options for a store after
// IntegrityWorkload.
func IntegrityCheckOptions(full bool) contextd.CheckOptions {
	return contextd.CheckOptions{Full: full, VectorModel: IntegrityModel, VectorDims: IntegrityDims}
}

func integrityVector(i int) []float32 {
	v := make([]float32, IntegrityDims)
	for d := range v {
		v[d] = float32((i+1)*(d+2)%7) - 3
	}
	return v
}

// IntegrityWorkload writes to st as a server with an embedder would: creates
// (contexts in a session, memories, a session, relationships), updates with
// and without a new vector, deletes of each kind (a context with its
// edges, a session with its memories) and, when st keeps a change log, a
// selective restore of a deleted context. A store's integrity check must pass
// afterwards.
func IntegrityWorkload(t testing.TB, st contextd.Store) IntegrityObjects {
	t.Helper()
	ctx := context.Background()
	sc := contextd.Scope{Tenant: "integrity", Principal: "tester"}
	out := IntegrityObjects{Tenant: sc.Tenant}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var cs []contextd.ContextCreate
	for i := range 6 {
		c := contextd.ContextCreate{Title: fmt.Sprintf("integrity %d", i), Content: fmt.Sprintf("body of context %d", i),
			UserID: "u"}
		if i%2 == 0 {
			c.SessionID = "s1"
		}
		must(c.Normalize("body"))
		c.Vector, c.VectorModel = integrityVector(i), IntegrityModel
		cs = append(cs, c)
	}
	ctxs, err := st.CreateContexts(ctx, sc, cs)
	must(err)
	var ms []contextd.MemoryCreate
	for i := range 6 {
		m := contextd.MemoryCreate{Type: "fact", Content: fmt.Sprintf("integrity memory %d", i), SessionID: "s1", UserID: "u",
			Importance: "medium", Source: "user"}
		if i == 5 {
			m.SessionID = "s2"
		}
		must(m.Normalize("body", time.Now()))
		m.Vector, m.VectorModel = integrityVector(10+i), IntegrityModel
		ms = append(ms, m)
	}
	_, err = st.CreateSession(ctx, sc, contextd.SessionCreate{ID: "s2", UserID: "u", Title: "second"})
	must(err)
	mems, err := st.CreateMemories(ctx, sc, ms)
	must(err)
	var rels []*contextd.Relationship
	for _, p := range [][2]int{{0, 1}, {1, 2}, {3, 4}} {
		r := contextd.RelationshipCreate{Type: "RELATES_TO", SourceID: ctxs[p[0]].ID, TargetID: ctxs[p[1]].ID}
		must(r.Normalize("body"))
		rel, err := st.CreateRelationship(ctx, sc, r)
		must(err)
		rels = append(rels, rel)
	}

	title, tags := "integrity 0, renamed", []string{"kept"}
	_, err = st.UpdateContext(ctx, sc, ctxs[0].ID, contextd.ContextUpdate{Title: &title, Vector: integrityVector(100), VectorModel: IntegrityModel})
	must(err)
	_, err = st.UpdateContext(ctx, sc, ctxs[3].ID, contextd.ContextUpdate{Tags: &tags})
	must(err)
	content := "integrity memory 0, rewritten"
	_, err = st.UpdateMemory(ctx, sc, mems[0].ID, contextd.MemoryUpdate{Content: &content, Vector: integrityVector(200), VectorModel: IntegrityModel})
	must(err)

	gone, err := st.GetContext(ctx, sc, ctxs[2].ID)
	must(err)
	must(st.DeleteContext(ctx, sc, ctxs[2].ID)) // and the edge 1 -> 2
	must(st.DeleteContext(ctx, sc, ctxs[5].ID))
	must(st.DeleteMemory(ctx, sc, mems[1].ID))
	must(st.DeleteRelationship(ctx, sc, rels[0].ID))
	must(st.DeleteSession(ctx, sc, "s2")) // and memory 5
	out.Deleted = []contextd.ObjectRef{{Kind: contextd.KindContext, ID: ctxs[5].ID}, {Kind: contextd.KindMemory, ID: mems[1].ID},
		{Kind: contextd.KindMemory, ID: mems[5].ID}}

	if cl, ok := contextd.StoreAs[contextd.ChangeLog](st); ok {
		gone.Relationships = nil
		must(cl.RestoreObjects(ctx, sc, nil, []*contextd.Record{{Kind: contextd.KindContext, Tenant: sc.Tenant, Context: gone}}))
	}
	for _, i := range []int{0, 1, 2, 3, 4} {
		out.Contexts = append(out.Contexts, ctxs[i].ID)
	}
	for _, i := range []int{0, 2, 3, 4} {
		out.Memories = append(out.Memories, mems[i].ID)
	}
	return out
}
