package storetest

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/contextd/contextd"
)

func memoryTests() []test {
	return []test{
		{"memories/create-defaults", testMemoryDefaults},
		{"memories/create-get", testMemoryCreateGet},
		{"memories/client-id-taken", testMemoryIDTaken},
		{"memories/batch-all-or-nothing", testMemoryBatchAllOrNothing},
		{"memories/session-auto-created", testMemorySessionAutoCreated},
		{"memories/last-active-at", testMemoryLastActive},
		{"memories/memory-count", testMemoryCount},
		{"memories/update-each-field", testMemoryUpdate},
		{"memories/update-if-version", testMemoryUpdateIfVersion},
		{"memories/delete", testMemoryDelete},
		{"memories/missing", testMemoryMissing},
		{"memories/filters", testMemoryFilters},
		{"memories/pagination", testMemoryPagination},
		{"memories/expiry", testMemoryExpiry},
		{"memories/search-relevance-first", testMemorySearchRelevance},
		{"memories/search-importance-breaks-ties", testMemorySearchImportance},
		{"memories/search-confidence-recency-break-ties", testMemorySearchConfidenceRecency},
		{"memories/search-no-query-scores", testMemorySearchNoQuery},
		{"memories/search-filters", testMemorySearchFilters},
		{"memories/search-limit", testMemorySearchLimit},
	}
}

func testMemoryDefaults(e *env) {
	now := e.now()
	m := e.mustMemory(tenantA, contextd.MemoryCreate{Type: contextd.MemoryFact, Content: "The user's name is Ada.", SessionID: "s1", UserID: "bob"})
	want := &contextd.Memory{
		ID: m.ID, Type: contextd.MemoryFact, Content: "The user's name is Ada.", Importance: contextd.ImportanceMedium,
		Confidence: 1, Tags: []string{}, Timestamp: now, Source: contextd.SourceUser, SessionID: "s1", UserID: "bob",
		Metadata: map[string]any{}, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	if !contextd.ValidID(m.ID) {
		e.t.Errorf("generated id %q is not valid", m.ID)
	}
	e.checkMemory("created", m, want)
	e.tick()
	e.checkMemory("GetMemory", e.getMemory(tenantA, m.ID), want)
}

func testMemoryCreateGet(e *env) {
	now := e.now()
	ts := now.Add(-72 * time.Hour)
	exp := now.Add(24 * time.Hour)
	in := contextd.MemoryCreate{
		ID: "mem-1", Type: contextd.MemoryInstruction, Content: "Always answer in French. Ünïcode ✓ 🚀\nline two",
		Importance: contextd.ImportanceCritical, Confidence: ptr(0.75), Tags: []string{"lang", "style"},
		Timestamp: ts, Source: contextd.SourceLLM, SessionID: "s-42", UserID: "carol",
		Metadata: map[string]any{"origin": "chat", "turn": 7, "nested": map[string]any{"ok": true}}, ExpiresAt: &exp,
	}
	m := e.mustMemory(tenantA, in)
	want := &contextd.Memory{
		ID: "mem-1", Type: in.Type, Content: in.Content, Importance: in.Importance, Confidence: 0.75, Tags: in.Tags,
		Timestamp: ts, Source: in.Source, SessionID: in.SessionID, UserID: in.UserID, Metadata: in.Metadata,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: &exp, Version: 1,
	}
	e.checkMemory("created", m, want)
	e.tick()
	e.checkMemory("GetMemory", e.getMemory(tenantA, "mem-1"), want)
	list := e.listMemories(tenantA, contextd.MemoryFilter{})
	if len(list) != 1 {
		e.t.Fatalf("FindMemories: %d memories", len(list))
	}
	e.checkMemory("FindMemories", list[0], want)
	for _, c := range []float64{0, 1, 0.5} {
		m := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "confidence", Confidence: ptr(c)})
		if got := e.getMemory(tenantA, m.ID).Confidence; got != c {
			e.t.Errorf("confidence %v stored as %v", c, got)
		}
	}
}

func testMemoryIDTaken(e *env) {
	orig := e.mustMemory(tenantA, contextd.MemoryCreate{ID: "m-taken", Content: "original"})
	_, err := e.createMemories(tenantA, contextd.MemoryCreate{ID: "m-taken", Content: "impostor"})
	e.wantCode(err, contextd.ECONFLICT, "memory with a taken id")
	e.checkMemory("original", e.getMemory(tenantA, "m-taken"), orig)
	// The same memory id in another tenant is fine.
	e.mustMemory(tenantB, contextd.MemoryCreate{ID: "m-taken", Content: "B's own"})
}

func testMemoryBatchAllOrNothing(e *env) {
	e.mustMemory(tenantA, contextd.MemoryCreate{ID: "existing", Content: "existing", SessionID: "old-session"})
	e.tick()
	before := e.getSession(tenantA, "old-session")
	_, err := e.createMemories(tenantA,
		contextd.MemoryCreate{ID: "new-1", Content: "narwhal one", SessionID: "batch-session"},
		contextd.MemoryCreate{ID: "new-2", Content: "narwhal two", SessionID: "old-session"},
		contextd.MemoryCreate{ID: "existing", Content: "narwhal clash"},
	)
	e.wantCode(err, contextd.ECONFLICT, "batch with a taken id")
	for _, id := range []string{"new-1", "new-2"} {
		_, err := e.s.GetMemory(e.ctx, tenantA, id)
		e.wantCode(err, contextd.ENOTFOUND, "memory %s of the failed batch", id)
	}
	_, err = e.s.GetSession(e.ctx, tenantA, "batch-session")
	e.wantCode(err, contextd.ENOTFOUND, "the session a failed batch would have created")
	after := e.getSession(tenantA, "old-session")
	if after.MemoryCount != 1 || !after.LastActiveAt.Equal(before.LastActiveAt) {
		e.t.Errorf("the failed batch touched old-session: count %d lastActiveAt %v (was %v)", after.MemoryCount, after.LastActiveAt, before.LastActiveAt)
	}
	if hits := e.searchMemories(tenantA, contextd.MemorySearch{Query: "narwhal"}); len(hits) != 0 {
		e.t.Errorf("search finds %v after the failed batch", memoryHitIDs(hits))
	}
	if n := len(e.listMemories(tenantA, contextd.MemoryFilter{})); n != 1 {
		e.t.Errorf("%d memories listed, want 1", n)
	}
}

func testMemorySessionAutoCreated(e *env) {
	now := e.now()
	m := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "first", SessionID: "brand-new", UserID: "carol"})
	s := e.getSession(tenantA, "brand-new")
	if s.ID != "brand-new" || s.UserID != "carol" || s.MemoryCount != 1 || s.ContextCount != 0 {
		e.t.Errorf("auto-created session: %+v, want id brand-new, userId carol, 1 memory", s)
	}
	if !s.CreatedAt.Equal(now) || !s.LastActiveAt.Equal(now) {
		e.t.Errorf("auto-created session: createdAt %v lastActiveAt %v, want %v", s.CreatedAt, s.LastActiveAt, now)
	}
	if s.Metadata == nil {
		e.t.Errorf("auto-created session metadata is nil, want {}")
	}
	if got := sessionIDs(e.listSessions(tenantA, contextd.SessionFilter{})); !slices.Equal(got, []string{"brand-new"}) {
		e.t.Errorf("sessions listed: %v", got)
	}
	// A second memory in it does not create another.
	e.tick()
	e.mustMemory(tenantA, contextd.MemoryCreate{Content: "second", SessionID: "brand-new", UserID: "carol"})
	if got := e.listSessions(tenantA, contextd.SessionFilter{}); len(got) != 1 || got[0].MemoryCount != 2 {
		e.t.Errorf("after a second memory: sessions %v", sessionIDs(got))
	}
	// Several new sessions in one batch.
	e.mustMemories(tenantA,
		contextd.MemoryCreate{Content: "x", SessionID: "batch-a", UserID: "dan"},
		contextd.MemoryCreate{Content: "y", SessionID: "batch-b", UserID: "erin"},
		contextd.MemoryCreate{Content: "z", SessionID: "batch-a", UserID: "dan"})
	if s := e.getSession(tenantA, "batch-a"); s.MemoryCount != 2 || s.UserID != "dan" {
		e.t.Errorf("batch-a: %+v", s)
	}
	if s := e.getSession(tenantA, "batch-b"); s.MemoryCount != 1 || s.UserID != "erin" {
		e.t.Errorf("batch-b: %+v", s)
	}
	_ = m
}

func testMemoryLastActive(e *env) {
	t0 := e.now()
	e.mustSession(tenantA, contextd.SessionCreate{ID: "s1", Title: "chat"})
	e.mustSession(tenantA, contextd.SessionCreate{ID: "s2"})
	check := func(what, id string, want time.Time) {
		e.t.Helper()
		s := e.getSession(tenantA, id)
		if !s.LastActiveAt.Equal(want) {
			e.t.Errorf("%s: %s lastActiveAt %v, want %v", what, id, s.LastActiveAt, want)
		}
		if !s.CreatedAt.Equal(t0) {
			e.t.Errorf("%s: %s createdAt moved to %v", what, id, s.CreatedAt)
		}
	}
	check("new session", "s1", t0)
	t1 := e.clock.Advance(time.Minute)
	m := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "hello", SessionID: "s1"})
	check("after a memory create", "s1", t1)
	check("untouched", "s2", t0)
	t2 := e.clock.Advance(time.Minute)
	e.mustUpdateMemory(tenantA, m.ID, contextd.MemoryUpdate{Content: ptr("hello again")})
	check("after a memory update", "s1", t2)
	t3 := e.clock.Advance(time.Hour)
	e.mustMemories(tenantA, contextd.MemoryCreate{Content: "a", SessionID: "s1"}, contextd.MemoryCreate{Content: "b", SessionID: "s2"})
	check("after a batch", "s1", t3)
	check("after a batch", "s2", t3)
	// Reads do not move it.
	e.clock.Advance(time.Hour)
	e.getMemory(tenantA, m.ID)
	e.listMemories(tenantA, contextd.MemoryFilter{SessionID: "s1"})
	e.searchMemories(tenantA, contextd.MemorySearch{Query: "hello"})
	check("after reads", "s1", t3)
}

func testMemoryCount(e *env) {
	ms := e.mustMemories(tenantA,
		contextd.MemoryCreate{Content: "1", SessionID: "s"}, contextd.MemoryCreate{Content: "2", SessionID: "s"},
		contextd.MemoryCreate{Content: "3", SessionID: "s"}, contextd.MemoryCreate{Content: "4", SessionID: "other"})
	if n := e.getSession(tenantA, "s").MemoryCount; n != 3 {
		e.t.Errorf("memoryCount %d, want 3", n)
	}
	if err := e.s.DeleteMemory(e.ctx, tenantA, ms[0].ID); err != nil {
		e.t.Fatal(err)
	}
	if n := e.getSession(tenantA, "s").MemoryCount; n != 2 {
		e.t.Errorf("memoryCount after a delete %d, want 2", n)
	}
	for _, s := range e.listSessions(tenantA, contextd.SessionFilter{}) {
		want := map[string]int{"s": 2, "other": 1}[s.ID]
		if s.MemoryCount != want {
			e.t.Errorf("FindSessions: %s memoryCount %d, want %d", s.ID, s.MemoryCount, want)
		}
	}
}

func testMemoryUpdate(e *env) {
	created := e.now()
	ts := created.Add(-time.Hour)
	m := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "old", Timestamp: ts, Tags: []string{"a"}, Metadata: map[string]any{"k": "v"}, SessionID: "s1", UserID: "bob"})
	want := *m
	exp := created.Add(48 * time.Hour)
	steps := []struct {
		name  string
		u     contextd.MemoryUpdate
		apply func(w *contextd.Memory)
	}{
		{"type", contextd.MemoryUpdate{Type: ptr(contextd.MemoryPreference)}, func(w *contextd.Memory) { w.Type = contextd.MemoryPreference }},
		{"content", contextd.MemoryUpdate{Content: ptr("new content")}, func(w *contextd.Memory) { w.Content = "new content" }},
		{"importance", contextd.MemoryUpdate{Importance: ptr(contextd.ImportanceHigh)}, func(w *contextd.Memory) { w.Importance = contextd.ImportanceHigh }},
		{"confidence", contextd.MemoryUpdate{Confidence: ptr(0.25)}, func(w *contextd.Memory) { w.Confidence = 0.25 }},
		{"confidence zero", contextd.MemoryUpdate{Confidence: ptr(0.0)}, func(w *contextd.Memory) { w.Confidence = 0 }},
		{"tags", contextd.MemoryUpdate{Tags: &[]string{"x", "y"}}, func(w *contextd.Memory) { w.Tags = []string{"x", "y"} }},
		{"tags emptied", contextd.MemoryUpdate{Tags: &[]string{}}, func(w *contextd.Memory) { w.Tags = []string{} }},
		{"source", contextd.MemoryUpdate{Source: ptr(contextd.SourceSystem)}, func(w *contextd.Memory) { w.Source = contextd.SourceSystem }},
		{"metadata replaced", contextd.MemoryUpdate{Metadata: &map[string]any{"new": 1}}, func(w *contextd.Memory) { w.Metadata = map[string]any{"new": 1} }},
		{"expiresAt set", contextd.MemoryUpdate{ExpiresAt: ptr(&exp)}, func(w *contextd.Memory) { w.ExpiresAt = &exp }},
		{"expiresAt removed", contextd.MemoryUpdate{ExpiresAt: ptr((*time.Time)(nil))}, func(w *contextd.Memory) { w.ExpiresAt = nil }},
		{"several", contextd.MemoryUpdate{Content: ptr("final"), Importance: ptr(contextd.ImportanceLow)}, func(w *contextd.Memory) {
			w.Content, w.Importance = "final", contextd.ImportanceLow
		}},
	}
	for _, st := range steps {
		now := e.clock.Advance(time.Minute)
		got := e.mustUpdateMemory(tenantA, m.ID, st.u)
		st.apply(&want)
		want.Version++
		want.UpdatedAt = now
		e.checkMemory("update "+st.name, got, &want)
		e.checkMemory("get after update "+st.name, e.getMemory(tenantA, m.ID), &want)
	}
	if !want.Timestamp.Equal(ts) || !want.CreatedAt.Equal(created) {
		e.t.Fatalf("test bug")
	}
	// The index follows content updates.
	if hits := e.searchMemories(tenantA, contextd.MemorySearch{Query: "final"}); !slices.Equal(memoryHitIDs(hits), []string{m.ID}) {
		e.t.Errorf("search for the new content: %v", memoryHitIDs(hits))
	}
	if hits := e.searchMemories(tenantA, contextd.MemorySearch{Query: "old"}); len(hits) != 0 {
		e.t.Errorf("search for the old content: %v", memoryHitIDs(hits))
	}
}

func testMemoryUpdateIfVersion(e *env) {
	m := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "v1"})
	e.tick()
	v2, err := e.updateMemory(tenantA, m.ID, contextd.MemoryUpdate{Content: ptr("v2"), IfVersion: 1})
	if err != nil {
		e.t.Fatalf("update at the current version: %v", err)
	}
	if v2.Version != 2 {
		e.t.Errorf("version %d, want 2", v2.Version)
	}
	_, err = e.updateMemory(tenantA, m.ID, contextd.MemoryUpdate{Content: ptr("stale"), IfVersion: 1})
	e.wantCode(err, contextd.EPRECONDITION, "stale IfVersion")
	_, err = e.updateMemory(tenantA, m.ID, contextd.MemoryUpdate{Content: ptr("future"), IfVersion: 7})
	e.wantCode(err, contextd.EPRECONDITION, "future IfVersion")
	e.checkMemory("after refused updates", e.getMemory(tenantA, m.ID), v2)
	if v3, err := e.updateMemory(tenantA, m.ID, contextd.MemoryUpdate{Content: ptr("v3"), IfVersion: 2}); err != nil || v3.Version != 3 {
		e.t.Errorf("update at version 2: %v", err)
	}
}

func testMemoryDelete(e *env) {
	m := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "forget the wombat", SessionID: "s"})
	keep := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "keep the wombat", SessionID: "s"})
	if err := e.s.DeleteMemory(e.ctx, tenantA, m.ID); err != nil {
		e.t.Fatalf("DeleteMemory: %v", err)
	}
	_, err := e.s.GetMemory(e.ctx, tenantA, m.ID)
	e.wantCode(err, contextd.ENOTFOUND, "get after delete")
	e.wantCode(e.s.DeleteMemory(e.ctx, tenantA, m.ID), contextd.ENOTFOUND, "delete twice")
	_, err = e.updateMemory(tenantA, m.ID, contextd.MemoryUpdate{Content: ptr("zombie")})
	e.wantCode(err, contextd.ENOTFOUND, "update after delete")
	if got := memoryIDs(e.listMemories(tenantA, contextd.MemoryFilter{})); !slices.Equal(got, []string{keep.ID}) {
		e.t.Errorf("listed after delete: %v", got)
	}
	if got := memoryHitIDs(e.searchMemories(tenantA, contextd.MemorySearch{Query: "wombat"})); !slices.Equal(got, []string{keep.ID}) {
		e.t.Errorf("search after delete: %v", got)
	}
	e.getSession(tenantA, "s") // the session stays
}

func testMemoryMissing(e *env) {
	e.mustMemory(tenantA, contextd.MemoryCreate{Content: "something"})
	_, err := e.s.GetMemory(e.ctx, tenantA, "nope")
	e.wantCode(err, contextd.ENOTFOUND, "get missing")
	_, err = e.updateMemory(tenantA, "nope", contextd.MemoryUpdate{Content: ptr("x")})
	e.wantCode(err, contextd.ENOTFOUND, "update missing")
	_, err = e.updateMemory(tenantA, "nope", contextd.MemoryUpdate{Content: ptr("x"), IfVersion: 1})
	e.wantCode(err, contextd.ENOTFOUND, "update missing with IfVersion")
	e.wantCode(e.s.DeleteMemory(e.ctx, tenantA, "nope"), contextd.ENOTFOUND, "delete missing")
}

// memoryFixture creates five memories, one second apart, all holding "otter".
func memoryFixture(e *env) []*contextd.Memory {
	specs := []contextd.MemoryCreate{
		{Type: contextd.MemoryFact, Importance: contextd.ImportanceLow, Confidence: ptr(0.2), Tags: []string{"a"}, SessionID: "s1", UserID: "alice", Source: contextd.SourceUser},
		{Type: contextd.MemoryPreference, Importance: contextd.ImportanceMedium, Confidence: ptr(0.5), Tags: []string{"a", "b"}, SessionID: "s1", UserID: "bob", Source: contextd.SourceLLM},
		{Type: contextd.MemoryInstruction, Importance: contextd.ImportanceHigh, Confidence: ptr(0.8), Tags: []string{"b"}, SessionID: "s2", UserID: "alice", Source: contextd.SourceSystem},
		{Type: contextd.MemoryExample, Importance: contextd.ImportanceCritical, Confidence: ptr(1.0), Tags: []string{"a", "b", "c"}, SessionID: "s2", UserID: "bob", Source: contextd.SourceLLM},
		{Type: contextd.MemoryContext, Importance: contextd.ImportanceMedium, Confidence: ptr(0.5), SessionID: "s3", UserID: "alice", Source: contextd.SourceUser},
	}
	var out []*contextd.Memory
	for i, m := range specs {
		e.tick()
		m.Content = "the otter memory number " + itoa(i+1)
		out = append(out, e.mustMemory(tenantA, m))
	}
	e.tick()
	return out
}

func testMemoryFilters(e *env) {
	f := memoryFixture(e)
	f1, f2, f3, f4, f5 := f[0], f[1], f[2], f[3], f[4]
	cases := []struct {
		name string
		f    contextd.MemoryFilter
		want []*contextd.Memory // newest first
	}{
		{"none", contextd.MemoryFilter{}, []*contextd.Memory{f5, f4, f3, f2, f1}},
		{"sessionId", contextd.MemoryFilter{SessionID: "s1"}, []*contextd.Memory{f2, f1}},
		{"userId", contextd.MemoryFilter{UserID: "alice"}, []*contextd.Memory{f5, f3, f1}},
		{"type", contextd.MemoryFilter{Type: contextd.MemoryInstruction}, []*contextd.Memory{f3}},
		{"importance", contextd.MemoryFilter{Importance: contextd.ImportanceMedium}, []*contextd.Memory{f5, f2}},
		{"source", contextd.MemoryFilter{Source: contextd.SourceLLM}, []*contextd.Memory{f4, f2}},
		{"tag", contextd.MemoryFilter{Tags: []string{"b"}}, []*contextd.Memory{f4, f3, f2}},
		{"tags-all", contextd.MemoryFilter{Tags: []string{"a", "b"}}, []*contextd.Memory{f4, f2}},
		{"tags-none", contextd.MemoryFilter{Tags: []string{"zzz"}}, nil},
		{"combined", contextd.MemoryFilter{UserID: "bob", Source: contextd.SourceLLM, SessionID: "s2"}, []*contextd.Memory{f4}},
		{"ascending", contextd.MemoryFilter{UserID: "alice", Ascending: true}, []*contextd.Memory{f1, f3, f5}},
	}
	for _, tc := range cases {
		e.t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			got := memoryIDs(e.listMemories(tenantA, tc.f))
			if want := memoryIDs(tc.want); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("filter %+v: got %v, want %v", tc.f, got, want)
			}
		})
	}
}

func testMemoryPagination(e *env) {
	var all []*contextd.Memory
	for i := range 13 {
		e.tick()
		all = append(all, e.mustMemory(tenantA, contextd.MemoryCreate{Content: "m" + itoa(i), SessionID: "s" + itoa(i%2)}))
	}
	e.tick()
	ties := e.mustMemories(tenantA, contextd.MemoryCreate{Content: "tie 1"}, contextd.MemoryCreate{Content: "tie 2"}, contextd.MemoryCreate{Content: "tie 3"})
	all = append(all, ties...) // created at one instant
	e.tick()
	for _, limit := range []int{1, 3, 16, 100} {
		for _, asc := range []bool{false, true} {
			got := e.listMemories(tenantA, contextd.MemoryFilter{Limit: limit, Ascending: asc})
			ids := memoryIDs(got)
			e.unique("memories limit "+itoa(limit), ids)
			if !sameSet(ids, memoryIDs(all)) {
				e.t.Errorf("limit %d asc %v: visited %d of %d memories", limit, asc, len(ids), len(all))
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
	got := e.listMemories(tenantA, contextd.MemoryFilter{SessionID: "s1", Limit: 3})
	if len(got) != 6 {
		e.t.Errorf("session s1 paged: %d memories, want 6", len(got))
	}
	_, _, err := e.findMemories(tenantA, contextd.MemoryFilter{Cursor: "garbage cursor!"})
	e.wantCode(err, contextd.EINVALID, "FindMemories with a bad cursor")
}

func testMemoryExpiry(e *env) {
	now := e.now()
	soon, past := now.Add(time.Hour), now.Add(-time.Second)
	m1 := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "ferret expires soon", SessionID: "s", ExpiresAt: &soon})
	m2 := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "ferret forever", SessionID: "s"})
	m3 := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "ferret already expired", SessionID: "s", ExpiresAt: &past})
	later := now.Add(time.Hour * 3)
	m4 := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "ferret reprieved", SessionID: "s", ExpiresAt: &soon})
	e.mustUpdateMemory(tenantA, m4.ID, contextd.MemoryUpdate{ExpiresAt: ptr(&later)})

	visible := func(what string, want ...*contextd.Memory) {
		e.t.Helper()
		wantIDs := memoryIDs(want)
		for _, m := range []*contextd.Memory{m1, m2, m3, m4} {
			_, err := e.s.GetMemory(e.ctx, tenantA, m.ID)
			if slices.Contains(wantIDs, m.ID) {
				e.wantCode(err, "", "%s: get %q", what, m.Content)
			} else {
				e.wantCode(err, contextd.ENOTFOUND, "%s: get %q", what, m.Content)
			}
		}
		if got := memoryIDs(e.listMemories(tenantA, contextd.MemoryFilter{})); !sameSet(got, wantIDs) {
			e.t.Errorf("%s: listed %v, want %v", what, got, wantIDs)
		}
		if got := memoryIDs(e.listMemories(tenantA, contextd.MemoryFilter{SessionID: "s", Limit: 1})); !sameSet(got, wantIDs) {
			e.t.Errorf("%s: listed by session, one per page: %v, want %v", what, got, wantIDs)
		}
		if got := memoryHitIDs(e.searchMemories(tenantA, contextd.MemorySearch{Query: "ferret", Limit: 100})); !sameSet(got, wantIDs) {
			e.t.Errorf("%s: search %v, want %v", what, got, wantIDs)
		}
		if got := memoryHitIDs(e.searchMemories(tenantA, contextd.MemorySearch{Limit: 100})); !sameSet(got, wantIDs) {
			e.t.Errorf("%s: search without a query %v, want %v", what, got, wantIDs)
		}
		st, err := e.s.IndexStats(e.ctx, tenantA)
		if err != nil {
			e.t.Fatal(err)
		}
		if st.Memories != len(want) {
			e.t.Errorf("%s: IndexStats counts %d memories, want %d", what, st.Memories, len(want))
		}
	}
	visible("at creation", m1, m2, m4)
	e.clock.Advance(59 * time.Minute)
	visible("a minute before m1 expires", m1, m2, m4)
	e.clock.Advance(2 * time.Minute)
	visible("after m1 expired", m2, m4)
	_, err := e.updateMemory(tenantA, m1.ID, contextd.MemoryUpdate{Content: ptr("revive")})
	e.wantCode(err, contextd.ENOTFOUND, "update of an expired memory")
	e.clock.Advance(3 * time.Hour)
	visible("after m4 expired", m2)
}

// relClose reports whether a and b agree to a relative tolerance.
func relClose(a, b, tol float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= tol*math.Max(math.Abs(a), math.Abs(b))
}

func (e *env) memoryFillers(n int) {
	e.t.Helper()
	words := []string{"sunny weather today", "meeting moved to monday", "likes jazz music", "allergic to peanuts",
		"works at a bakery", "has two cats", "plays chess on sundays", "reads science fiction"}
	var items []contextd.MemoryCreate
	for i := range n {
		items = append(items, contextd.MemoryCreate{Content: words[i%len(words)] + " " + itoa(i), SessionID: "fill"})
	}
	e.mustMemories(tenantA, items...)
}

func testMemorySearchRelevance(e *env) {
	e.memoryFillers(12)
	all := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "espresso grinder burr settings"})
	one := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "espresso machine descaling schedule"})
	none := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "green tea at night", Importance: contextd.ImportanceCritical})
	hits := e.searchMemories(tenantA, contextd.MemorySearch{Query: "espresso grinder burr"})
	got := memoryHitIDs(hits)
	if !slices.Equal(got, []string{all.ID, one.ID}) {
		e.t.Errorf("espresso grinder burr: %v, want [%s %s] (the non-matching %s left out)", got, all.ID, one.ID, none.ID)
	}
	best := contextd.MemoryScore(0, false, &contextd.Memory{Importance: contextd.ImportanceCritical, Confidence: 1, Timestamp: e.now()}, e.now())
	for i, h := range hits {
		if h.Score <= 0 || h.Score >= best {
			e.t.Errorf("hit %d score %v out of (0, %v)", i, h.Score, best)
		}
	}
	// A natural-language question finds its memory.
	q := e.searchMemories(tenantA, contextd.MemorySearch{Query: "What are my espresso grinder settings?"})
	if len(q) == 0 || q[0].Memory.ID != all.ID {
		e.t.Errorf("question: %v, want %s first", memoryHitIDs(q), all.ID)
	}
	e.checkMemory("search hit", q[0].Memory, all)
}

func testMemorySearchImportance(e *env) {
	e.memoryFillers(8)
	var ms []*contextd.Memory
	for _, imp := range []string{contextd.ImportanceLow, contextd.ImportanceCritical, contextd.ImportanceMedium, contextd.ImportanceHigh} {
		ms = append(ms, e.mustMemory(tenantA, contextd.MemoryCreate{Content: "the user prefers dark mode", Importance: imp, SessionID: "s-" + imp}))
	}
	hits := e.searchMemories(tenantA, contextd.MemorySearch{Query: "dark mode"})
	want := []string{ms[1].ID, ms[3].ID, ms[2].ID, ms[0].ID} // critical, high, medium, low
	if got := memoryHitIDs(hits); !slices.Equal(got, want) {
		e.t.Fatalf("equally relevant memories: %v, want critical, high, medium, low %v", got, want)
	}
	// Relevance cancels out: the scores stand in the ratio MemoryScore gives
	// their other factors.
	e.checkRatios("importance", hits)
}

// checkRatios checks that consecutive hits of equally relevant memories score
// in the ratio contextd.MemoryScore gives them (relevance cancels out).
func (e *env) checkRatios(what string, hits []*contextd.MemoryHit) {
	e.t.Helper()
	for i := 1; i < len(hits); i++ {
		a, b := hits[i-1], hits[i]
		want := contextd.MemoryScore(1, true, a.Memory, e.now()) / contextd.MemoryScore(1, true, b.Memory, e.now())
		if !relClose(a.Score/b.Score, want, 1e-6) {
			e.t.Errorf("%s: score ratio %v / %v = %v, want %v as MemoryScore has it", what, a.Score, b.Score, a.Score/b.Score, want)
		}
	}
}

func testMemorySearchConfidenceRecency(e *env) {
	e.memoryFillers(8)
	now := e.now()
	sure := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "likes hiking trails", Confidence: ptr(0.9)})
	unsure := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "likes hiking trails", Confidence: ptr(0.3)})
	hits := e.searchMemories(tenantA, contextd.MemorySearch{Query: "hiking trails"})
	if got := memoryHitIDs(hits); !slices.Equal(got, []string{sure.ID, unsure.ID}) {
		e.t.Errorf("confidence: %v, want the surer first", got)
	} else {
		e.checkRatios("confidence", hits)
	}
	old := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "lives in lisbon", Timestamp: now.Add(-60 * 24 * time.Hour)})
	fresh := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "lives in lisbon", Timestamp: now})
	hits = e.searchMemories(tenantA, contextd.MemorySearch{Query: "lisbon"})
	if got := memoryHitIDs(hits); !slices.Equal(got, []string{fresh.ID, old.ID}) {
		e.t.Errorf("recency: %v, want the recent first", got)
	} else {
		e.checkRatios("recency", hits)
	}
	// Age is measured with the store's clock: 30 days later both have aged and
	// the ratio follows.
	e.clock.Advance(30 * 24 * time.Hour)
	hits = e.searchMemories(tenantA, contextd.MemorySearch{Query: "lisbon"})
	if got := memoryHitIDs(hits); !slices.Equal(got, []string{fresh.ID, old.ID}) {
		e.t.Errorf("recency 30 days later: %v, want the recent first", got)
	} else {
		e.checkRatios("recency 30 days later", hits)
	}
}

func testMemorySearchNoQuery(e *env) {
	now := e.now()
	specs := []contextd.MemoryCreate{
		{Content: "a", Importance: contextd.ImportanceLow, Confidence: ptr(1.0)},
		{Content: "b", Importance: contextd.ImportanceCritical, Confidence: ptr(0.1)},
		{Content: "c", Importance: contextd.ImportanceHigh, Confidence: ptr(0.7), Timestamp: now.Add(-10 * 24 * time.Hour)},
		{Content: "d", Importance: contextd.ImportanceMedium, Confidence: ptr(0.9), Timestamp: now.Add(-90 * 24 * time.Hour)},
		{Content: "e", Importance: contextd.ImportanceHigh, Confidence: ptr(1.0), Timestamp: now.Add(-1 * time.Hour)},
	}
	e.mustMemories(tenantA, specs...)
	e.clock.Advance(time.Hour)
	hits := e.searchMemories(tenantA, contextd.MemorySearch{})
	if len(hits) != len(specs) {
		e.t.Fatalf("%d hits, want %d", len(hits), len(specs))
	}
	for i, h := range hits {
		want := contextd.MemoryScore(0, false, h.Memory, e.now())
		if !relClose(h.Score, want, 1e-6) {
			e.t.Errorf("%q: score %v, want MemoryScore = %v", h.Memory.Content, h.Score, want)
		}
		if i > 0 && h.Score > hits[i-1].Score {
			e.t.Errorf("scores not descending at %d: %v then %v", i, hits[i-1].Score, h.Score)
		}
	}
}

func testMemorySearchFilters(e *env) {
	f := memoryFixture(e)
	f1, f2, f3, f4, f5 := f[0], f[1], f[2], f[3], f[4]
	// x matches no query word: only a search without a query returns it.
	x := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "no match here", Type: contextd.MemoryFact, SessionID: "s1", UserID: "alice", Tags: []string{"a", "b"}})
	ids := func(ms ...*contextd.Memory) []string { return memoryIDs(ms) }
	cases := []struct {
		name  string
		q     contextd.MemorySearch
		want  []string
		plusX bool // x passes the filters
	}{
		{"none", contextd.MemorySearch{}, ids(f1, f2, f3, f4, f5), true},
		{"types", contextd.MemorySearch{Types: []string{contextd.MemoryFact, contextd.MemoryExample}}, ids(f1, f4), true},
		{"types-one", contextd.MemorySearch{Types: []string{contextd.MemoryInstruction}}, ids(f3), false},
		{"minImportance-high", contextd.MemorySearch{MinImportance: contextd.ImportanceHigh}, ids(f3, f4), false},
		{"minImportance-medium", contextd.MemorySearch{MinImportance: contextd.ImportanceMedium}, ids(f2, f3, f4, f5), true},
		{"minImportance-low", contextd.MemorySearch{MinImportance: contextd.ImportanceLow}, ids(f1, f2, f3, f4, f5), true},
		{"minConfidence", contextd.MemorySearch{MinConfidence: 0.6}, ids(f3, f4), true},
		{"minConfidence-inclusive", contextd.MemorySearch{MinConfidence: 0.8}, ids(f3, f4), true},
		{"tags-all", contextd.MemorySearch{Tags: []string{"a", "b"}}, ids(f2, f4), true},
		{"tag", contextd.MemorySearch{Tags: []string{"c"}}, ids(f4), false},
		{"sessionId", contextd.MemorySearch{SessionID: "s1"}, ids(f1, f2), true},
		{"userId", contextd.MemorySearch{UserID: "alice"}, ids(f1, f3, f5), true},
		{"combined", contextd.MemorySearch{UserID: "bob", MinImportance: contextd.ImportanceHigh, Tags: []string{"c"}}, ids(f4), false},
		{"nothing", contextd.MemorySearch{SessionID: "s3", MinImportance: contextd.ImportanceHigh}, nil, false},
	}
	for _, tc := range cases {
		e.t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			q := tc.q
			q.Query = "otter"
			if got := memoryHitIDs(e.searchMemories(tenantA, q)); !sameSet(got, tc.want) {
				t.Errorf("with a query %+v: %v, want %v", q, got, tc.want)
			}
			q.Query = ""
			want := slices.Clone(tc.want)
			if tc.plusX {
				want = append(want, x.ID)
			}
			if got := memoryHitIDs(e.searchMemories(tenantA, q)); !sameSet(got, want) {
				t.Errorf("without a query %+v: %v, want %v", q, got, want)
			}
		})
	}
}

func testMemorySearchLimit(e *env) {
	var items []contextd.MemoryCreate
	for i := range 15 {
		imp := []string{contextd.ImportanceLow, contextd.ImportanceMedium, contextd.ImportanceHigh}[i%3]
		items = append(items, contextd.MemoryCreate{Content: "badger fact " + itoa(i), Importance: imp, Confidence: ptr(float64(i+1) / 15)})
	}
	e.mustMemories(tenantA, items...)
	full := e.searchMemories(tenantA, contextd.MemorySearch{Query: "badger", Limit: 100})
	if len(full) != 15 {
		e.t.Fatalf("%d hits, want 15", len(full))
	}
	top := e.searchMemories(tenantA, contextd.MemorySearch{Query: "badger", Limit: 5})
	if got := memoryHitIDs(top); !slices.Equal(got, memoryHitIDs(full)[:5]) {
		e.t.Errorf("limit 5: %v, want the top 5 %v", got, memoryHitIDs(full)[:5])
	}
	def := e.searchMemories(tenantA, contextd.MemorySearch{Query: "badger"})
	if len(def) != 10 {
		e.t.Errorf("default limit: %d hits, want 10", len(def))
	}
	for i := 1; i < len(full); i++ {
		if full[i].Score > full[i-1].Score {
			e.t.Errorf("scores not descending at %d", i)
		}
	}
}
