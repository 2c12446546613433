package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contextd/contextd"
)

// The filter columns of the top-k index (topk_columns.go): a filtered
// search must give exactly what the FTS5 path gives (right after a build,
// when the statistics are the same), and exactly what the row-seek path
// gives (after changes, when both use the segment's statistics), for every
// kind of filter and their combinations.

var (
	filterTypes    = []string{"note", "decision", "todo"}
	filterStatuses = []string{contextd.StatusActive, contextd.StatusArchived, contextd.StatusDraft}
	filterTags     = []string{"red", "green", "blue", "grey"}
	filterSessions = []string{"s-1", "s-2", "s-3"}
	filterUsers    = []string{"u1", "u2", "u3"}
	filterProjects = []string{"apollo", "gemini", "mercury"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// filterMeta draws metadata with every kind of value SQL compares: text,
// integers, reals, booleans, null, nested values, and integers beyond 2^53
// (which the columns leave to the row).
func filterMeta(r *rand.Rand) map[string]any {
	m := map[string]any{"project": pick(r, filterProjects), "priority": 1 + r.IntN(3), "reviewed": r.IntN(2) == 0}
	switch r.IntN(8) {
	case 0:
		m["owner"] = nil
	case 1:
		m["ratio"] = 1.5
	case 2:
		m["ratio"] = -0.0
	case 3:
		m["big"] = int64(1<<60) + int64(r.IntN(3))
	case 4:
		m["nested"] = map[string]any{"project": "apollo"}
	case 5:
		m["priority"] = "2" // text, not a number
	}
	return m
}

func filterItem(r *rand.Rand) contextd.ContextCreate {
	it := topkItem(r)
	it.Type = pick(r, filterTypes)
	it.Status = pick(r, filterStatuses)
	it.UserID = pick(r, filterUsers)
	if r.IntN(3) > 0 {
		it.SessionID = pick(r, filterSessions)
	}
	for _, t := range filterTags {
		if r.IntN(3) == 0 {
			it.Tags = append(it.Tags, t)
		}
	}
	it.Metadata = filterMeta(r)
	return it
}

// filterQuery draws filters of one to three kinds, values that exist and
// ones that do not; times are those of the batches (the store's clock).
func filterQuery(r *rand.Rand, times []time.Time) (contextd.SearchFilters, string) {
	var f contextd.SearchFilters
	var scopeUser string
	for range 1 + r.IntN(3) {
		switch r.IntN(11) {
		case 0:
			f.Types = append(f.Types, pick(r, append(filterTypes, "nope")))
		case 1:
			f.Statuses = append(f.Statuses, pick(r, filterStatuses))
		case 2:
			f.Tags = append(f.Tags, pick(r, append(filterTags, "nope")))
		case 3:
			f.SessionID = pick(r, append(filterSessions, "s-none"))
		case 4:
			f.UserID = pick(r, filterUsers)
		case 5:
			scopeUser = pick(r, filterUsers)
		case 6:
			f.CreatedAfter = pick(r, times)
		case 7:
			f.CreatedBefore = pick(r, times).Add(time.Duration(r.IntN(2)))
		case 8, 9, 10:
			if f.Metadata == nil {
				f.Metadata = map[string]any{}
			}
			switch r.IntN(10) {
			case 0:
				f.Metadata["project"] = pick(r, filterProjects)
			case 1:
				f.Metadata["priority"] = float64(1 + r.IntN(3))
			case 2:
				f.Metadata["priority"] = json.Number(fmt.Sprint(1 + r.IntN(3)))
			case 3:
				f.Metadata["priority"] = "2"
			case 4:
				f.Metadata["reviewed"] = r.IntN(2) == 0
			case 5:
				f.Metadata["owner"] = nil
			case 6:
				f.Metadata["ratio"] = pick(r, []any{1.5, 0, 0.0})
			case 7:
				f.Metadata["big"] = int64(1<<60) + int64(r.IntN(3)) // the columns cannot: rows decide
			case 8:
				f.Metadata["nested"] = "apollo"
			case 9:
				f.Metadata["priority"] = 2
			}
		}
	}
	return f, scopeUser
}

// openFilterStore is a store of one tenant alone in its shard, with rows
// created in batches at distinct times.
func openFilterStore(t *testing.T, n int) (*Store, []time.Time, *rand.Rand) {
	t.Helper()
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	s, err := Open(context.Background(), t.TempDir(), Options{TopKMinContexts: 1 << 30,
		Now: func() time.Time { return time.Unix(0, clock.Add(int64(time.Minute))) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := rand.New(rand.NewPCG(11, 12))
	var times []time.Time
	for len(times)*100 < n {
		items := make([]contextd.ContextCreate, 100)
		for i := range items {
			items[i] = filterItem(r)
		}
		cs, err := s.CreateContexts(context.Background(), contextd.Scope{Tenant: "solo"}, items)
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, cs[0].CreatedAt)
	}
	return s, times, r
}

// compareSearch runs q on the index with the columns, and on want (the
// FTS5 path, or the index seeking rows), and wants the same answer.
func compareSearch(t *testing.T, s *Store, sc contextd.Scope, q contextd.SearchQuery, wantPath string) {
	t.Helper()
	ctx := context.Background()
	served, hit := s.topk.served.Load(), s.topk.colsHit.Load()
	got, err := s.SearchContexts(ctx, sc, q)
	if err != nil {
		t.Fatal(err)
	}
	if s.topk.served.Load() != served+1 {
		t.Fatalf("query %q %+v: not served by the top-k index", q.Query, q.Filters)
	}
	wantCols := true // unless a metadata value is one only SQL compares
	for k, v := range q.Filters.Metadata {
		if _, ok := filterAtom(k, v); !ok {
			wantCols = false
		}
	}
	if used := s.topk.colsHit.Load() == hit+1; used != wantCols {
		t.Fatalf("query %q %+v: columns used %v, want %v", q.Query, q.Filters, used, wantCols)
	}
	switch wantPath {
	case "fts5":
		s.topk.off.Store(true)
	case "rows":
		s.topk.colsOff.Store(true)
	}
	want, err := s.SearchContexts(ctx, sc, q)
	s.topk.off.Store(false)
	s.topk.colsOff.Store(false)
	if err != nil {
		t.Fatal(err)
	}
	what := fmt.Sprintf("query %q filters %+v user %q (vs %s)", q.Query, q.Filters, sc.UserID, wantPath)
	sameHits(t, what, got, want)
	for j := range got.Results {
		if fmt.Sprint(got.Results[j].Highlights) != fmt.Sprint(want.Results[j].Highlights) {
			t.Fatalf("%s: highlights %v, want %v", what, got.Results[j].Highlights, want.Results[j].Highlights)
		}
	}
}

// TestTopKFilteredMatchesFTS5: every kind of filter, alone and combined,
// answered with the columns, equals the FTS5 path's answer.
func TestTopKFilteredMatchesFTS5(t *testing.T) {
	s, times, r := openFilterStore(t, 500)
	if err := BuildTopK(s, "solo"); err != nil {
		t.Fatal(err)
	}
	var nonEmpty int
	for i := range 100 {
		f, user := filterQuery(r, times)
		q := contextd.SearchQuery{Query: topkQuery(r), Limit: 1 + r.IntN(20), Offset: r.IntN(3) * 7, Highlight: i%5 == 0, Filters: f}
		compareSearch(t, s, contextd.Scope{Tenant: "solo", UserID: user}, q, "fts5")
		compareSearch(t, s, contextd.Scope{Tenant: "solo", UserID: user}, q, "rows")
		if res, _ := s.SearchContexts(context.Background(), contextd.Scope{Tenant: "solo", UserID: user}, q); res != nil && res.Total > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < 35 {
		t.Fatalf("only %d of 100 filtered queries matched: the test draws too narrow filters", nonEmpty)
	}
}

// TestTopKFilteredChanges: after the build, rows are added, deleted, and
// updated in every filter field (and in their text): the columns' answers
// stay those of the rows, and after a rebuild those of FTS5.
func TestTopKFilteredChanges(t *testing.T) {
	s, times, r := openFilterStore(t, 400)
	ctx := context.Background()
	sc := contextd.Scope{Tenant: "solo"}
	if err := BuildTopK(s, "solo"); err != nil {
		t.Fatal(err)
	}
	all := storeIDs(t, s, `SELECT id FROM contexts ORDER BY pk`)
	if len(all) != 400 {
		t.Fatalf("%d contexts", len(all))
	}
	for i, id := range all[:120] {
		var u contextd.ContextUpdate
		switch i % 8 {
		case 0:
			if err := s.DeleteContext(ctx, sc, id); err != nil {
				t.Fatal(err)
			}
			continue
		case 1:
			v := pick(r, filterTypes)
			u.Type = &v
		case 2:
			v := pick(r, filterStatuses)
			u.Status = &v
		case 3:
			tags := []string{pick(r, filterTags)}
			u.Tags = &tags
		case 4:
			v := pick(r, filterSessions)
			u.SessionID = &v
		case 5:
			m := filterMeta(r)
			u.Metadata = &m
		case 6:
			title := topkText(r, 2)
			u.Title = &title
		case 7:
			v := pick(r, filterTypes)
			content := topkText(r, 20)
			u.Type, u.Content = &v, &content
		}
		if _, err := s.UpdateContext(ctx, sc, id, u); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		items := make([]contextd.ContextCreate, 40)
		for i := range items {
			items[i] = filterItem(r)
		}
		cs, err := s.CreateContexts(ctx, sc, items)
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, cs[0].CreatedAt)
	}
	var dirty int
	if err := s.read(ctx, "test", func(tx *conn) error {
		return tx.QueryRowContext(ctx, `SELECT count(*) FROM topk_dirty`).Scan(&dirty)
	}); err != nil {
		t.Fatal(err)
	}
	if dirty != 120 {
		t.Fatalf("%d dirty rows, want 120 (every update of a filter field marks its row)", dirty)
	}
	for i := range 80 {
		f, user := filterQuery(r, times)
		q := contextd.SearchQuery{Query: topkQuery(r), Limit: 1 + r.IntN(20), Offset: r.IntN(3) * 7, Highlight: i%7 == 0, Filters: f}
		compareSearch(t, s, contextd.Scope{Tenant: "solo", UserID: user}, q, "rows")
	}
	if err := BuildTopK(s, "solo"); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		f, user := filterQuery(r, times)
		q := contextd.SearchQuery{Query: topkQuery(r), Limit: 1 + r.IntN(20), Offset: r.IntN(3) * 7, Filters: f}
		compareSearch(t, s, contextd.Scope{Tenant: "solo", UserID: user}, q, "fts5")
	}
	// The check compares the columns with the rows.
	rep, err := s.Check(ctx, contextd.CheckOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range rep.Items {
		if it.Name == "top-k index filter columns" {
			found = true
			if !it.OK || it.Rows == 0 || it.Indexed != it.Rows {
				t.Fatalf("check: %+v", it)
			}
		}
	}
	if !found {
		t.Fatal("the check has no item for the filter columns")
	}
}

// TestTopKColumnsCheck: the check finds a column that disagrees with its
// row.
func TestTopKColumnsCheck(t *testing.T) {
	s, _, _ := openFilterStore(t, 200)
	ctx := context.Background()
	if err := BuildTopK(s, "solo"); err != nil {
		t.Fatal(err)
	}
	if err := s.warmColumns(ctx, nil); err != nil {
		t.Fatal(err)
	}
	item := func() contextd.CheckItem {
		t.Helper()
		rep, err := s.Check(ctx, contextd.CheckOptions{Full: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range rep.Items {
			if it.Name == "top-k index filter columns" {
				return it
			}
		}
		t.Fatal("no filter columns item")
		return contextd.CheckItem{}
	}
	if it := item(); !it.OK || it.Rows != 200 {
		t.Fatalf("%+v", it)
	}
	s.topk.cache.mu.Lock()
	for _, c := range s.topk.cache.cols {
		c.created[len(c.created)-1]++
	}
	s.topk.cache.mu.Unlock()
	if it := item(); it.OK {
		t.Fatalf("a changed creation time passed the check: %+v", it)
	}
}

// storeIDs returns the first column of query's rows, read on one snapshot.
func storeIDs(t *testing.T, s *Store, query string, args ...any) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	err := s.read(ctx, "test", func(tx *conn) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}
