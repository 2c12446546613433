package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
)

// fill stores n contexts and n memories in tenant t.
func fill(t testing.TB, s *sqlite.Store, n int) {
	t.Helper()
	ctx := context.Background()
	sc := contextd.Scope{Tenant: "t"}
	var cs []contextd.ContextCreate
	var ms []contextd.MemoryCreate
	for i := range n {
		c := contextd.ContextCreate{Title: fmt.Sprintf("title %d", i), Content: fmt.Sprintf("alpha beta %d gamma", i), UserID: "u"}
		if err := c.Normalize("body"); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
		m := contextd.MemoryCreate{Type: "fact", Content: fmt.Sprintf("remember %d", i), SessionID: "s1", UserID: "u",
			Importance: "medium", Source: "user"}
		if err := m.Normalize("body", time.Now()); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if _, err := s.CreateContexts(ctx, sc, cs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateMemories(ctx, sc, ms); err != nil {
		t.Fatal(err)
	}
}

// rwDB opens the store's file directly for writing, to damage it.
func rwDB(t testing.TB, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func item(rep *contextd.CheckReport, name string) *contextd.CheckItem {
	for i := range rep.Items {
		if rep.Items[i].Name == name {
			return &rep.Items[i]
		}
	}
	return nil
}

// TestCheckTextStats: a tenant's recorded full-text counts that differ from
// its index fail the check, and `contextd reindex` (RebuildSearchIndex)
// counts them again.
func TestCheckTextStats(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openAt(t, dir)
	fill(t, s, 50)
	rep, err := s.Check(ctx, contextd.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if it := item(rep, "tenant text statistics"); !rep.OK || it == nil || !it.OK || it.Rows != 100 || it.Indexed != 100 { // 50 contexts, 50 memories
		t.Fatalf("healthy store: %+v", it)
	}
	if _, err := rwDB(t, dir).Exec(`UPDATE tenant_partitions SET ctx_docs = ctx_docs + 3, ctx_tokens = ctx_tokens - 7`); err != nil {
		t.Fatal(err)
	}
	rep, err = s.Check(ctx, contextd.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if it := item(rep, "tenant text statistics"); rep.OK || it == nil || it.OK || it.Indexed != 103 ||
		!strings.Contains(it.Detail, "53 contexts") || !strings.Contains(it.Detail, "contextd reindex") {
		t.Fatalf("wrong counts not reported: %+v", it)
	}
	if _, err := s.RebuildSearchIndex(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err = s.Check(ctx, contextd.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if it := item(rep, "tenant text statistics"); !rep.OK || it == nil || !it.OK || it.Indexed != 100 {
		t.Fatalf("after reindex: %+v", it)
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openAt(t, dir)
	fill(t, s, 50)

	for _, full := range []bool{false, true} {
		rep, err := s.Check(ctx, contextd.CheckOptions{Full: full})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK || rep.Full != full {
			t.Fatalf("full=%v: healthy store reported %+v", full, rep)
		}
		want := 14 // 8 full-text, 1 tenant text statistics, 3 change log, 2 vectors
		if full {
			want = 19
		}
		if len(rep.Items) != want {
			t.Errorf("full=%v: %d items, want %d: %+v", full, len(rep.Items), want, rep.Items)
		}
		if it := item(rep, "contexts_fts rows"); it == nil || it.Rows != 50 || it.Indexed != 50 {
			t.Errorf("contexts_fts rows: %+v", it)
		}
		if len(rep.Notes) != 0 {
			t.Errorf("the store checks everything it keeps, yet notes %v", rep.Notes)
		}
	}

	// A row written behind the store's back is missing from the indexes,
	// and a row changed behind its back no longer matches them.
	db := rwDB(t, dir)
	if _, err := db.Exec(`INSERT INTO contexts (tenant, id, title, content, type, status, user_id, created_at, updated_at)
		VALUES ('t', 'ghost', 'unindexed', 'zebra', 'note', 'active', 'u', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Check(ctx, contextd.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	it := item(rep, "contexts_fts rows")
	if rep.OK || it == nil || it.OK || it.Rows != 51 || it.Indexed != 50 || !strings.Contains(it.Detail, "1 rows of contexts are not indexed") {
		t.Fatalf("missing row not reported: %+v", rep)
	}
	if it := item(rep, "memories_fts rows"); it == nil || !it.OK {
		t.Errorf("memories index is intact: %+v", it)
	}
	if _, err := db.Exec(`DELETE FROM contexts WHERE id = 'ghost'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE memories SET content = 'rewritten behind the index' WHERE pk = (SELECT min(pk) FROM memories)`); err != nil {
		t.Fatal(err)
	}
	quick, err := s.Check(ctx, contextd.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !quick.OK {
		t.Errorf("the quick check only counts rows: %+v", quick)
	}
	full, err := s.Check(ctx, contextd.CheckOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if it := item(full, "memories_fts content"); full.OK || it == nil || it.OK {
		t.Fatalf("changed row not reported by the full check: %+v", full)
	}
	if it := item(full, "contexts_fts content"); it == nil || !it.OK {
		t.Errorf("contexts index is intact: %+v", it)
	}
	// The writer still works after a failed content check.
	fill(t, s, 1)
}

func TestStats(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, t.TempDir())
	fill(t, s, 20)
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Kind != "sqlite" || st.SizeBytes <= 0 || st.IndexSizeBytes <= 0 || st.IndexSizeBytes > st.SizeBytes ||
		st.IndexMeasuredAt.IsZero() || st.ReadConns <= 0 || st.ReadConnsInUse != 0 || st.WriteQueueCapacity <= 0 ||
		st.WriteTransactions < 2 {
		t.Fatalf("stats: %+v", st)
	}
	s.Close()
	if _, err := s.Stats(ctx); contextd.ErrorCode(err) != contextd.EUNAVAILABLE {
		t.Errorf("stats of a closed store: %v", err)
	}
}
