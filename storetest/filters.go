package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/contextd/contextd"
)

func filterTests() []test {
	return []test{
		{"contexts/filters", testContextFilters},
		{"contexts/pagination", testContextPagination},
		{"contexts/pagination-filtered", testContextPaginationFiltered},
		{"contexts/bad-cursor", testContextBadCursor},
	}
}

func testContextFilters(e *env) {
	t0 := e.now()
	mk := func(at time.Duration, c contextd.ContextCreate) *contextd.Context {
		e.clock.Set(t0.Add(at))
		return e.mustContext(tenantA, c)
	}
	c1 := mk(0, contextd.ContextCreate{Title: "c1", Type: "note", Status: contextd.StatusActive, Tags: []string{"a", "b"}, SessionID: "s1", UserID: "alice"})
	c2 := mk(10*time.Second, contextd.ContextCreate{Title: "c2", Type: "decision", Status: contextd.StatusArchived, Tags: []string{"a"}, SessionID: "s2", UserID: "bob"})
	c3 := mk(20*time.Second, contextd.ContextCreate{Title: "c3", Type: "note", Status: contextd.StatusDraft, Tags: []string{"b", "c"}, UserID: "alice"})
	c4 := mk(30*time.Second, contextd.ContextCreate{Title: "c4", Type: "decision", Status: contextd.StatusActive, Tags: []string{"a", "b", "c"}, SessionID: "s1", UserID: "bob"})
	c5 := mk(40*time.Second, contextd.ContextCreate{Title: "c5", Type: "task", Status: contextd.StatusActive, SessionID: "s2", UserID: "carol"})
	e.clock.Set(t0.Add(time.Hour))
	names := titlesOf(c1, c2, c3, c4, c5)

	cases := []struct {
		name string
		f    contextd.ContextFilter
		want []*contextd.Context // newest first
	}{
		{"none", contextd.ContextFilter{}, []*contextd.Context{c5, c4, c3, c2, c1}},
		{"type", contextd.ContextFilter{Type: "decision"}, []*contextd.Context{c4, c2}},
		{"type-unused", contextd.ContextFilter{Type: "nothing"}, nil},
		{"status", contextd.ContextFilter{Status: contextd.StatusActive}, []*contextd.Context{c5, c4, c1}},
		{"status-draft", contextd.ContextFilter{Status: contextd.StatusDraft}, []*contextd.Context{c3}},
		{"tag", contextd.ContextFilter{Tags: []string{"a"}}, []*contextd.Context{c4, c2, c1}},
		{"tags-all-must-match", contextd.ContextFilter{Tags: []string{"a", "b"}}, []*contextd.Context{c4, c1}},
		{"tags-three", contextd.ContextFilter{Tags: []string{"c", "a", "b"}}, []*contextd.Context{c4}},
		{"tag-unused", contextd.ContextFilter{Tags: []string{"a", "zzz"}}, nil},
		{"sessionId", contextd.ContextFilter{SessionID: "s1"}, []*contextd.Context{c4, c1}},
		{"userId", contextd.ContextFilter{UserID: "alice"}, []*contextd.Context{c3, c1}},
		{"createdAfter", contextd.ContextFilter{CreatedAfter: t0.Add(15 * time.Second)}, []*contextd.Context{c5, c4, c3}},
		{"createdBefore", contextd.ContextFilter{CreatedBefore: t0.Add(25 * time.Second)}, []*contextd.Context{c3, c2, c1}},
		{"created-window", contextd.ContextFilter{CreatedAfter: t0.Add(15 * time.Second), CreatedBefore: t0.Add(25 * time.Second)}, []*contextd.Context{c3}},
		{"combined", contextd.ContextFilter{Type: "note", Tags: []string{"b"}, UserID: "alice"}, []*contextd.Context{c3, c1}},
		{"combined-status-session", contextd.ContextFilter{Status: contextd.StatusActive, SessionID: "s2"}, []*contextd.Context{c5}},
		{"ascending", contextd.ContextFilter{Type: "decision", Ascending: true}, []*contextd.Context{c2, c4}},
	}
	for _, tc := range cases {
		e.t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			got := contextIDs(e.listContexts(tenantA, tc.f))
			want := contextIDs(tc.want)
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("filter %+v:\n got  %v\n want %v", tc.f, names.of(got), names.of(want))
			}
		})
	}
}

// paginationFixture creates n contexts one second apart, then a group of ties
// created at one instant, and returns them oldest first.
func paginationFixture(e *env, n, ties int, typ func(i int) string) []*contextd.Context {
	var all []*contextd.Context
	for i := range n {
		e.tick()
		all = append(all, e.mustContext(tenantA, contextd.ContextCreate{Title: "p" + itoa(i), Type: typ(i)}))
	}
	e.tick()
	for i := range ties {
		all = append(all, e.mustContext(tenantA, contextd.ContextCreate{Title: "tie" + itoa(i), Type: typ(n + i)}))
	}
	e.tick()
	return all
}

// checkOrder checks that got holds exactly the ids of want, each once, in
// creation order (newest first unless asc); contexts created at the same
// instant may come in any order among themselves.
func (e *env) checkContextOrder(what string, got []*contextd.Context, want []*contextd.Context, asc bool) {
	e.t.Helper()
	gotIDs := contextIDs(got)
	e.unique(what, gotIDs)
	if !sameSet(gotIDs, contextIDs(want)) {
		e.t.Errorf("%s: visited %d contexts %v, want the %d created", what, len(got), gotIDs, len(want))
		return
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1].CreatedAt, got[i].CreatedAt
		if (!asc && a.Before(b)) || (asc && a.After(b)) {
			e.t.Errorf("%s: item %d (%s, %v) and %d (%s, %v) out of order (ascending=%v)",
				what, i-1, got[i-1].Title, a, i, got[i].Title, b, asc)
			return
		}
	}
}

func testContextPagination(e *env) {
	all := paginationFixture(e, 13, 4, func(int) string { return "note" })
	newest := slices.Clone(all)
	slices.Reverse(newest)
	for _, limit := range []int{1, 2, 5, 16, 17, 18, 100} {
		for _, asc := range []bool{false, true} {
			got := e.listContexts(tenantA, contextd.ContextFilter{Limit: limit, Ascending: asc})
			e.checkContextOrder("limit "+itoa(limit)+map[bool]string{false: " desc", true: " asc"}[asc], got, all, asc)
		}
	}
	// The first 13 have distinct times: their order is exact.
	page, next, err := e.findContexts(tenantA, contextd.ContextFilter{Limit: 5, Ascending: true})
	if err != nil {
		e.t.Fatal(err)
	}
	if !slices.Equal(contextIDs(page), contextIDs(all[:5])) {
		e.t.Errorf("first ascending page: %v, want %v", titlesOf(all...).of(contextIDs(page)), titlesOf(all...).of(contextIDs(all[:5])))
	}
	if next == "" {
		e.t.Errorf("first page of 5 out of 17 has no next cursor")
	}
	page, _, err = e.findContexts(tenantA, contextd.ContextFilter{Limit: 3})
	if err != nil {
		e.t.Fatal(err)
	}
	if page[0].CreatedAt.Before(newest[0].CreatedAt) {
		e.t.Errorf("the first page newest first starts with %s, not one of the newest", page[0].Title)
	}
	// The default limit is DefaultListLimit.
	more := paginationFixture(e, 0, contextd.DefaultListLimit+1-len(all), func(int) string { return "note" })
	page, next, err = e.findContexts(tenantA, contextd.ContextFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(page) != contextd.DefaultListLimit || next == "" {
		e.t.Errorf("default page of %d contexts: %d items, next %q; want %d and a cursor", len(all)+len(more), len(page), next, contextd.DefaultListLimit)
	}
	// The last page has no cursor.
	_, next, err = e.findContexts(tenantA, contextd.ContextFilter{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	if next != "" {
		e.t.Errorf("a page holding everything has next cursor %q", next)
	}
}

func testContextPaginationFiltered(e *env) {
	all := paginationFixture(e, 11, 3, func(i int) string {
		if i%3 == 0 {
			return "task"
		}
		return "note"
	})
	var tasks []*contextd.Context
	for _, c := range all {
		if c.Type == "task" {
			tasks = append(tasks, c)
		}
	}
	for _, limit := range []int{1, 3} {
		for _, asc := range []bool{false, true} {
			got := e.listContexts(tenantA, contextd.ContextFilter{Type: "task", Limit: limit, Ascending: asc})
			e.checkContextOrder("tasks limit "+itoa(limit), got, tasks, asc)
		}
	}
}

func testContextBadCursor(e *env) {
	paginationFixture(e, 3, 0, func(int) string { return "note" })
	for _, cursor := range []string{"not a cursor!", "%%%", "\x00\x01"} {
		_, _, err := e.findContexts(tenantA, contextd.ContextFilter{Cursor: cursor})
		e.wantCode(err, contextd.EINVALID, "FindContexts with cursor %q", cursor)
	}
}
