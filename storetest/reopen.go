package storetest

import (
	"slices"
	"time"

	"github.com/contextd/contextd"
)

func reopenTests() []test {
	return []test{
		{"reopen/everything-survives", testReopen},
		{"reopen/writes-after-reopen", testReopenWrites},
	}
}

func testReopen(e *env) {
	a := e.mustContext(tenantA, contextd.ContextCreate{ID: "keep-a", Title: "Durable heron", Content: "survives a restart",
		Type: "decision", Tags: []string{"t1"}, Metadata: map[string]any{"k": "v"}, SessionID: "sess"})
	b := e.note(tenantA, "Other", "second")
	e.tick()
	a = e.mustUpdateContext(tenantA, a.ID, contextd.ContextUpdate{Status: ptr(contextd.StatusArchived)})
	rel := e.link(tenantA, a.ID, b.ID, contextd.RelContains)
	bc := e.note(tenantB, "B's heron", "")
	exp := e.now().Add(24 * time.Hour)
	m := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "heron memory", SessionID: "sess", Importance: contextd.ImportanceHigh, ExpiresAt: &exp})
	sess := e.mustSession(tenantA, contextd.SessionCreate{ID: "explicit", Title: "titled", Metadata: map[string]any{"x": 1}})
	key, hash := e.newKey("acme", contextd.RoleWriter, "ci", "u1", nil)
	revoked, rhash := e.newKey("acme", contextd.RoleReader, "old", "", nil)
	at := e.tick()
	if err := e.s.RevokeAPIKey(e.ctx, "acme", revoked.ID, at); err != nil {
		e.t.Fatal(err)
	}
	sessBefore := e.getSession(tenantA, "sess")

	e.reopen()

	e.checkContext("context after reopen", e.getContext(tenantA, a.ID), a)
	e.checkContext("B's context after reopen", e.getContext(tenantB, bc.ID), bc)
	if got := relKeys(e.getContext(tenantA, b.ID).Relationships); !slices.Equal(got, []string{relKey(a.ID, contextd.RelContains, b.ID)}) {
		e.t.Errorf("relationships after reopen: %v", got)
	}
	if got := relByID(e.getContext(tenantA, a.ID).Relationships, rel.ID); got == nil || !got.CreatedAt.Equal(rel.CreatedAt) {
		e.t.Errorf("relationship %s after reopen: %+v", rel.ID, got)
	}
	// The CONTAINS rule still sees the stored edge.
	_, err := e.linkErr(tenantA, contextd.RelationshipCreate{SourceID: b.ID, TargetID: a.ID, Type: contextd.RelContains})
	e.wantCode(err, contextd.ECONFLICT, "CONTAINS cycle after reopen")
	e.checkMemory("memory after reopen", e.getMemory(tenantA, m.ID), m)
	got := e.getSession(tenantA, "sess")
	if got.MemoryCount != 1 || got.ContextCount != 1 || !got.LastActiveAt.Equal(sessBefore.LastActiveAt) || !got.CreatedAt.Equal(sessBefore.CreatedAt) {
		e.t.Errorf("session after reopen: %+v, before %+v", got, sessBefore)
	}
	if s := e.getSession(tenantA, "explicit"); s.Title != sess.Title || !jsonEqual(s.Metadata, sess.Metadata) {
		e.t.Errorf("explicit session after reopen: %+v", s)
	}
	k, err := e.s.APIKeyByHash(e.ctx, hash)
	if err != nil {
		e.t.Fatalf("key after reopen: %v", err)
	}
	e.checkKey("key after reopen", k, key)
	rk, err := e.s.APIKeyByHash(e.ctx, rhash)
	if err != nil {
		e.t.Fatalf("revoked key after reopen: %v", err)
	}
	if rk.RevokedAt == nil || !rk.RevokedAt.Equal(at) {
		e.t.Errorf("revokedAt after reopen: %s", fmtTimePtr(rk.RevokedAt))
	}
	if n, err := e.s.CountAPIKeys(e.ctx); err != nil || n != 2 {
		e.t.Errorf("CountAPIKeys after reopen: %d, %v", n, err)
	}
	if ids := e.searchIDs(tenantA, "heron"); !slices.Equal(ids, []string{a.ID}) {
		e.t.Errorf("search after reopen: %v", ids)
	}
	if hits := e.searchMemories(tenantA, contextd.MemorySearch{Query: "heron"}); !slices.Equal(memoryHitIDs(hits), []string{m.ID}) {
		e.t.Errorf("memory search after reopen: %v", memoryHitIDs(hits))
	}
	if st, err := e.s.IndexStats(e.ctx, tenantA); err != nil || st.Documents != 2 || st.Memories != 1 {
		e.t.Errorf("IndexStats after reopen: %+v, %v", st, err)
	}
	// Expiry still applies after a restart.
	e.clock.Advance(48 * time.Hour)
	_, err = e.s.GetMemory(e.ctx, tenantA, m.ID)
	e.wantCode(err, contextd.ENOTFOUND, "expired memory after reopen")
}

func testReopenWrites(e *env) {
	var ids []string
	for i := range 3 {
		e.tick()
		ids = append(ids, e.note(tenantA, "before "+itoa(i), "").ID)
	}
	e.reopen()
	e.reopen() // twice, with nothing in between
	for i := range 3 {
		e.tick()
		ids = append(ids, e.note(tenantA, "after "+itoa(i), "").ID)
	}
	got := contextIDs(e.listContexts(tenantA, contextd.ContextFilter{Ascending: true, Limit: 2}))
	if !slices.Equal(got, ids) {
		e.t.Errorf("contexts across reopens: %v, want %v", got, ids)
	}
	_, err := e.createContexts(tenantA, contextd.ContextCreate{ID: ids[0], Title: "dup"})
	e.wantCode(err, contextd.ECONFLICT, "a taken id after reopen")
	e.reopen()
	if n := len(e.listContexts(tenantA, contextd.ContextFilter{})); n != 6 {
		e.t.Errorf("%d contexts after the last reopen, want 6", n)
	}
}
