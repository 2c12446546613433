package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd"
)

func searchTests() []test {
	return []test{
		{"search/title-weighted-above-content", testSearchTitleWeight},
		{"search/natural-language-question", testSearchNaturalLanguage},
		{"search/more-matching-words-rank-first", testSearchMoreWords},
		{"search/case-insensitive", testSearchCase},
		{"search/phrase", testSearchPhrase},
		{"search/exclude", testSearchExclude},
		{"search/prefix", testSearchPrefix},
		{"search/only-exclusions", testSearchOnlyExclusions},
		{"search/empty-query", testSearchEmptyQuery},
		{"search/filters", testSearchFilters},
		{"search/total-and-paging", testSearchPaging},
		{"search/facets", testSearchFacets},
		{"search/highlights", testSearchHighlights},
		{"search/hostile-queries", testSearchHostile},
		{"search/semantic-mode", testSearchSemantic},
		{"search/index-follows-writes", testSearchFollowsWrites},
		{"search/result-contexts", testSearchResultContexts},
		{"search/index-stats", testSearchIndexStats},
	}
}

// fillers creates n contexts that share no word with the tests' queries, so
// that every test word is rare in the corpus (BM25 gives words found in most
// documents almost no weight).
func (e *env) fillers(n int) {
	e.t.Helper()
	topics := []string{"gardening tomatoes", "bicycle repair", "quarterly budget", "violin lessons",
		"database vacuum", "ocean tides", "pasta recipes", "mountain hiking", "tax forms", "chess openings",
		"photography lenses", "beekeeping", "volcano trivia", "origami cranes", "jazz chords"}
	var items []contextd.ContextCreate
	for i := range n {
		t := topics[i%len(topics)]
		items = append(items, contextd.ContextCreate{Title: "Filler on " + t, Content: "Some notes on " + t + " number " + itoa(i) + ", nothing else to see."})
	}
	e.mustContexts(tenantA, items...)
}

func testSearchTitleWeight(e *env) {
	e.fillers(8)
	a := e.note(tenantA, "Kubernetes", "Notes from the meeting on Tuesday about the cluster rollout.")
	b := e.note(tenantA, "Meeting notes", "Notes from the meeting on Tuesday about kubernetes rollout.")
	names := titlesOf(a, b)
	got := e.searchIDs(tenantA, "kubernetes")
	if !slices.Equal(got, []string{a.ID, b.ID}) {
		e.t.Errorf("kubernetes: %v, want the title match first, then the content match", names.of(got))
	}
	// Created the other way round, the order stays.
	e.tick()
	c := e.note(tenantA, "Weekly sync", "We talked about terraform and the budget, in passing.")
	d := e.note(tenantA, "Terraform", "We talked about modules and the budget, in passing.")
	names = titlesOf(c, d)
	if got := e.searchIDs(tenantA, "terraform"); !slices.Equal(got, []string{d.ID, c.ID}) {
		e.t.Errorf("terraform: %v, want the title match first", names.of(got))
	}
}

func testSearchNaturalLanguage(e *env) {
	e.fillers(10)
	target := e.note(tenantA, "Chat with Caroline, 8 May",
		"Caroline said she had been researching adoption agencies for months. She finally picked an adoption agency that supports LGBTQ+ families and feels hopeful.")
	distractors := []*contextd.Context{
		e.note(tenantA, "Melanie's painting", "What did Melanie say about her painting? She said the colours were about the sunrise."),
		e.note(tenantA, "Dinner plans", "They say the new place downtown is good. What did you think about it?"),
		e.note(tenantA, "Team offsite", "Jon will say a few words about the budget, then we did the retro."),
		e.note(tenantA, "Weather", "People say it will rain all week, and what about the picnic?"),
		e.note(tenantA, "Sunday run", "Caroline went running in the park on Sunday."),
		e.note(tenantA, "Travel booking", "The travel agency called about the tickets."),
		e.note(tenantA, "Say hello", "Say hello to the new hires. Say it loud, say it proud."),
	}
	names := titlesOf(append(distractors, target)...)
	for _, q := range []string{
		"what did Caroline say about the adoption agency?",
		"What did Caroline say about the adoption agency",
		"caroline adoption agency",
		"Did Caroline talk to an adoption agency?",
	} {
		res := e.search(tenantA, contextd.SearchQuery{Query: q, Limit: 5})
		got := hitIDs(res.Results)
		if len(got) == 0 || got[0] != target.ID {
			e.t.Errorf("%q: results %v, want %q first", q, names.of(got), target.Title)
		}
	}
}

func testSearchMoreWords(e *env) {
	e.fillers(10)
	one := e.note(tenantA, "Note A", "Postgres vacuum settings for the main cluster.")
	two := e.note(tenantA, "Note B", "Postgres replication lag on the main cluster.")
	three := e.note(tenantA, "Note C", "Postgres replication failover rehearsed on the main cluster.")
	names := titlesOf(one, two, three)
	got := e.searchIDs(tenantA, "postgres replication failover")
	if len(got) != 3 || got[0] != three.ID || got[1] == one.ID {
		e.t.Errorf("postgres replication failover: %v, want the doc with all three words first and the one with one word last", names.of(got))
	}
	// A rare word outweighs a common one: "quasar" is in one doc, "cluster" in many.
	rare := e.note(tenantA, "Sky notes", "We saw a quasar through the telescope.")
	common := e.note(tenantA, "Ops notes", "The cluster cluster was busy.")
	names = titlesOf(rare, common, one, two, three)
	got = e.searchIDs(tenantA, "quasar cluster")
	if len(got) == 0 || got[0] != rare.ID {
		e.t.Errorf("quasar cluster: %v, want the rare word's doc first", names.of(got))
	}
}

func testSearchCase(e *env) {
	e.fillers(3)
	a := e.note(tenantA, "PostgreSQL Replication", "Streaming REPLICATION with Zürich replicas.")
	b := e.note(tenantA, "lowercase", "postgresql is here too")
	for _, q := range []string{"postgresql", "POSTGRESQL", "PostgreSQL", "pOsTgReSqL"} {
		if got := e.searchIDs(tenantA, q); !sameSet(got, []string{a.ID, b.ID}) {
			e.t.Errorf("%q: %v, want both", q, got)
		}
	}
	for _, q := range []string{"replication", "Replication", "REPLICATION"} {
		if got := e.searchIDs(tenantA, q); !slices.Equal(got, []string{a.ID}) {
			e.t.Errorf("%q: %v, want %s", q, got, a.ID)
		}
	}
	for _, q := range []string{"zürich", "ZÜRICH", "Zürich"} {
		if got := e.searchIDs(tenantA, q); !slices.Equal(got, []string{a.ID}) {
			e.t.Errorf("%q: %v, want %s", q, got, a.ID)
		}
	}
}

func testSearchPhrase(e *env) {
	e.fillers(3)
	inOrder := e.note(tenantA, "Fox story", "The quick brown fox jumps over the lazy dog.")
	reversed := e.note(tenantA, "Other fox", "A brown quick fox, reversed.")
	apart := e.note(tenantA, "Spread out", "Quick thinking and a brown coat.")
	names := titlesOf(inOrder, reversed, apart)
	cases := []struct {
		q    string
		want []string
	}{
		{`"quick brown"`, []string{inOrder.ID}},
		{`"QUICK Brown fox"`, []string{inOrder.ID}},
		{`"brown quick"`, []string{reversed.ID}},
		{`"brown fox"`, []string{inOrder.ID}},
		{`"quick fox"`, []string{reversed.ID}},
		{`"quick brown" jumps`, []string{inOrder.ID}},
		{`"lazy cat"`, nil},
		{`quick brown`, []string{inOrder.ID, reversed.ID, apart.ID}},
	}
	for _, tc := range cases {
		if got := e.searchIDs(tenantA, tc.q); !sameSet(got, tc.want) {
			e.t.Errorf("%s: %v, want %v", tc.q, names.of(got), names.of(tc.want))
		}
	}
}

func testSearchExclude(e *env) {
	e.fillers(3)
	ab := e.note(tenantA, "Fruit one", "apple banana")
	ac := e.note(tenantA, "Fruit two", "apple cherry")
	abc := e.note(tenantA, "Fruit three", "apple banana cherry pie")
	names := titlesOf(ab, ac, abc)
	cases := []struct {
		q    string
		want []string
	}{
		{"apple -cherry", []string{ab.ID}},
		{"apple -banana", []string{ac.ID}},
		{"apple -CHERRY", []string{ab.ID}},
		{"apple banana -cherry", []string{ab.ID}},
		{`apple -"cherry pie"`, []string{ab.ID, ac.ID}},
		{"apple -banana -cherry", nil},
		{"apple -kiwi", []string{ab.ID, ac.ID, abc.ID}},
		{"-cherry apple", []string{ab.ID}},
	}
	for _, tc := range cases {
		res := e.search(tenantA, contextd.SearchQuery{Query: tc.q, Limit: 100})
		if got := hitIDs(res.Results); !sameSet(got, tc.want) {
			e.t.Errorf("%s: %v, want %v", tc.q, names.of(got), names.of(tc.want))
		}
		if res.Total != len(tc.want) {
			e.t.Errorf("%s: total %d, want %d", tc.q, res.Total, len(tc.want))
		}
	}
}

func testSearchPrefix(e *env) {
	e.fillers(3)
	a := e.note(tenantA, "Replication lag", "Seen on the replica.")
	b := e.note(tenantA, "Nightly", "We replicate nightly.")
	c := e.note(tenantA, "Reptiles", "A report on reptiles.")
	names := titlesOf(a, b, c)
	cases := []struct {
		q    string
		want []string
	}{
		{"replicat*", []string{a.ID, b.ID}},
		{"REPLICAT*", []string{a.ID, b.ID}},
		{"replica*", []string{a.ID, b.ID}},
		{"rept*", []string{c.ID}},
		{"replicat", nil}, // without the star only whole words match
		{"replicat* -nightly", []string{a.ID}},
	}
	for _, tc := range cases {
		if got := e.searchIDs(tenantA, tc.q); !sameSet(got, tc.want) {
			e.t.Errorf("%s: %v, want %v", tc.q, names.of(got), names.of(tc.want))
		}
	}
}

func testSearchOnlyExclusions(e *env) {
	ab := e.note(tenantA, "Fruit one", "apple banana")
	ac := e.note(tenantA, "Fruit two", "apple cherry")
	kiwi := e.note(tenantA, "Fruit three", "kiwi")
	names := titlesOf(ab, ac, kiwi)
	res := e.search(tenantA, contextd.SearchQuery{Query: "-cherry", Limit: 100})
	if got := hitIDs(res.Results); !sameSet(got, []string{ab.ID, kiwi.ID}) || res.Total != 2 {
		e.t.Errorf("-cherry: %v total %d, want Fruit one and Fruit three", names.of(got), res.Total)
	}
	res = e.search(tenantA, contextd.SearchQuery{Query: "-cherry -kiwi", Limit: 100})
	if got := hitIDs(res.Results); !sameSet(got, []string{ab.ID}) {
		e.t.Errorf("-cherry -kiwi: %v", names.of(got))
	}
	res = e.search(tenantA, contextd.SearchQuery{Query: "-apple", Limit: 100, Filters: contextd.SearchFilters{Types: []string{"note"}}})
	if got := hitIDs(res.Results); !sameSet(got, []string{kiwi.ID}) {
		e.t.Errorf("-apple with a filter: %v", names.of(got))
	}
}

func testSearchEmptyQuery(e *env) {
	a := e.mustContext(tenantA, contextd.ContextCreate{Title: "one", Type: "task"})
	e.tick()
	b := e.mustContext(tenantA, contextd.ContextCreate{Title: "two", Type: "task", Tags: []string{"x"}})
	e.tick()
	c := e.mustContext(tenantA, contextd.ContextCreate{Title: "three", Type: "note"})
	names := titlesOf(a, b, c)
	cases := []struct {
		name string
		q    contextd.SearchQuery
		want []string
	}{
		{"no filter", contextd.SearchQuery{}, []string{a.ID, b.ID, c.ID}},
		{"type", contextd.SearchQuery{Filters: contextd.SearchFilters{Types: []string{"task"}}}, []string{a.ID, b.ID}},
		{"tag", contextd.SearchQuery{Filters: contextd.SearchFilters{Tags: []string{"x"}}}, []string{b.ID}},
		{"blank query", contextd.SearchQuery{Query: "   ", Filters: contextd.SearchFilters{Types: []string{"note"}}}, []string{c.ID}},
	}
	for _, tc := range cases {
		tc.q.Limit = 100
		res := e.search(tenantA, tc.q)
		if got := hitIDs(res.Results); !sameSet(got, tc.want) || res.Total != len(tc.want) {
			e.t.Errorf("empty query, %s: %v total %d, want %v", tc.name, names.of(got), res.Total, names.of(tc.want))
		}
	}
}

func testSearchFilters(e *env) {
	t0 := e.now()
	mk := func(at time.Duration, c contextd.ContextCreate) *contextd.Context {
		e.clock.Set(t0.Add(at))
		c.Content += " walrus"
		return e.mustContext(tenantA, c)
	}
	c1 := mk(0, contextd.ContextCreate{Title: "c1", Type: "note", Status: contextd.StatusActive, Tags: []string{"a", "b"}, SessionID: "s1", UserID: "alice",
		Metadata: map[string]any{"team": "core", "priority": 1, "urgent": true}})
	c2 := mk(10*time.Second, contextd.ContextCreate{Title: "c2", Type: "decision", Status: contextd.StatusArchived, Tags: []string{"a"}, SessionID: "s2", UserID: "bob",
		Metadata: map[string]any{"team": "web", "priority": 2, "urgent": false}})
	c3 := mk(20*time.Second, contextd.ContextCreate{Title: "c3", Type: "note", Status: contextd.StatusDraft, Tags: []string{"b", "c"}, UserID: "alice",
		Metadata: map[string]any{"team": "core", "priority": 2}})
	c4 := mk(30*time.Second, contextd.ContextCreate{Title: "c4", Type: "task", Status: contextd.StatusActive, Tags: []string{"a", "b", "c"}, SessionID: "s1", UserID: "bob",
		Metadata: map[string]any{"nested": map[string]any{"team": "core"}}})
	e.clock.Set(t0.Add(time.Hour))
	e.note(tenantA, "unrelated", "no match here") // matches the filters but not the query
	names := titlesOf(c1, c2, c3, c4)
	ids := func(cs ...*contextd.Context) []string { return contextIDs(cs) }
	cases := []struct {
		name string
		f    contextd.SearchFilters
		want []string
	}{
		{"none", contextd.SearchFilters{}, ids(c1, c2, c3, c4)},
		{"type", contextd.SearchFilters{Types: []string{"note"}}, ids(c1, c3)},
		{"types-any", contextd.SearchFilters{Types: []string{"decision", "task"}}, ids(c2, c4)},
		{"status", contextd.SearchFilters{Statuses: []string{contextd.StatusActive}}, ids(c1, c4)},
		{"statuses-any", contextd.SearchFilters{Statuses: []string{contextd.StatusArchived, contextd.StatusDraft}}, ids(c2, c3)},
		{"tag", contextd.SearchFilters{Tags: []string{"c"}}, ids(c3, c4)},
		{"tags-all", contextd.SearchFilters{Tags: []string{"a", "b"}}, ids(c1, c4)},
		{"tags-none-match", contextd.SearchFilters{Tags: []string{"a", "zzz"}}, nil},
		{"sessionId", contextd.SearchFilters{SessionID: "s1"}, ids(c1, c4)},
		{"userId", contextd.SearchFilters{UserID: "bob"}, ids(c2, c4)},
		{"createdAfter", contextd.SearchFilters{CreatedAfter: t0.Add(15 * time.Second)}, ids(c3, c4)},
		{"createdBefore", contextd.SearchFilters{CreatedBefore: t0.Add(15 * time.Second)}, ids(c1, c2)},
		{"created-window", contextd.SearchFilters{CreatedAfter: t0.Add(5 * time.Second), CreatedBefore: t0.Add(25 * time.Second)}, ids(c2, c3)},
		{"metadata-string", contextd.SearchFilters{Metadata: map[string]any{"team": "core"}}, ids(c1, c3)},
		{"metadata-number", contextd.SearchFilters{Metadata: map[string]any{"priority": 2.0}}, ids(c2, c3)},
		{"metadata-int", contextd.SearchFilters{Metadata: map[string]any{"priority": 1}}, ids(c1)},
		{"metadata-bool", contextd.SearchFilters{Metadata: map[string]any{"urgent": true}}, ids(c1)},
		{"metadata-false", contextd.SearchFilters{Metadata: map[string]any{"urgent": false}}, ids(c2)},
		{"metadata-two-keys", contextd.SearchFilters{Metadata: map[string]any{"team": "core", "priority": 2}}, ids(c3)},
		{"metadata-missing-value", contextd.SearchFilters{Metadata: map[string]any{"team": "nobody"}}, nil},
		{"metadata-number-is-not-string", contextd.SearchFilters{Metadata: map[string]any{"priority": "2"}}, nil},
		{"combined", contextd.SearchFilters{Types: []string{"note", "task"}, Tags: []string{"b"}, UserID: "alice", Metadata: map[string]any{"team": "core"}}, ids(c1, c3)},
	}
	for _, tc := range cases {
		e.t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			res := e.search(tenantA, contextd.SearchQuery{Query: "walrus", Filters: tc.f, Limit: 100})
			if got := hitIDs(res.Results); !sameSet(got, tc.want) || res.Total != len(tc.want) {
				t.Errorf("filters %+v: %v total %d, want %v", tc.f, names.of(got), res.Total, names.of(tc.want))
			}
		})
	}
}

// pagingFixture creates 25 matching contexts (and fillers) for paging and facets.
func pagingFixture(e *env) []*contextd.Context {
	e.fillers(5)
	rng := rand.New(rand.NewPCG(1, 2))
	var items []contextd.ContextCreate
	for i := range 25 {
		typ := "note"
		if i%5 == 0 {
			typ = "decision"
		}
		status := contextd.StatusActive
		if i%4 == 0 {
			status = contextd.StatusArchived
		}
		tags := []string{"all"}
		if i%2 == 0 {
			tags = append(tags, "even")
		}
		if i%3 == 0 {
			tags = append(tags, "triple")
		}
		meta := map[string]any{"team": []string{"core", "web", "ops"}[i%3]}
		if i < 5 {
			meta["level"] = 3
		}
		// Vary how often the word appears so the scores differ.
		content := strings.Repeat("lighthouse ", 1+rng.IntN(4)) + strings.Repeat("padding ", rng.IntN(20))
		items = append(items, contextd.ContextCreate{Title: "Doc " + itoa(i), Content: content, Type: typ, Status: status, Tags: tags, Metadata: meta})
	}
	return e.mustContexts(tenantA, items...)
}

func testSearchPaging(e *env) {
	all := pagingFixture(e)
	res := e.search(tenantA, contextd.SearchQuery{Query: "lighthouse", Limit: 10})
	if len(res.Results) != 10 || res.Total != 25 {
		e.t.Fatalf("first page: %d results, total %d; want 10 of 25", len(res.Results), res.Total)
	}
	full := e.search(tenantA, contextd.SearchQuery{Query: "lighthouse", Limit: 100})
	if len(full.Results) != 25 || full.Total != 25 {
		e.t.Fatalf("one page: %d results, total %d; want 25", len(full.Results), full.Total)
	}
	if !sameSet(hitIDs(full.Results), contextIDs(all)) {
		e.t.Errorf("the full result set is not the 25 matching contexts")
	}
	for _, limit := range []int{4, 10} {
		var paged []string
		for off := 0; off < 30; off += limit {
			page := e.search(tenantA, contextd.SearchQuery{Query: "lighthouse", Limit: limit, Offset: off})
			if page.Total != 25 {
				e.t.Errorf("limit %d offset %d: total %d, want 25", limit, off, page.Total)
			}
			want := min(limit, max(0, 25-off))
			if len(page.Results) != want {
				e.t.Errorf("limit %d offset %d: %d results, want %d", limit, off, len(page.Results), want)
			}
			paged = append(paged, hitIDs(page.Results)...)
		}
		if !slices.Equal(paged, hitIDs(full.Results)) {
			e.t.Errorf("limit %d: pages joined differ from the single page\n got  %v\n want %v", limit, paged, hitIDs(full.Results))
		}
	}
	res = e.search(tenantA, contextd.SearchQuery{Query: "lighthouse", Limit: 10, Offset: 500})
	if len(res.Results) != 0 || res.Total != 25 {
		e.t.Errorf("offset past the end: %d results, total %d; want 0 of 25", len(res.Results), res.Total)
	}
	for i := 1; i < len(full.Results); i++ {
		if full.Results[i].Score > full.Results[i-1].Score {
			e.t.Errorf("scores not descending at %d: %v then %v", i, full.Results[i-1].Score, full.Results[i].Score)
			break
		}
	}
}

func facetMap(fs []contextd.FacetCount) map[string]int {
	m := map[string]int{}
	for _, f := range fs {
		m[fmt.Sprint(f.Value)] += f.Count
	}
	return m
}

func testSearchFacets(e *env) {
	all := pagingFixture(e)
	// Expected counts over every match.
	want := map[string]map[string]int{"type": {}, "status": {}, "tags": {}, "metadata.team": {}, "metadata.level": {}}
	for _, c := range all {
		want["type"][c.Type]++
		want["status"][c.Status]++
		for _, t := range c.Tags {
			want["tags"][t]++
		}
		want["metadata.team"][fmt.Sprint(c.Metadata["team"])]++
		if l, ok := c.Metadata["level"]; ok {
			want["metadata.level"][fmt.Sprint(l)]++
		}
	}
	facets := []string{"type", "status", "tags", "metadata.team", "metadata.level"}
	res := e.search(tenantA, contextd.SearchQuery{Query: "lighthouse", Limit: 3, Facets: facets})
	if len(res.Results) != 3 || res.Total != 25 {
		e.t.Errorf("%d results total %d, want 3 of 25", len(res.Results), res.Total)
	}
	for _, f := range facets {
		got, ok := res.Facets[f]
		if !ok {
			e.t.Errorf("facet %q missing from %v", f, res.Facets)
			continue
		}
		if gm := facetMap(got); fmt.Sprint(gm) != fmt.Sprint(want[f]) {
			e.t.Errorf("facet %q: %v, want %v (counts over every match, not the page)", f, gm, want[f])
		}
		for i := 1; i < len(got); i++ {
			if got[i].Count > got[i-1].Count {
				e.t.Errorf("facet %q not most frequent first: %+v", f, got)
				break
			}
		}
	}
	// Facets follow the filters and the query.
	res = e.search(tenantA, contextd.SearchQuery{Query: "lighthouse", Limit: 1, Facets: []string{"type", "tags"},
		Filters: contextd.SearchFilters{Types: []string{"decision"}}})
	if got := facetMap(res.Facets["type"]); fmt.Sprint(got) != fmt.Sprint(map[string]int{"decision": 5}) {
		e.t.Errorf("filtered type facet: %v, want decision:5", got)
	}
	wantTags := map[string]int{}
	for _, c := range all {
		if c.Type == "decision" {
			for _, t := range c.Tags {
				wantTags[t]++
			}
		}
	}
	if got := facetMap(res.Facets["tags"]); fmt.Sprint(got) != fmt.Sprint(wantTags) {
		e.t.Errorf("filtered tags facet: %v, want %v", got, wantTags)
	}
	// Fillers do not match "lighthouse" and do not count; with no query they do.
	res = e.search(tenantA, contextd.SearchQuery{Limit: 1, Facets: []string{"type"}})
	if got := facetMap(res.Facets["type"]); got["note"] != want["type"]["note"]+5 || res.Total != 30 {
		e.t.Errorf("facets of an empty query: %v total %d, want all 30 contexts counted", got, res.Total)
	}
	// No facets asked, none required; a query matching nothing has empty facets.
	res = e.search(tenantA, contextd.SearchQuery{Query: "nonexistentword", Facets: []string{"type"}})
	if res.Total != 0 || len(res.Facets["type"]) != 0 {
		e.t.Errorf("no match: total %d facets %v", res.Total, res.Facets)
	}
}

func testSearchHighlights(e *env) {
	e.fillers(3)
	c := e.note(tenantA, "Deploy notes for Kubernetes", "We moved the billing cluster to Kubernetes last week and it went fine.")
	res := e.search(tenantA, contextd.SearchQuery{Query: "kubernetes", Highlight: true})
	if len(res.Results) != 1 || res.Results[0].Context.ID != c.ID {
		e.t.Fatalf("results %v", hitIDs(res.Results))
	}
	h := res.Results[0].Highlights
	mark := strings.ToLower(contextd.HighlightStart + "kubernetes" + contextd.HighlightEnd)
	for _, field := range []string{"title", "content"} {
		joined := strings.ToLower(strings.Join(h[field], " "))
		if !strings.Contains(joined, mark) {
			e.t.Errorf("highlights[%q] = %q, want the word wrapped as %s", field, h[field], mark)
		}
	}
	if !strings.Contains(strings.Join(h["content"], " "), contextd.HighlightStart+"Kubernetes"+contextd.HighlightEnd) {
		e.t.Errorf("content highlight %q should keep the original case of the word", h["content"])
	}
	// Prefix and phrase terms are highlighted too.
	res = e.search(tenantA, contextd.SearchQuery{Query: `"billing cluster" kube*`, Highlight: true})
	if len(res.Results) != 1 {
		e.t.Fatalf("results %v", hitIDs(res.Results))
	}
	joined := strings.ToLower(strings.Join(res.Results[0].Highlights["content"], " "))
	if !strings.Contains(joined, contextd.HighlightStart+"billing") || !strings.Contains(joined, contextd.HighlightStart+"kubernetes"+contextd.HighlightEnd) {
		e.t.Errorf("phrase and prefix highlights: %q, want the phrase and the prefix's word marked", res.Results[0].Highlights["content"])
	}
	// Without Highlight, no marks.
	res = e.search(tenantA, contextd.SearchQuery{Query: "kubernetes"})
	if len(res.Results) != 1 {
		e.t.Fatalf("results %v", hitIDs(res.Results))
	}
	for _, frags := range res.Results[0].Highlights {
		if strings.Contains(strings.Join(frags, ""), contextd.HighlightStart) {
			e.t.Errorf("highlights without Highlight: %v", res.Results[0].Highlights)
		}
	}
	// The context itself is never altered by highlighting.
	res = e.search(tenantA, contextd.SearchQuery{Query: "kubernetes", Highlight: true})
	if got := res.Results[0].Context; got.Title != c.Title || got.Content != c.Content {
		e.t.Errorf("highlighting changed the context: %q / %q", got.Title, got.Content)
	}
}

func testSearchHostile(e *env) {
	e.fillers(3)
	target := e.note(tenantA, "Normal doc", "plain words about select and tables, NEAR the title")
	junk := make([]byte, 0, contextd.MaxQueryBytes)
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = `abcXYZ019 "'*-+^:()[]{}<>!@#$%&|\/.,;?~` + "`\t\n"
	for len(junk) < contextd.MaxQueryBytes {
		junk = append(junk, alphabet[rng.IntN(len(alphabet))])
	}
	queries := []string{
		`"`, `""`, `"""`, `"unbalanced`, `unbalanced"`, `AND`, `OR`, `NOT`, `AND OR NOT`, `a AND`, `OR b`, `NOT NOT`,
		`*`, `**`, `a*b`, `*a`, `-`, `--`, `-*`, `-"`, `-""`, `(((`, `)))`, `()`, `(a OR b`, `NEAR(a b)`, `NEAR(a b, 2)`,
		`title:x`, `{title content}:x`, `^x`, `^`, `a:b`, `:`, `a + b`, `+`, `[a]`, `{a}`,
		`\`, `\"`, `'`, `%`, `_`, `?`, `~`, `a~2`, `/regex/`, `"a" "b`, `"-a"`,
		"😀", "😀 emoji 🚀", "ünïcödé", "日本語のテキスト", "\u200b", "a\x00b", "\x00", "tab\tseparated\nnewline",
		"'; DROP TABLE contexts; --", `" OR 1=1 --`, `') OR ('1'='1`, `select * from contexts_fts`, `1; DELETE FROM contexts`,
		`MATCH 'a'`, `rank:x`, `bm25(x)`, `$where`, `{"$gt": ""}`, `MATCH (n) DETACH DELETE n`, `\u0000`,
		strings.Repeat("a ", contextd.MaxQueryBytes/2), strings.Repeat(`"`, 100), strings.Repeat("-", 100),
		strings.Repeat("word* ", 200), strings.Repeat("(", 1000), string(junk),
	}
	for i, q := range queries {
		if len(q) > contextd.MaxQueryBytes {
			q = q[:contextd.MaxQueryBytes]
		}
		// Highlighting and facets run the query through every code path.
		res, err := e.searchErr(tenantA, contextd.SearchQuery{Query: q, Highlight: true, Facets: []string{"type"}})
		if err != nil {
			e.t.Errorf("query %d %.40q: %v", i, q, err)
			continue
		}
		if res == nil {
			e.t.Errorf("query %d %.40q: nil result", i, q)
		}
	}
	for _, q := range []string{`"unbalanced`, `NEAR(a b)`, `(((`, `-`, `*`, "'; DROP TABLE contexts; --"} {
		if _, err := e.searchErr(tenantA, contextd.SearchQuery{Query: q}); err != nil {
			e.t.Errorf("query %q without highlights: %v", q, err)
		}
		if _, err := e.searchErr(tenantA, contextd.SearchQuery{Query: q, Filters: contextd.SearchFilters{Types: []string{"note"}, Tags: []string{"x"}}}); err != nil {
			e.t.Errorf("query %q with filters: %v", q, err)
		}
	}
	// Syntax of other engines is read as plain words.
	for _, q := range []string{"NEAR(select tables)", "title:select", "content:tables", "^select", "select AND", "tables OR"} {
		if got := e.searchIDs(tenantA, q); !slices.Contains(got, target.ID) {
			e.t.Errorf("%q: %v, want the doc with the words", q, got)
		}
	}
	// The store still works afterwards.
	if got := e.searchIDs(tenantA, "plain"); !slices.Equal(got, []string{target.ID}) {
		e.t.Errorf("after hostile queries, plain: %v", got)
	}
	e.getContext(tenantA, target.ID)
	if n := len(e.listContexts(tenantA, contextd.ContextFilter{Limit: 100})); n != 4 {
		e.t.Errorf("after hostile queries %d contexts listed, want 4", n)
	}
}

func testSearchSemantic(e *env) {
	e.note(tenantA, "something", "to search")
	// For now no store has semantic search, so semantic and hybrid are
	// EINVALID. The semantic-search issue changes this test: stores will
	// report the capability (Capabilities()), the suite will then expect
	// answers from the stores that have it and EINVALID from the others.
	for _, mode := range []string{contextd.ModeSemantic, contextd.ModeHybrid} {
		_, err := e.searchErr(tenantA, contextd.SearchQuery{Query: "search", Mode: mode})
		e.wantCode(err, contextd.EINVALID, "mode %s", mode)
	}
	if _, err := e.searchErr(tenantA, contextd.SearchQuery{Query: "search", Mode: contextd.ModeFulltext}); err != nil {
		e.t.Errorf("fulltext mode: %v", err)
	}
}

func testSearchFollowsWrites(e *env) {
	e.fillers(3)
	c := e.note(tenantA, "Platypus facts", "The platypus lays eggs.")
	if got := e.searchIDs(tenantA, "platypus"); !slices.Equal(got, []string{c.ID}) {
		e.t.Errorf("after create: %v", got)
	}
	e.tick()
	e.mustUpdateContext(tenantA, c.ID, contextd.ContextUpdate{Title: ptr("Echidna facts")})
	if got := e.searchIDs(tenantA, "echidna"); !slices.Equal(got, []string{c.ID}) {
		e.t.Errorf("new title word after update: %v", got)
	}
	if got := e.searchIDs(tenantA, "platypus"); !slices.Equal(got, []string{c.ID}) {
		e.t.Errorf("content word after a title update: %v", got)
	}
	e.mustUpdateContext(tenantA, c.ID, contextd.ContextUpdate{Content: ptr("It also lays eggs.")})
	if got := e.searchIDs(tenantA, "platypus"); len(got) != 0 {
		e.t.Errorf("old content word after update: %v", got)
	}
	e.mustUpdateContext(tenantA, c.ID, contextd.ContextUpdate{Type: ptr("fact"), Tags: &[]string{"zoo"}, Status: ptr(contextd.StatusArchived)})
	res := e.search(tenantA, contextd.SearchQuery{Query: "echidna", Filters: contextd.SearchFilters{Types: []string{"fact"}, Tags: []string{"zoo"}, Statuses: []string{contextd.StatusArchived}}})
	if got := hitIDs(res.Results); !slices.Equal(got, []string{c.ID}) {
		e.t.Errorf("filters after updating type/tags/status: %v", got)
	}
	if got := res.Results[0].Context; got.Version != 4 || got.Type != "fact" {
		e.t.Errorf("search returns a stale context: version %d type %q", got.Version, got.Type)
	}
	if err := e.s.DeleteContext(e.ctx, tenantA, c.ID); err != nil {
		e.t.Fatal(err)
	}
	if got := e.searchIDs(tenantA, "echidna"); len(got) != 0 {
		e.t.Errorf("after delete: %v", got)
	}
}

func testSearchResultContexts(e *env) {
	e.fillers(3)
	target := e.note(tenantA, "anchor", "")
	c := e.mustContext(tenantA, contextd.ContextCreate{Title: "Gazebo", Content: "gazebo build", Type: "task", Status: contextd.StatusDraft,
		Tags: []string{"garden"}, Metadata: map[string]any{"cost": 120}, SessionID: "s1", UserID: "bob",
		Relationships: []contextd.RelationshipCreate{{Type: contextd.RelRelatesTo, TargetID: target.ID}}})
	res := e.search(tenantA, contextd.SearchQuery{Query: "gazebo"})
	if len(res.Results) != 1 {
		e.t.Fatalf("results %v", hitIDs(res.Results))
	}
	hit := res.Results[0]
	e.checkContext("search hit", hit.Context, c)
	if hit.Score <= 0 {
		e.t.Errorf("score %v, want > 0 for a match", hit.Score)
	}
}

func testSearchIndexStats(e *env) {
	e.fillers(4)
	e.note(tenantA, "one more", "")
	e.mustMemories(tenantA, contextd.MemoryCreate{Content: "m1"}, contextd.MemoryCreate{Content: "m2"})
	past := e.now().Add(-time.Minute)
	e.mustMemory(tenantA, contextd.MemoryCreate{Content: "expired", ExpiresAt: &past})
	e.note(tenantB, "b's", "")
	st, err := e.s.IndexStats(e.ctx, tenantA)
	if err != nil {
		e.t.Fatalf("IndexStats: %v", err)
	}
	if st.Documents != 5 || st.Memories != 2 {
		e.t.Errorf("tenant A: %d documents, %d memories; want 5 and 2 (live memories only)", st.Documents, st.Memories)
	}
	if st.IndexSizeBytes < 0 {
		e.t.Errorf("index size %d", st.IndexSizeBytes)
	}
	st, err = e.s.IndexStats(e.ctx, tenantB)
	if err != nil {
		e.t.Fatal(err)
	}
	if st.Documents != 1 || st.Memories != 0 {
		e.t.Errorf("tenant B: %d documents, %d memories; want 1 and 0", st.Documents, st.Memories)
	}
	st, err = e.s.IndexStats(e.ctx, contextd.Scope{Tenant: "empty-tenant"})
	if err != nil {
		e.t.Fatal(err)
	}
	if st.Documents != 0 || st.Memories != 0 {
		e.t.Errorf("an empty tenant: %+v", st)
	}
	if err := e.s.DeleteContext(e.ctx, tenantB, e.listContexts(tenantB, contextd.ContextFilter{})[0].ID); err != nil {
		e.t.Fatal(err)
	}
	if st, _ = e.s.IndexStats(e.ctx, tenantB); st == nil || st.Documents != 0 {
		e.t.Errorf("after delete, tenant B: %+v", st)
	}
}
