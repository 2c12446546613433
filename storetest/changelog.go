package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"

	"github.com/contextd/contextd"
)

// changeLog returns the store's change log, skipping the test when the
// store keeps none (contextd.ChangeLog is optional).
func (e *env) changeLog() contextd.ChangeLog {
	e.t.Helper()
	cl, ok := e.s.(contextd.ChangeLog)
	if !ok {
		e.t.Skipf("the %s store keeps no change log", e.s.Kind())
	}
	return cl
}

// allChanges reads the whole log.
func (e *env) allChanges(cl contextd.ChangeLog) []*contextd.Change {
	e.t.Helper()
	var out []*contextd.Change
	if err := cl.ReadChanges(e.ctx, 0, 0, func(c *contextd.Change) error { out = append(out, c); return nil }); err != nil {
		e.t.Fatalf("ReadChanges: %v", err)
	}
	return out
}

// checkContinuous fails unless the seqs are strictly increasing by one,
// from first.
func (e *env) checkContinuous(chs []*contextd.Change, first int64) {
	e.t.Helper()
	for i, c := range chs {
		if c.Seq != first+int64(i) {
			e.t.Fatalf("change %d has seq %d, want %d (seqs strictly increasing and continuous)", i, c.Seq, first+int64(i))
		}
	}
}

// stateOf decodes a change's state into a record.
func (e *env) stateOf(c *contextd.Change) *contextd.Record {
	e.t.Helper()
	rec, err := contextd.DecodeState(c.Tenant, c.Kind, c.State)
	if err != nil {
		e.t.Fatalf("change %v: DecodeState: %v", c, err)
	}
	return rec
}

type opKey struct{ op, kind string }

func changeLogTests() []test {
	return []test{
		{"changelog/every-op-logged-in-order", func(e *env) {
			cl := e.changeLog()
			who := contextd.Scope{Tenant: tenantA.Tenant, Principal: "alice-key"}
			ss := e.mustSession(who, contextd.SessionCreate{ID: "s1", Title: "planning"})
			e.tick()
			cs := e.mustContexts(who,
				contextd.ContextCreate{ID: "c1", Title: "one"},
				contextd.ContextCreate{ID: "c2", Title: "two", SessionID: "s2", Relationships: []contextd.RelationshipCreate{{TargetID: "c1", Type: contextd.RelFollows}}})
			e.tick()
			title := "one, edited"
			up := e.mustUpdateContext(who, "c1", contextd.ContextUpdate{Title: &title})
			r := e.link(who, "c1", "c2", contextd.RelContains)
			if err := e.s.DeleteRelationship(e.ctx, who, r.ID); err != nil {
				e.t.Fatalf("DeleteRelationship: %v", err)
			}
			e.tick()
			m := e.mustMemory(who, contextd.MemoryCreate{Content: "likes tea", SessionID: "s1"})
			e.tick()
			content := "likes green tea"
			mu := e.mustUpdateMemory(who, m.ID, contextd.MemoryUpdate{Content: &content})
			m2 := e.mustMemory(who, contextd.MemoryCreate{Content: "short lived", SessionID: "s1"})
			if err := e.s.DeleteMemory(e.ctx, who, m2.ID); err != nil {
				e.t.Fatalf("DeleteMemory: %v", err)
			}
			if err := e.s.DeleteContext(e.ctx, who, "c2"); err != nil { // takes the REFERENCES edge with it
				e.t.Fatalf("DeleteContext: %v", err)
			}
			if err := e.s.DeleteSession(e.ctx, who, "s1"); err != nil { // takes memory m with it
				e.t.Fatalf("DeleteSession: %v", err)
			}

			chs := e.allChanges(cl)
			if len(chs) == 0 {
				e.t.Fatal("the change log is empty after writes")
			}
			e.checkContinuous(chs, chs[0].Seq)
			seen := map[opKey]int{}
			for _, c := range chs {
				seen[opKey{c.Op, c.Kind}]++
				if c.Tenant != tenantA.Tenant {
					e.t.Errorf("change %v: tenant %q", c, c.Tenant)
				}
				if c.Principal != "alice-key" {
					e.t.Errorf("change %v: principal %q, want alice-key", c, c.Principal)
				}
				if c.At.IsZero() {
					e.t.Errorf("change %v: no time", c)
				}
				if (c.Op == contextd.OpDelete) != (string(c.State) == "null") {
					e.t.Errorf("change %v: state %s (deletes, and only deletes, have a null state)", c, c.State)
				}
			}
			for _, k := range []opKey{
				{"create", "session"}, {"create", "context"}, {"create", "relationship"}, {"update", "context"},
				{"delete", "relationship"}, {"create", "memory"}, {"update", "memory"}, {"update", "session"},
				{"delete", "memory"}, {"delete", "context"}, {"delete", "session"},
			} {
				if seen[k] == 0 {
					e.t.Errorf("no %s of a %s in the log: %v", k.op, k.kind, seen)
				}
			}
			// The implicit session s2, the cascaded edges and memories are there.
			want := map[string]int{"delete relationship": 2, "delete memory": 2, "create session": 2, "create relationship": 2}
			for k, n := range want {
				var op, kind string
				fmt.Sscan(k, &op, &kind)
				if seen[opKey{op, kind}] != n {
					e.t.Errorf("%d changes %q, want %d (all: %v)", seen[opKey{op, kind}], k, n, seen)
				}
			}
			// States are the full new states.
			last := map[string]*contextd.Change{}
			for _, c := range chs {
				last[c.Kind+"/"+c.ID] = c
			}
			c1 := e.stateOf(last["context/c1"]).Context
			got := e.getContext(tenantA, "c1")
			got.Relationships = nil
			if !reflect.DeepEqual(c1, got) {
				e.t.Errorf("the last state of c1 in the log:\n%+v\nthe store:\n%+v", c1, got)
			}
			if c1.Version != up.Version || last["context/c1"].Version != up.Version {
				e.t.Errorf("logged version %d/%d, want %d", c1.Version, last["context/c1"].Version, up.Version)
			}
			// The update of m is logged with its new content and version.
			var mUpdate *contextd.Change
			for _, c := range chs {
				if c.Kind == contextd.KindMemory && c.ID == m.ID && c.Op == contextd.OpUpdate {
					mUpdate = c
				}
			}
			if mUpdate == nil {
				e.t.Fatalf("no update of memory %s", m.ID)
			}
			if st := e.stateOf(mUpdate).Memory; st.Content != content || st.Version != mu.Version || !st.UpdatedAt.Equal(mu.UpdatedAt) {
				e.t.Errorf("memory update state %+v, want content %q version %d", st, content, mu.Version)
			}
			if s1 := e.stateOf(chs[0]); s1.Session == nil || s1.Session.ID != ss.ID || s1.Session.Title != "planning" {
				e.t.Errorf("first change %v is not the session s1: %s", chs[0], chs[0].State)
			}
			_ = cs
		}},
		{"changelog/rolled-back-writes-not-logged", func(e *env) {
			cl := e.changeLog()
			e.note(tenantA, "first", "")
			before, err := cl.LastChange(e.ctx)
			if err != nil || before == 0 {
				e.t.Fatalf("LastChange = %d, %v; want > 0", before, err)
			}
			e.mustContext(tenantA, contextd.ContextCreate{ID: "taken"})
			before++
			// A batch whose second item fails: nothing of it is logged.
			_, err = e.createContexts(tenantA, contextd.ContextCreate{ID: "fresh"}, contextd.ContextCreate{ID: "taken"})
			e.wantCode(err, contextd.ECONFLICT, "batch with a taken id")
			// A relationship to a missing context, a failed precondition.
			_, err = e.linkErr(tenantA, contextd.RelationshipCreate{SourceID: "taken", TargetID: "nowhere", Type: contextd.RelFollows})
			e.wantCode(err, contextd.ENOTFOUND, "link to a missing context")
			t := "x"
			_, err = e.updateContext(tenantA, "taken", contextd.ContextUpdate{Title: &t, IfVersion: 7})
			e.wantCode(err, contextd.EPRECONDITION, "update at a wrong version")
			e.wantCode(e.s.DeleteContext(e.ctx, tenantA, "nowhere"), contextd.ENOTFOUND, "delete a missing context")
			after, err := cl.LastChange(e.ctx)
			if err != nil || after != before {
				e.t.Fatalf("LastChange after failed writes = %d, %v; want %d", after, err, before)
			}
			// The next committed write takes the next number.
			e.note(tenantA, "next", "")
			chs := e.allChanges(cl)
			e.checkContinuous(chs, chs[0].Seq)
			if chs[len(chs)-1].Seq != before+1 {
				e.t.Errorf("next seq %d, want %d", chs[len(chs)-1].Seq, before+1)
			}
			for _, c := range chs {
				if c.ID == "fresh" {
					e.t.Errorf("the rolled-back context %q is in the log: %v", c.ID, c)
				}
			}
		}},
		{"changelog/concurrent-writers-continuous", func(e *env) {
			cl := e.changeLog()
			const writers, each = 8, 10
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						items := []contextd.ContextCreate{{ID: fmt.Sprintf("w%d-%d", w, i), Title: "t", UserID: defaultUser}}
						if err := items[0].Normalize("body"); err != nil {
							panic(err)
						}
						if _, err := e.s.CreateContexts(e.ctx, tenantA, items); err != nil {
							e.t.Errorf("CreateContexts: %v", err)
						}
						// Every other one collides, rolling back inside a shared commit.
						if i%2 == 0 {
							items := []contextd.ContextCreate{{ID: fmt.Sprintf("w%d-%d", w, i), Title: "t", UserID: defaultUser}}
							_ = items[0].Normalize("body")
							if _, err := e.s.CreateContexts(e.ctx, tenantA, items); contextd.ErrorCode(err) != contextd.ECONFLICT {
								e.t.Errorf("duplicate create: %v, want a conflict", err)
							}
						}
					}
				}()
			}
			wg.Wait()
			chs := e.allChanges(cl)
			if len(chs) != writers*each {
				e.t.Fatalf("%d changes, want %d", len(chs), writers*each)
			}
			e.checkContinuous(chs, chs[0].Seq)
			for i := 1; i < len(chs); i++ {
				if chs[i].At.Before(chs[i-1].At) {
					e.t.Errorf("change %d is older than the one before", chs[i].Seq)
				}
			}
		}},
		{"changelog/tenant-isolation-and-history", func(e *env) {
			cl := e.changeLog()
			e.mustContext(tenantA, contextd.ContextCreate{ID: "shared-id", Title: "A's"})
			e.mustContext(tenantB, contextd.ContextCreate{ID: "shared-id", Title: "B's"})
			e.tick()
			t2 := "A's, again"
			e.mustUpdateContext(tenantA, "shared-id", contextd.ContextUpdate{Title: &t2})
			e.mustContext(tenantA, contextd.ContextCreate{ID: "bobs", Title: "bob's", UserID: "bob"})

			hist, next, err := cl.Changes(e.ctx, tenantA, contextd.ChangeFilter{Kind: contextd.KindContext, ID: "shared-id"})
			if err != nil {
				e.t.Fatalf("Changes: %v", err)
			}
			if len(hist) != 2 || next != "" {
				e.t.Fatalf("history of A's context: %d changes (next %q), want 2", len(hist), next)
			}
			if hist[0].Op != contextd.OpCreate || hist[1].Op != contextd.OpUpdate || hist[1].Version != 2 || hist[0].Seq >= hist[1].Seq {
				e.t.Errorf("history %v %v: want create v1 then update v2", hist[0], hist[1])
			}
			for _, c := range hist {
				if c.Tenant != tenantA.Tenant || e.stateOf(c).Context.Title == "B's" {
					e.t.Errorf("tenant A sees %v (%s)", c, c.State)
				}
			}
			hb, _, err := cl.Changes(e.ctx, tenantB, contextd.ChangeFilter{})
			if err != nil || len(hb) != 1 || hb[0].Tenant != tenantB.Tenant {
				e.t.Fatalf("tenant B's log: %v, %v; want its one create", hb, err)
			}
			// A uid-bound scope sees its user's objects only.
			alice := contextd.Scope{Tenant: tenantA.Tenant, UserID: defaultUser}
			ha, _, err := cl.Changes(e.ctx, alice, contextd.ChangeFilter{})
			if err != nil {
				e.t.Fatalf("Changes: %v", err)
			}
			for _, c := range ha {
				if c.ID == "bobs" {
					e.t.Errorf("alice's scope sees bob's context in the log")
				}
			}
			if len(ha) != 2 {
				e.t.Errorf("alice sees %d changes, want 2", len(ha))
			}
			// Pages.
			p1, next, err := cl.Changes(e.ctx, tenantA, contextd.ChangeFilter{Limit: 2})
			if err != nil || len(p1) != 2 || next == "" {
				e.t.Fatalf("first page: %d, next %q, %v", len(p1), next, err)
			}
			f := contextd.ChangeFilter{Limit: 2, Cursor: next}
			if err := f.Validate(); err != nil {
				e.t.Fatal(err)
			}
			p2, next, err := cl.Changes(e.ctx, tenantA, f)
			if err != nil || len(p2) != 1 || next != "" || p2[0].ID != "bobs" {
				e.t.Fatalf("second page: %v, next %q, %v", p2, next, err)
			}
		}},
		{"changelog/restore-objects-and-prune", func(e *env) {
			cl := e.changeLog()
			a := e.mustContext(tenantA, contextd.ContextCreate{ID: "a", Title: "a", Tags: []string{"x"}, Metadata: map[string]any{"k": "v"}})
			e.mustContext(tenantA, contextd.ContextCreate{ID: "b", Title: "b"})
			r := e.link(tenantA, "a", "b", contextd.RelFollows)
			e.tick()
			if err := e.s.DeleteContext(e.ctx, tenantA, "a"); err != nil {
				e.t.Fatal(err)
			}
			a.Relationships = nil
			recs := []*contextd.Record{
				{Kind: contextd.KindContext, Tenant: tenantA.Tenant, Context: a},
				{Kind: contextd.KindRelationship, Tenant: tenantA.Tenant, Relationship: r},
			}
			op := contextd.Scope{Tenant: tenantA.Tenant, Principal: "operator"}
			if err := cl.RestoreObjects(e.ctx, op, []contextd.ObjectRef{{Kind: contextd.KindContext, ID: "a"}}, recs); err != nil {
				e.t.Fatalf("RestoreObjects: %v", err)
			}
			got := e.getContext(tenantA, "a")
			if len(got.Relationships) != 1 || got.Relationships[0].ID != r.ID {
				e.t.Errorf("restored relationships %v, want [%s]", got.Relationships, r.ID)
			}
			got.Relationships = nil
			if !reflect.DeepEqual(got, a) {
				e.t.Errorf("restored context\n%+v\nwant\n%+v", got, a)
			}
			if ids := e.searchIDs(tenantA, "a"); len(ids) != 1 {
				e.t.Errorf("the restored context is not searchable: %v", ids)
			}
			// Restoring over an existing object replaces it (and logs both).
			t2 := "a2"
			e.mustUpdateContext(tenantA, "a", contextd.ContextUpdate{Title: &t2})
			if err := cl.RestoreObjects(e.ctx, op, []contextd.ObjectRef{{Kind: contextd.KindContext, ID: "a"}}, recs); err != nil {
				e.t.Fatalf("RestoreObjects over an existing context: %v", err)
			}
			if got := e.getContext(tenantA, "a"); got.Title != "a" || got.Version != a.Version {
				e.t.Errorf("after restore: %q v%d, want %q v%d", got.Title, got.Version, "a", a.Version)
			}
			chs := e.allChanges(cl)
			e.checkContinuous(chs, chs[0].Seq)
			lastC := chs[len(chs)-2]
			if lastC.Op != contextd.OpRestore || lastC.Principal != "operator" || lastC.ID != "a" {
				e.t.Errorf("restore logged as %v by %q", lastC, lastC.Principal)
			}
			var st map[string]any
			if err := json.Unmarshal(lastC.State, &st); err != nil || st["title"] != "a" {
				e.t.Errorf("restore state %s", lastC.State)
			}
			// Prune keeps the numbering.
			lastSeq := chs[len(chs)-1].Seq
			n, err := cl.PruneChanges(e.ctx, lastSeq-1)
			if err != nil || n != int64(len(chs)-1) {
				e.t.Fatalf("PruneChanges = %d, %v; want %d", n, err, len(chs)-1)
			}
			if rest := e.allChanges(cl); len(rest) != 1 || rest[0].Seq != lastSeq {
				e.t.Fatalf("after prune: %v", rest)
			}
			e.note(tenantA, "after prune", "")
			if seq, err := cl.LastChange(e.ctx); err != nil || seq != lastSeq+1 {
				e.t.Errorf("LastChange after prune and a write = %d, %v; want %d", seq, err, lastSeq+1)
			}
		}},
	}
}
