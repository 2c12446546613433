package storetest

import (
	"slices"

	"github.com/contextd/contextd"
)

func sessionTests() []test {
	return []test{
		{"sessions/create-get", testSessionCreateGet},
		{"sessions/generated-id", testSessionGeneratedID},
		{"sessions/duplicate-id", testSessionDuplicate},
		{"sessions/list-user-filter", testSessionList},
		{"sessions/pagination", testSessionPagination},
		{"sessions/counts", testSessionCounts},
		{"sessions/context-creates-session", testSessionFromContext},
		{"sessions/delete-removes-memories-keeps-contexts", testSessionDelete},
		{"sessions/missing", testSessionMissing},
	}
}

func testSessionCreateGet(e *env) {
	now := e.now()
	s := e.mustSession(tenantA, contextd.SessionCreate{ID: "chat-1", UserID: "bob", Title: "Trip planning ✈", Metadata: map[string]any{"channel": "slack", "n": 2}})
	check := func(what string, got *contextd.Session) {
		e.t.Helper()
		if got.ID != "chat-1" || got.UserID != "bob" || got.Title != "Trip planning ✈" || !jsonEqual(got.Metadata, map[string]any{"channel": "slack", "n": 2}) {
			e.t.Errorf("%s: %+v", what, got)
		}
		if !got.CreatedAt.Equal(now) || !got.UpdatedAt.Equal(now) || !got.LastActiveAt.Equal(now) {
			e.t.Errorf("%s: createdAt %v updatedAt %v lastActiveAt %v, want %v", what, got.CreatedAt, got.UpdatedAt, got.LastActiveAt, now)
		}
		if got.MemoryCount != 0 || got.ContextCount != 0 {
			e.t.Errorf("%s: counts %d/%d, want 0/0", what, got.MemoryCount, got.ContextCount)
		}
	}
	check("created", s)
	e.tick()
	check("GetSession", e.getSession(tenantA, "chat-1"))
	// Without title or metadata.
	bare := e.mustSession(tenantA, contextd.SessionCreate{ID: "bare"})
	got := e.getSession(tenantA, bare.ID)
	if got.Title != "" || got.Metadata == nil || len(got.Metadata) != 0 || got.UserID != defaultUser {
		e.t.Errorf("bare session: %+v (metadata must be {} not nil)", got)
	}
}

func testSessionGeneratedID(e *env) {
	a := e.mustSession(tenantA, contextd.SessionCreate{})
	e.tick()
	b := e.mustSession(tenantA, contextd.SessionCreate{})
	if !contextd.ValidID(a.ID) || !contextd.ValidID(b.ID) || !(a.ID < b.ID) {
		e.t.Errorf("generated session ids %q, %q: want valid and time-ordered", a.ID, b.ID)
	}
	e.getSession(tenantA, a.ID)
}

func testSessionDuplicate(e *env) {
	e.mustSession(tenantA, contextd.SessionCreate{ID: "dup", Title: "first"})
	_, err := e.createSession(tenantA, contextd.SessionCreate{ID: "dup", Title: "second"})
	e.wantCode(err, contextd.ECONFLICT, "session with a taken id")
	if got := e.getSession(tenantA, "dup"); got.Title != "first" {
		e.t.Errorf("the conflict changed the session: %+v", got)
	}
	// A session a memory created is taken too.
	e.mustMemory(tenantA, contextd.MemoryCreate{Content: "m", SessionID: "auto"})
	_, err = e.createSession(tenantA, contextd.SessionCreate{ID: "auto"})
	e.wantCode(err, contextd.ECONFLICT, "session id taken by an auto-created session")
	// Another tenant may use the id.
	e.mustSession(tenantB, contextd.SessionCreate{ID: "dup", Title: "B's"})
	if got := e.getSession(tenantA, "dup"); got.Title != "first" {
		e.t.Errorf("tenant B's session changed A's: %+v", got)
	}
}

func testSessionList(e *env) {
	var made []*contextd.Session
	for i, u := range []string{"alice", "bob", "alice", "carol", "alice"} {
		e.tick()
		made = append(made, e.mustSession(tenantA, contextd.SessionCreate{ID: "s" + itoa(i), UserID: u}))
	}
	e.tick()
	all := e.listSessions(tenantA, contextd.SessionFilter{})
	if got := sessionIDs(all); !slices.Equal(got, []string{"s4", "s3", "s2", "s1", "s0"}) {
		e.t.Errorf("all sessions newest first: %v", got)
	}
	if got := sessionIDs(e.listSessions(tenantA, contextd.SessionFilter{Ascending: true})); !slices.Equal(got, []string{"s0", "s1", "s2", "s3", "s4"}) {
		e.t.Errorf("ascending: %v", got)
	}
	if got := sessionIDs(e.listSessions(tenantA, contextd.SessionFilter{UserID: "alice"})); !slices.Equal(got, []string{"s4", "s2", "s0"}) {
		e.t.Errorf("userId alice: %v", got)
	}
	if got := sessionIDs(e.listSessions(tenantA, contextd.SessionFilter{UserID: "nobody"})); len(got) != 0 {
		e.t.Errorf("userId nobody: %v", got)
	}
	if !all[0].CreatedAt.Equal(made[4].CreatedAt) {
		e.t.Errorf("listed session createdAt %v, want %v", all[0].CreatedAt, made[4].CreatedAt)
	}
}

func testSessionPagination(e *env) {
	var ids []string
	for i := range 13 {
		e.tick()
		ids = append(ids, e.mustSession(tenantA, contextd.SessionCreate{UserID: []string{"u1", "u2"}[i%2]}).ID)
	}
	e.tick()
	for i := range 3 { // ties
		ids = append(ids, e.mustSession(tenantA, contextd.SessionCreate{ID: "tie" + itoa(i)}).ID)
	}
	for _, limit := range []int{1, 3, 16, 50} {
		for _, asc := range []bool{false, true} {
			got := e.listSessions(tenantA, contextd.SessionFilter{Limit: limit, Ascending: asc})
			e.unique("sessions limit "+itoa(limit), sessionIDs(got))
			if !sameSet(sessionIDs(got), ids) {
				e.t.Errorf("limit %d asc %v: visited %d of %d", limit, asc, len(got), len(ids))
			}
			for i := 1; i < len(got); i++ {
				a, b := got[i-1].CreatedAt, got[i].CreatedAt
				if (!asc && a.Before(b)) || (asc && a.After(b)) {
					e.t.Errorf("limit %d asc %v: out of order at %d", limit, asc, i)
					break
				}
			}
		}
	}
	if got := e.listSessions(tenantA, contextd.SessionFilter{UserID: "u1", Limit: 2}); len(got) != 7 {
		e.t.Errorf("u1 paged: %d sessions, want 7", len(got))
	}
	_, _, err := e.findSessions(tenantA, contextd.SessionFilter{Cursor: "bad cursor!"})
	e.wantCode(err, contextd.EINVALID, "FindSessions with a bad cursor")
}

func testSessionCounts(e *env) {
	e.mustSession(tenantA, contextd.SessionCreate{ID: "s"})
	e.mustMemories(tenantA, contextd.MemoryCreate{Content: "1", SessionID: "s"}, contextd.MemoryCreate{Content: "2", SessionID: "s"})
	e.mustMemory(tenantA, contextd.MemoryCreate{Content: "elsewhere", SessionID: "t"})
	c := e.mustContexts(tenantA,
		contextd.ContextCreate{Title: "c1", SessionID: "s"}, contextd.ContextCreate{Title: "c2", SessionID: "s"},
		contextd.ContextCreate{Title: "c3", SessionID: "s"}, contextd.ContextCreate{Title: "c4"})
	check := func(what string, mem, ctx int) {
		e.t.Helper()
		got := e.getSession(tenantA, "s")
		if got.MemoryCount != mem || got.ContextCount != ctx {
			e.t.Errorf("%s: memoryCount %d contextCount %d, want %d and %d", what, got.MemoryCount, got.ContextCount, mem, ctx)
		}
		listed := e.listSessions(tenantA, contextd.SessionFilter{})
		for _, l := range listed {
			if l.ID == "s" && (l.MemoryCount != mem || l.ContextCount != ctx) {
				e.t.Errorf("%s: FindSessions counts %d/%d, want %d/%d", what, l.MemoryCount, l.ContextCount, mem, ctx)
			}
		}
	}
	check("initial", 2, 3)
	if err := e.s.DeleteContext(e.ctx, tenantA, c[0].ID); err != nil {
		e.t.Fatal(err)
	}
	check("after a context delete", 2, 2)
	e.mustUpdateContext(tenantA, c[1].ID, contextd.ContextUpdate{SessionID: ptr("")})
	check("after moving a context out", 2, 1)
	e.mustUpdateContext(tenantA, c[3].ID, contextd.ContextUpdate{SessionID: ptr("s")})
	check("after moving a context in", 2, 2)
	if got := e.getSession(tenantA, "t"); got.MemoryCount != 1 || got.ContextCount != 0 {
		e.t.Errorf("session t: %d/%d", got.MemoryCount, got.ContextCount)
	}
}

func testSessionFromContext(e *env) {
	now := e.now()
	e.mustContext(tenantA, contextd.ContextCreate{Title: "in a new session", SessionID: "ctx-session", UserID: "bob"})
	s := e.getSession(tenantA, "ctx-session")
	if s.UserID != "bob" || s.ContextCount != 1 || s.MemoryCount != 0 || !s.CreatedAt.Equal(now) {
		e.t.Errorf("session created by a context: %+v", s)
	}
	e.tick()
	e.mustContext(tenantA, contextd.ContextCreate{Title: "second", SessionID: "ctx-session", UserID: "carol"})
	if s := e.getSession(tenantA, "ctx-session"); s.ContextCount != 2 || s.UserID != "bob" {
		e.t.Errorf("after a second context: %+v", s)
	}
	if n := len(e.listSessions(tenantA, contextd.SessionFilter{})); n != 1 {
		e.t.Errorf("%d sessions, want 1", n)
	}
}

func testSessionDelete(e *env) {
	e.mustSession(tenantA, contextd.SessionCreate{ID: "doomed"})
	ms := e.mustMemories(tenantA, contextd.MemoryCreate{Content: "gone mongoose", SessionID: "doomed"}, contextd.MemoryCreate{Content: "gone too mongoose", SessionID: "doomed"})
	other := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "stays mongoose", SessionID: "kept"})
	c := e.mustContext(tenantA, contextd.ContextCreate{Title: "context of the session", SessionID: "doomed"})
	if err := e.s.DeleteSession(e.ctx, tenantA, "doomed"); err != nil {
		e.t.Fatalf("DeleteSession: %v", err)
	}
	_, err := e.s.GetSession(e.ctx, tenantA, "doomed")
	e.wantCode(err, contextd.ENOTFOUND, "get a deleted session")
	for _, m := range ms {
		_, err := e.s.GetMemory(e.ctx, tenantA, m.ID)
		e.wantCode(err, contextd.ENOTFOUND, "memory %s of the deleted session", m.ID)
	}
	if got := memoryIDs(e.listMemories(tenantA, contextd.MemoryFilter{})); !slices.Equal(got, []string{other.ID}) {
		e.t.Errorf("memories after the session delete: %v, want only %s", got, other.ID)
	}
	if got := memoryIDs(e.listMemories(tenantA, contextd.MemoryFilter{SessionID: "doomed"})); len(got) != 0 {
		e.t.Errorf("memories listed by the deleted session: %v", got)
	}
	if got := memoryHitIDs(e.searchMemories(tenantA, contextd.MemorySearch{Query: "mongoose"})); !slices.Equal(got, []string{other.ID}) {
		e.t.Errorf("memory search after the session delete: %v", got)
	}
	kept := e.getContext(tenantA, c.ID)
	e.checkContext("the session's context", kept, c)
	if got := contextIDs(e.listContexts(tenantA, contextd.ContextFilter{SessionID: "doomed"})); !slices.Equal(got, []string{c.ID}) {
		e.t.Errorf("contexts by the deleted session's id: %v", got)
	}
	e.wantCode(e.s.DeleteSession(e.ctx, tenantA, "doomed"), contextd.ENOTFOUND, "delete a deleted session")
	if got := sessionIDs(e.listSessions(tenantA, contextd.SessionFilter{})); !slices.Equal(got, []string{"kept"}) {
		e.t.Errorf("sessions after delete: %v", got)
	}
	// A new memory with the old id starts a fresh session.
	e.mustMemory(tenantA, contextd.MemoryCreate{Content: "again", SessionID: "doomed"})
	if s := e.getSession(tenantA, "doomed"); s.MemoryCount != 1 {
		e.t.Errorf("the recreated session counts %d memories", s.MemoryCount)
	}
}

func testSessionMissing(e *env) {
	e.mustSession(tenantA, contextd.SessionCreate{ID: "exists"})
	_, err := e.s.GetSession(e.ctx, tenantA, "nope")
	e.wantCode(err, contextd.ENOTFOUND, "get a missing session")
	e.wantCode(e.s.DeleteSession(e.ctx, tenantA, "nope"), contextd.ENOTFOUND, "delete a missing session")
}
