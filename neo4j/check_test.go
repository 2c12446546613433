package neo4j_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/neo4j"
	"github.com/contextd/contextd/storetest"
	neo4jdrv "github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

func item(rep *contextd.CheckReport, name string) *contextd.CheckItem {
	for i := range rep.Items {
		if rep.Items[i].Name == name {
			return &rep.Items[i]
		}
	}
	return nil
}

func checked(t *testing.T, s *neo4j.Store, opts contextd.CheckOptions) *contextd.CheckReport {
	t.Helper()
	rep, err := s.Check(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// wantFail asserts that rep failed on item name with a detail holding want,
// and on no item outside also.
func wantFail(t *testing.T, rep *contextd.CheckReport, name, want string, also ...string) {
	t.Helper()
	it := item(rep, name)
	if rep.OK || it == nil || it.OK || !strings.Contains(it.Detail, want) {
		t.Fatalf("%s: want a failure saying %q, got %+v", name, want, it)
	}
	allowed := map[string]bool{name: true}
	for _, a := range also {
		allowed[a] = true
	}
	for _, other := range rep.Items {
		if !other.OK && !allowed[other.Name] {
			t.Errorf("%s failed too: %s", other.Name, other.Detail)
		}
	}
}

// damage runs Cypher behind the store's back.
type damage func(q string, p map[string]any)

// integrityStore is a store after the integrity workload, healthy in both
// modes, with a way to damage it and its tenant's scope key.
func integrityStore(t *testing.T, name string) (*neo4j.Store, damage, string, storetest.IntegrityObjects) {
	t.Helper()
	s := open(t, name, nil)
	objs := storetest.IntegrityWorkload(t, s)
	for _, full := range []bool{false, true} {
		rep := checked(t, s, storetest.IntegrityCheckOptions(full))
		if !rep.OK {
			t.Fatalf("full=%v: healthy store after the workload failed: %+v", full, rep.Items)
		}
		if it := item(rep, "context vectors"); it.Rows != 5 || it.Indexed != 4 || !strings.Contains(it.Detail, "1 rows written before semantic search was on, or restored or imported, have no vector (run contextd reindex)") {
			t.Errorf("full=%v: the restored context has no vector, a warning: %+v", full, it)
		}
		if it := item(rep, "change log vs rows"); it.Indexed == 0 {
			t.Errorf("full=%v: nothing compared: %+v", full, it)
		}
		if it := item(rep, "context_text index"); it.Rows != 5 || it.Indexed != 5 {
			t.Errorf("full=%v: %+v", full, it)
		}
	}
	ctx := context.Background()
	drv, err := neo4jdrv.NewDriverWithContext(serverURI(t), neo4jdrv.BasicAuth(os.Getenv("NEO4J_USERNAME"), os.Getenv("NEO4J_PASSWORD"), ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drv.Close(ctx) })
	ns := namespace(name)
	run := func(q string, p map[string]any) {
		t.Helper()
		if p == nil {
			p = map[string]any{}
		}
		p["ns"], p["sk"] = ns, ns+"/"+objs.Tenant
		if _, err := neo4jdrv.ExecuteQuery(ctx, drv, q, p, neo4jdrv.EagerResultTransformer,
			neo4jdrv.ExecuteQueryWithDatabase(os.Getenv("NEO4J_DATABASE"))); err != nil {
			t.Fatal(err)
		}
	}
	return s, run, ns + "/" + objs.Tenant, objs
}

func TestCheckChangeLog(t *testing.T) {
	serverURI(t)
	ctx := context.Background()
	opts := storetest.IntegrityCheckOptions

	t.Run("gap", func(t *testing.T) {
		s, run, _, _ := integrityStore(t, "check-gap")
		run(`MATCH (c:ContextdChange {ns: $ns, seq: 6}) DELETE c`, nil)
		for _, full := range []bool{false, true} {
			rep := checked(t, s, opts(full))
			wantFail(t, rep, "change log continuity", "1 changes missing between seq 1 and", "change log order")
			if it := item(rep, "change log order"); it.OK || !strings.Contains(it.Detail, "seq 7 follows seq 5") {
				t.Errorf("full=%v: the order item should place the gap: %+v", full, it)
			}
		}
	})

	t.Run("time going back", func(t *testing.T) {
		s, run, _, _ := integrityStore(t, "check-time")
		run(`MATCH (c:ContextdChange {ns: $ns, seq: 4}) SET c.at = c.at - 3600000000000`, nil)
		for _, full := range []bool{false, true} {
			wantFail(t, checked(t, s, opts(full)), "change log order", "older than seq 3")
		}
	})

	t.Run("version", func(t *testing.T) {
		s, run, _, objs := integrityStore(t, "check-version")
		run(`MATCH (c:Context {uk: $sk + '/' + $id}) SET c.version = c.version + 1`, map[string]any{"id": objs.Contexts[0]})
		for _, full := range []bool{false, true} {
			wantFail(t, checked(t, s, opts(full)), "change log vs rows",
				"context integrity/"+objs.Contexts[0]+" is at version 3 but its newest change")
		}
	})

	t.Run("state", func(t *testing.T) {
		s, run, _, objs := integrityStore(t, "check-state")
		run(`MATCH (m:Memory {uk: $sk + '/' + $id}) SET m.updatedAt = m.updatedAt + 1`, map[string]any{"id": objs.Memories[2]})
		wantFail(t, checked(t, s, opts(true)), "change log vs rows", "memory integrity/"+objs.Memories[2]+" was written at")
	})

	t.Run("row gone", func(t *testing.T) {
		s, run, _, objs := integrityStore(t, "check-rowgone")
		run(`MATCH (a:Context {uk: $sk + '/' + $id})-[r:LINK]->() DELETE r`, map[string]any{"id": objs.Contexts[3]})
		for _, full := range []bool{false, true} {
			wantFail(t, checked(t, s, opts(full)), "change log vs rows", "has no row but its newest change")
		}
	})

	t.Run("unlogged row", func(t *testing.T) {
		s, run, _, _ := integrityStore(t, "check-unlogged")
		run(`MATCH (c:ContextdChange {ns: $ns}) WITH max(c.at) + 3600000000000 AS at
			CREATE (:Session {uk: $sk + '/ghost', sk: $sk, tenant: 'integrity', id: 'ghost', userId: 'u', title: '', metadata: '{}',
				createdAt: at, updatedAt: at, lastActiveAt: at})`, nil)
		wantFail(t, checked(t, s, opts(true)), "change log vs rows", "session integrity/ghost was written at")
		if rep := checked(t, s, opts(false)); !rep.OK {
			t.Errorf("the tail check reads changes, not rows: %+v", rep.Items)
		}
	})

	t.Run("pruned and older rows", func(t *testing.T) {
		s, _, _, _ := integrityStore(t, "check-pruned")
		last, err := s.LastChange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.PruneChanges(ctx, last-2); err != nil {
			t.Fatal(err)
		}
		for _, full := range []bool{false, true} {
			rep := checked(t, s, opts(full))
			if !rep.OK {
				t.Fatalf("full=%v: pruned log: %+v", full, rep.Items)
			}
			if it := item(rep, "change log continuity"); it.Rows != 2 {
				t.Errorf("continuity: %+v", it)
			}
		}
	})
}

func TestCheckVectorsAndText(t *testing.T) {
	serverURI(t)
	opts := storetest.IntegrityCheckOptions

	t.Run("missing", func(t *testing.T) {
		s, run, sk, objs := integrityStore(t, "check-vec-missing")
		run(`MATCH (m:Memory {uk: $sk + '/' + $id}) REMOVE m.vec, m.vecModel`, map[string]any{"id": objs.Memories[1]})
		wantFail(t, checked(t, s, opts(false)), "memory vectors",
			"1 rows written with an embedder have no vector; e.g. "+sk+"/"+objs.Memories[1]+" has no vector")
	})

	t.Run("half a vector", func(t *testing.T) {
		s, run, sk, objs := integrityStore(t, "check-vec-orphan")
		run(`MATCH (c:Context {uk: $sk + '/' + $id}) REMOVE c.vec`, map[string]any{"id": objs.Contexts[1]})
		wantFail(t, checked(t, s, opts(false)), "context vectors", "1 vectors have no row or no model; 1 rows written with an embedder have no vector; e.g. "+sk+"/"+objs.Contexts[1]+" has vec and vecModel apart")
	})

	t.Run("dimensions", func(t *testing.T) {
		s, run, sk, objs := integrityStore(t, "check-vec-dims")
		run(`MATCH (c:Context {uk: $sk + '/' + $id}) SET c.vec = $vec`, map[string]any{"id": objs.Contexts[1], "vec": []byte{0, 0, 128, 63, 1, 2, 3}})
		wantFail(t, checked(t, s, opts(false)), "context vectors", "1 vectors of integrity-test-v1 do not have its 8 dimensions; e.g. "+sk+"/"+objs.Contexts[1]+" has 3 dimensions")
		o := opts(false)
		o.VectorDims = 0
		wantFail(t, checked(t, s, o), "context vectors", "have 2 different lengths")
	})

	t.Run("other model", func(t *testing.T) {
		s, _, _, _ := integrityStore(t, "check-vec-model")
		o := opts(false)
		o.VectorModel = "integrity-test-v2"
		rep := checked(t, s, o)
		if it := item(rep, "memory vectors"); !rep.OK || it.Indexed != 0 || !strings.Contains(it.Detail, "4 rows have a vector of another model (run contextd reindex)") {
			t.Fatalf("vectors of an old model are a warning: %+v", rep.Items)
		}
	})

	t.Run("search token", func(t *testing.T) {
		s, run, _, objs := integrityStore(t, "check-ftk")
		run(`MATCH (c:Context {uk: $sk + '/' + $id}) REMOVE c.ftk`, map[string]any{"id": objs.Contexts[4]})
		wantFail(t, checked(t, s, opts(false)), "context_text index", "1 Context nodes lack their tenant's search token")
	})
}
