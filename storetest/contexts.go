package storetest

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/contextd/contextd"
)

func contextTests() []test {
	return []test{
		{"contexts/create-get", testContextCreateGet},
		{"contexts/defaults", testContextDefaults},
		{"contexts/ids-generated-time-ordered", testContextIDsTimeOrdered},
		{"contexts/client-id", testContextClientID},
		{"contexts/client-id-taken", testContextClientIDTaken},
		{"contexts/same-id-two-tenants", testContextSameIDTwoTenants},
		{"contexts/batch", testContextBatch},
		{"contexts/batch-all-or-nothing", testContextBatchAllOrNothing},
		{"contexts/update-each-field", testContextUpdateFields},
		{"contexts/update-if-version", testContextUpdateIfVersion},
		{"contexts/delete", testContextDelete},
		{"contexts/missing", testContextMissing},
	}
}

func testContextCreateGet(e *env) {
	in := contextd.ContextCreate{
		Title:     "Release plan for v2 — “final” ✓",
		Content:   "Ship v2 on Friday.\nThen rest. héllo 🌍\ttabs and \"quotes\" and 'apostrophes' and \\ backslashes",
		Type:      "decision",
		Status:    contextd.StatusDraft,
		UserID:    "bob",
		SessionID: "sess-1",
		Tags:      []string{"release", "q3", "Mixed Case"},
		Metadata: map[string]any{
			"team": "core", "priority": 2, "ratio": 0.25, "urgent": true, "none": nil,
			"nested": map[string]any{"list": []any{1, "two", false}},
		},
	}
	now := e.now()
	c := e.mustContext(tenantA, in)
	if !contextd.ValidID(c.ID) {
		e.t.Errorf("generated id %q is not a valid, URL-safe id", c.ID)
	}
	want := &contextd.Context{
		ID: c.ID, Title: in.Title, Content: in.Content, Type: in.Type, Status: in.Status,
		UserID: in.UserID, SessionID: in.SessionID, Tags: in.Tags, Metadata: in.Metadata,
		CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	e.checkContext("CreateContexts result", c, want)
	e.tick()
	e.checkContext("GetContext", e.getContext(tenantA, c.ID), want)
	list, _, err := e.findContexts(tenantA, contextd.ContextFilter{})
	if err != nil {
		e.t.Fatalf("FindContexts: %v", err)
	}
	if len(list) != 1 {
		e.t.Fatalf("FindContexts: %d contexts, want 1", len(list))
	}
	e.checkContext("FindContexts", list[0], want)
}

func testContextDefaults(e *env) {
	now := e.now()
	c := e.mustContext(tenantA, contextd.ContextCreate{Title: "Only a title"})
	want := &contextd.Context{
		ID: c.ID, Title: "Only a title", Type: contextd.DefaultContextType, Status: contextd.StatusActive,
		UserID: defaultUser, Tags: []string{}, Metadata: map[string]any{}, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	e.checkContext("created", c, want)
	got := e.getContext(tenantA, c.ID)
	e.checkContext("GetContext", got, want)
	if !got.CreatedAt.Equal(got.UpdatedAt) {
		e.t.Errorf("createdAt %v != updatedAt %v on a new context", got.CreatedAt, got.UpdatedAt)
	}
	if got.Type != "note" || got.Status != "active" {
		e.t.Errorf("defaults: type %q status %q, want note/active", got.Type, got.Status)
	}
}

func testContextIDsTimeOrdered(e *env) {
	var ids []string
	for i := range 6 {
		e.tick()
		c := e.mustContext(tenantA, contextd.ContextCreate{Title: "n" + itoa(i)})
		ids = append(ids, c.ID)
	}
	// A batch at one instant still gets distinct ids.
	batch := e.mustContexts(tenantA,
		contextd.ContextCreate{Title: "b1"}, contextd.ContextCreate{Title: "b2"}, contextd.ContextCreate{Title: "b3"})
	e.unique("ids", append(slices.Clone(ids), contextIDs(batch)...))
	for i, id := range ids {
		if !contextd.ValidID(id) {
			e.t.Errorf("id %q is not URL-safe", id)
		}
		if i > 0 && !(ids[i-1] < id) {
			e.t.Errorf("ids not time-ordered: %q (created first) >= %q", ids[i-1], id)
		}
	}
}

func testContextClientID(e *env) {
	for _, id := range []string{"my-context", "ctx.2025~v1_x", "A", strings.Repeat("z", 128)} {
		c := e.mustContext(tenantA, contextd.ContextCreate{ID: id, Title: "client " + id[:1]})
		if c.ID != id {
			e.t.Errorf("client-supplied id %q came back as %q", id, c.ID)
		}
		if got := e.getContext(tenantA, id); got.ID != id {
			e.t.Errorf("GetContext(%q).ID = %q", id, got.ID)
		}
	}
}

func testContextClientIDTaken(e *env) {
	orig := e.mustContext(tenantA, contextd.ContextCreate{ID: "taken", Title: "original"})
	e.tick()
	_, err := e.createContexts(tenantA, contextd.ContextCreate{ID: "taken", Title: "impostor"})
	e.wantCode(err, contextd.ECONFLICT, "create with a taken id")
	// The same id twice inside one batch is a conflict too.
	_, err = e.createContexts(tenantA, contextd.ContextCreate{ID: "twice", Title: "one"}, contextd.ContextCreate{ID: "twice", Title: "two"})
	e.wantCode(err, contextd.ECONFLICT, "the same new id twice in one batch")
	_, err = e.s.GetContext(e.ctx, tenantA, "twice")
	e.wantCode(err, contextd.ENOTFOUND, "get of an id whose batch failed")
	e.checkContext("the original after the conflict", e.getContext(tenantA, "taken"), orig)
}

func testContextSameIDTwoTenants(e *env) {
	a := e.mustContext(tenantA, contextd.ContextCreate{ID: "shared-id", Title: "tenant A's"})
	b := e.mustContext(tenantB, contextd.ContextCreate{ID: "shared-id", Title: "tenant B's"})
	if got := e.getContext(tenantA, "shared-id"); got.Title != a.Title {
		e.t.Errorf("tenant A sees %q", got.Title)
	}
	if got := e.getContext(tenantB, "shared-id"); got.Title != b.Title {
		e.t.Errorf("tenant B sees %q", got.Title)
	}
	e.mustUpdateContext(tenantB, "shared-id", contextd.ContextUpdate{Title: ptr("tenant B's, renamed")})
	if err := e.s.DeleteContext(e.ctx, tenantB, "shared-id"); err != nil {
		e.t.Fatalf("DeleteContext in B: %v", err)
	}
	e.checkContext("tenant A's context after B updated and deleted its own", e.getContext(tenantA, "shared-id"), a)
}

func testContextBatch(e *env) {
	now := e.now()
	cs := e.mustContexts(tenantA,
		contextd.ContextCreate{Title: "first", Type: "task"},
		contextd.ContextCreate{Title: "second", Tags: []string{"x"}},
		contextd.ContextCreate{ID: "third-id", Title: "third"},
	)
	for i, want := range []string{"first", "second", "third"} {
		if cs[i].Title != want {
			e.t.Errorf("batch result %d is %q, want %q (input order)", i, cs[i].Title, want)
		}
		if !cs[i].CreatedAt.Equal(now) || cs[i].Version != 1 {
			e.t.Errorf("batch result %d: createdAt %v version %d", i, cs[i].CreatedAt, cs[i].Version)
		}
		e.getContext(tenantA, cs[i].ID)
	}
	if cs[2].ID != "third-id" {
		e.t.Errorf("client id in a batch: got %q", cs[2].ID)
	}
	if got := e.listContexts(tenantA, contextd.ContextFilter{}); len(got) != 3 {
		e.t.Errorf("listed %d contexts after a batch of 3", len(got))
	}
}

func testContextBatchAllOrNothing(e *env) {
	target := e.note(tenantA, "existing target", "")
	e.tick()

	// Item 1 links to a context that does not exist: nothing of the batch is stored.
	_, err := e.createContexts(tenantA,
		contextd.ContextCreate{ID: "good-one", Title: "zebrafish good one", Relationships: []contextd.RelationshipCreate{{Type: contextd.RelRelatesTo, TargetID: target.ID}}},
		contextd.ContextCreate{ID: "bad-one", Title: "zebrafish bad one", Relationships: []contextd.RelationshipCreate{{Type: contextd.RelRelatesTo, TargetID: "no-such-context"}}},
		contextd.ContextCreate{ID: "good-two", Title: "zebrafish good two", SessionID: "batch-session"},
	)
	e.wantCode(err, contextd.ENOTFOUND, "batch with a relationship to a missing target")
	found := false
	for _, f := range contextd.ErrorFields(err) {
		if strings.Contains(f.Location, "items[1]") {
			found = true
		}
	}
	if err != nil && !found {
		e.t.Errorf("the error does not name the bad item: fields %+v (want a location with items[1])", contextd.ErrorFields(err))
	}
	e.checkNothingFromBatch([]string{"good-one", "bad-one", "good-two"}, target.ID, "batch-session")

	// Item 2 takes an existing id: ECONFLICT, nothing stored.
	_, err = e.createContexts(tenantA,
		contextd.ContextCreate{ID: "good-one", Title: "zebrafish good one", Relationships: []contextd.RelationshipCreate{{Type: contextd.RelRelatesTo, TargetID: target.ID}}},
		contextd.ContextCreate{ID: "good-two", Title: "zebrafish good two", SessionID: "batch-session"},
		contextd.ContextCreate{ID: target.ID, Title: "zebrafish taken"},
	)
	e.wantCode(err, contextd.ECONFLICT, "batch with a taken id")
	e.checkNothingFromBatch([]string{"good-one", "good-two"}, target.ID, "batch-session")
	e.checkContext("the target", e.getContext(tenantA, target.ID), target)
}

// checkNothingFromBatch asserts that a failed batch left no trace.
func (e *env) checkNothingFromBatch(ids []string, targetID, sessionID string) {
	e.t.Helper()
	for _, id := range ids {
		_, err := e.s.GetContext(e.ctx, tenantA, id)
		e.wantCode(err, contextd.ENOTFOUND, "get %q after the failed batch", id)
	}
	if got := e.listContexts(tenantA, contextd.ContextFilter{}); len(got) != 1 {
		e.t.Errorf("after the failed batch %d contexts are listed, want only the target", len(got))
	}
	if rels := e.getContext(tenantA, targetID).Relationships; len(rels) != 0 {
		e.t.Errorf("after the failed batch the target has relationships %v", relKeys(rels))
	}
	if ids := e.searchIDs(tenantA, "zebrafish"); len(ids) != 0 {
		e.t.Errorf("after the failed batch search finds %v", ids)
	}
	_, err := e.s.GetSession(e.ctx, tenantA, sessionID)
	e.wantCode(err, contextd.ENOTFOUND, "the session a failed batch named")
}

func testContextUpdateFields(e *env) {
	created := e.now()
	c := e.mustContext(tenantA, contextd.ContextCreate{
		Title: "Old title", Content: "old content", Type: "note", Status: contextd.StatusActive,
		UserID: "bob", SessionID: "s-1", Tags: []string{"a", "b"}, Metadata: map[string]any{"keep": "no", "n": 1},
	})
	want := *c
	steps := []struct {
		name  string
		u     contextd.ContextUpdate
		apply func(w *contextd.Context)
	}{
		{"title", contextd.ContextUpdate{Title: ptr("New title")}, func(w *contextd.Context) { w.Title = "New title" }},
		{"content", contextd.ContextUpdate{Content: ptr("new content\nwith lines")}, func(w *contextd.Context) { w.Content = "new content\nwith lines" }},
		{"empty content", contextd.ContextUpdate{Content: ptr("")}, func(w *contextd.Context) { w.Content = "" }},
		{"type", contextd.ContextUpdate{Type: ptr("decision")}, func(w *contextd.Context) { w.Type = "decision" }},
		{"status", contextd.ContextUpdate{Status: ptr(contextd.StatusArchived)}, func(w *contextd.Context) { w.Status = contextd.StatusArchived }},
		{"sessionId", contextd.ContextUpdate{SessionID: ptr("s-2")}, func(w *contextd.Context) { w.SessionID = "s-2" }},
		{"sessionId removed", contextd.ContextUpdate{SessionID: ptr("")}, func(w *contextd.Context) { w.SessionID = "" }},
		{"tags", contextd.ContextUpdate{Tags: &[]string{"x", "y", "z"}}, func(w *contextd.Context) { w.Tags = []string{"x", "y", "z"} }},
		{"tags emptied", contextd.ContextUpdate{Tags: &[]string{}}, func(w *contextd.Context) { w.Tags = []string{} }},
		{"metadata replaced", contextd.ContextUpdate{Metadata: &map[string]any{"fresh": true, "list": []any{"a"}}},
			func(w *contextd.Context) { w.Metadata = map[string]any{"fresh": true, "list": []any{"a"}} }},
		{"metadata emptied", contextd.ContextUpdate{Metadata: &map[string]any{}}, func(w *contextd.Context) { w.Metadata = map[string]any{} }},
		{"several at once", contextd.ContextUpdate{Title: ptr("Final"), Status: ptr(contextd.StatusActive), Tags: &[]string{"done"}},
			func(w *contextd.Context) {
				w.Title, w.Status, w.Tags = "Final", contextd.StatusActive, []string{"done"}
			}},
	}
	for _, st := range steps {
		now := e.clock.Advance(time.Minute)
		got := e.mustUpdateContext(tenantA, c.ID, st.u)
		st.apply(&want)
		want.Version++
		want.UpdatedAt = now
		want.CreatedAt = created
		e.checkContext("update "+st.name, got, &want)
		e.checkContext("get after update "+st.name, e.getContext(tenantA, c.ID), &want)
	}
	if want.Version != int64(len(steps))+1 {
		e.t.Fatalf("test bug: version arithmetic")
	}
}

func testContextUpdateIfVersion(e *env) {
	c := e.note(tenantA, "v1", "")
	e.tick()
	v2, err := e.updateContext(tenantA, c.ID, contextd.ContextUpdate{Title: ptr("v2"), IfVersion: 1})
	if err != nil {
		e.t.Fatalf("update at the current version: %v", err)
	}
	if v2.Version != 2 {
		e.t.Errorf("version after one update = %d, want 2", v2.Version)
	}
	e.tick()
	_, err = e.updateContext(tenantA, c.ID, contextd.ContextUpdate{Title: ptr("stale"), IfVersion: 1})
	e.wantCode(err, contextd.EPRECONDITION, "update at a stale version")
	_, err = e.updateContext(tenantA, c.ID, contextd.ContextUpdate{Title: ptr("future"), IfVersion: 99})
	e.wantCode(err, contextd.EPRECONDITION, "update at a future version")
	e.checkContext("after refused updates", e.getContext(tenantA, c.ID), v2)
	v3, err := e.updateContext(tenantA, c.ID, contextd.ContextUpdate{Title: ptr("v3"), IfVersion: 2})
	if err != nil {
		e.t.Fatalf("update at version 2: %v", err)
	}
	if v3.Version != 3 || v3.Title != "v3" {
		e.t.Errorf("after the second update: version %d title %q", v3.Version, v3.Title)
	}
	// Without IfVersion the update applies whatever the version.
	v4 := e.mustUpdateContext(tenantA, c.ID, contextd.ContextUpdate{Title: ptr("v4")})
	if v4.Version != 4 {
		e.t.Errorf("version = %d, want 4", v4.Version)
	}
}

func testContextDelete(e *env) {
	c := e.note(tenantA, "doomed quokka", "to be deleted")
	keep := e.note(tenantA, "kept quokka", "stays")
	if err := e.s.DeleteContext(e.ctx, tenantA, c.ID); err != nil {
		e.t.Fatalf("DeleteContext: %v", err)
	}
	_, err := e.s.GetContext(e.ctx, tenantA, c.ID)
	e.wantCode(err, contextd.ENOTFOUND, "get after delete")
	e.wantCode(e.s.DeleteContext(e.ctx, tenantA, c.ID), contextd.ENOTFOUND, "delete twice")
	_, err = e.updateContext(tenantA, c.ID, contextd.ContextUpdate{Title: ptr("zombie")})
	e.wantCode(err, contextd.ENOTFOUND, "update after delete")
	if got := contextIDs(e.listContexts(tenantA, contextd.ContextFilter{})); !slices.Equal(got, []string{keep.ID}) {
		e.t.Errorf("listed after delete: %v, want only %v", got, keep.ID)
	}
	if got := e.searchIDs(tenantA, "quokka"); !slices.Equal(got, []string{keep.ID}) {
		e.t.Errorf("search after delete: %v, want only %v", got, keep.ID)
	}
	// The id is free again.
	again := e.mustContext(tenantA, contextd.ContextCreate{ID: c.ID, Title: "reborn"})
	if again.Version != 1 {
		e.t.Errorf("recreated context has version %d", again.Version)
	}
}

func testContextMissing(e *env) {
	e.note(tenantA, "something", "")
	_, err := e.s.GetContext(e.ctx, tenantA, "missing-id")
	e.wantCode(err, contextd.ENOTFOUND, "get missing")
	_, err = e.updateContext(tenantA, "missing-id", contextd.ContextUpdate{Title: ptr("x")})
	e.wantCode(err, contextd.ENOTFOUND, "update missing")
	_, err = e.updateContext(tenantA, "missing-id", contextd.ContextUpdate{Title: ptr("x"), IfVersion: 1})
	e.wantCode(err, contextd.ENOTFOUND, "update missing with IfVersion")
	e.wantCode(e.s.DeleteContext(e.ctx, tenantA, "missing-id"), contextd.ENOTFOUND, "delete missing")
}

func itoa(i int) string { return strconv.Itoa(i) }
