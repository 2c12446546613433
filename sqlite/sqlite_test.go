package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
	"github.com/contextd/contextd/storetest"
)

func TestConformance(t *testing.T) {
	root := t.TempDir()
	storetest.Run(t, func(t *testing.T, name string, now func() time.Time) contextd.Store {
		t.Helper()
		s, err := sqlite.Open(context.Background(), filepath.Join(root, name), sqlite.Options{Now: now, ReadConns: 4, CacheSizeMB: 8})
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func openAt(t testing.TB, dir string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawDB opens the store's file directly, read-only, to look at what is stored.
func rawDB(t testing.TB, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t testing.TB, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestMigrationsRecorded(t *testing.T) {
	dir := t.TempDir()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	s := openAt(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, dir) // reopening applies nothing twice
	db := rawDB(t, dir)
	rows, err := db.Query(`SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var (
			v       int
			name    string
			applied int64
		)
		if err := rows.Scan(&v, &name, &applied); err != nil {
			t.Fatal(err)
		}
		if applied <= 0 {
			t.Errorf("migration %d: applied_at %d", v, applied)
		}
		got = append(got, fmt.Sprintf("%04d_%s.sql", v, name))
	}
	var want []string
	for _, f := range files {
		want = append(want, filepath.Base(f))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("schema_migrations %v, want %v", got, want)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestPragmas(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	for name, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": "10000"} {
		got, err := sqlite.WriterPragma(s, name)
		if err != nil || got != want {
			t.Errorf("writer %s = %q (%v), want %q", name, got, err, want)
		}
	}
	for name, want := range map[string]string{"journal_mode": "wal", "query_only": "1", "foreign_keys": "1"} {
		got, err := sqlite.ReaderPragma(s, name)
		if err != nil || got != want {
			t.Errorf("reader %s = %q (%v), want %q", name, got, err, want)
		}
	}
	sub := filepath.Join(dir, "new", "store")
	openAt(t, sub)
	if fi, err := os.Stat(sub); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created directory: %v %v, want mode 0700", fi, err)
	}
}

// The full-text indexes hold exactly one entry per row, whatever the writes.
func TestFTSInStep(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openAt(t, dir)
	sc := contextd.Scope{Tenant: "t1"}
	var items []contextd.ContextCreate
	for i := range 50 {
		items = append(items, contextd.ContextCreate{Title: fmt.Sprintf("note %d", i), Content: fmt.Sprintf("apple %d banana", i)})
	}
	cs, err := s.CreateContexts(ctx, sc, items)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cs[:20] {
		title := "cherry title"
		u := contextd.ContextUpdate{Title: &title}
		if i%2 == 0 {
			content := "durian only"
			u.Content = &content
		}
		if _, err := s.UpdateContext(ctx, sc, c.ID, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cs[40:] {
		if err := s.DeleteContext(ctx, sc, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := s.CreateMemories(ctx, sc, []contextd.MemoryCreate{
		{Type: "fact", Content: "likes apples", SessionID: "s1"},
		{Type: "fact", Content: "likes pears", SessionID: "s1"},
		{Type: "fact", Content: "likes plums", SessionID: "s2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	content := "likes grapes"
	if _, err := s.UpdateMemory(ctx, sc, ms[0].ID, contextd.MemoryUpdate{Content: &content}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, sc, "s2"); err != nil {
		t.Fatal(err)
	}

	db := rawDB(t, dir)
	nc, nm := count(t, db, `SELECT count(*) FROM contexts`), count(t, db, `SELECT count(*) FROM memories`)
	if nc != 40 || nm != 2 {
		t.Fatalf("%d contexts, %d memories, want 40 and 2", nc, nm)
	}
	for _, tbl := range []string{"contexts_fts", "contexts_raw"} {
		if n := count(t, db, `SELECT count(*) FROM (`+allShards(t, db, tbl)+`)`); n != nc {
			t.Errorf("%s holds %d rows, contexts %d", tbl, n, nc)
		}
	}
	for _, tbl := range []string{"memories_fts", "memories_raw"} {
		if n := count(t, db, `SELECT count(*) FROM (`+allShards(t, db, tbl)+`)`); n != nm {
			t.Errorf("%s holds %d rows, memories %d", tbl, n, nm)
		}
	}
	// FTS5's own check: the index agrees with the content table. It writes:
	// wait for the store's writer, which merges segments when idle.
	w, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, base := range []string{"contexts_fts", "contexts_raw", "memories_fts", "memories_raw"} {
		for _, part := range strings.Split(allShards(t, db, base), " UNION ALL ") {
			tbl := strings.TrimSuffix(strings.TrimPrefix(part, "SELECT id FROM "), "_docsize")
			if _, err := w.Exec(`INSERT INTO ` + tbl + `(` + tbl + `, rank) VALUES ('integrity-check', 1)`); err != nil {
				t.Errorf("%s integrity-check: %v", tbl, err)
			}
		}
	}
	// And searches see the new words, not the old ones.
	hits := func(q string) int {
		res, err := s.SearchContexts(ctx, sc, contextd.SearchQuery{Query: q, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return res.Total
	}
	for q, want := range map[string]int{"cherry": 20, "durian": 10, "apple": 30, "note": 20, "banana": 30} {
		if got := hits(q); got != want {
			t.Errorf("search %q: %d, want %d", q, got, want)
		}
	}
	mh, err := s.SearchMemories(ctx, sc, contextd.MemorySearch{Query: "apples grapes plums"})
	if err != nil {
		t.Fatal(err)
	}
	if len(mh) != 1 || mh[0].Memory.ID != ms[0].ID {
		t.Errorf("memory search: %d hits", len(mh))
	}
}

func TestCloseTwiceAndAfterClose(t *testing.T) {
	s := openAt(t, t.TempDir())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetContext(context.Background(), contextd.Scope{Tenant: "t"}, "x")
	if code := contextd.ErrorCode(err); code != contextd.EUNAVAILABLE {
		t.Errorf("get after close: %v, want %s", err, contextd.EUNAVAILABLE)
	}
	if err := s.Ping(context.Background()); contextd.ErrorCode(err) != contextd.EUNAVAILABLE {
		t.Errorf("ping after close: %v", err)
	}
}

// A store shared by two processes (the CLI beside a server) is the same data.
func TestTwoStoresOneDirectory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := openAt(t, dir), openAt(t, dir)
	sc := contextd.Scope{Tenant: "t"}
	k := &contextd.APIKey{ID: "k1", Tenant: "t", Role: contextd.RoleAdmin, Name: "n", CreatedAt: time.Now()}
	if err := b.CreateAPIKey(ctx, k, "hash1"); err != nil {
		t.Fatal(err)
	}
	if n, err := a.CountAPIKeys(ctx); err != nil || n != 1 {
		t.Fatalf("count on the other store: %d %v", n, err)
	}
	c, err := a.CreateContexts(ctx, sc, []contextd.ContextCreate{{Title: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetContext(ctx, sc, c[0].ID); err != nil {
		t.Fatal(err)
	}
}

func TestCancelledContext(t *testing.T) {
	s := openAt(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.CreateContexts(ctx, contextd.Scope{Tenant: "t"}, []contextd.ContextCreate{{Title: "x"}})
	if err == nil {
		t.Fatal("create with a cancelled context succeeded")
	}
	res, _, err := s.FindContexts(context.Background(), contextd.Scope{Tenant: "t"}, contextd.ContextFilter{})
	if err != nil || len(res) != 0 {
		t.Fatalf("after a cancelled create: %d contexts, %v", len(res), err)
	}
}

// Concurrent writes share commits; a failing one must fail alone, and every
// other must be stored exactly once.
func TestGroupCommitFailuresStayAlone(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, t.TempDir())
	sc := contextd.Scope{Tenant: "t"}
	if _, err := s.CreateContexts(ctx, sc, []contextd.ContextCreate{{ID: "taken", Title: "first"}}); err != nil {
		t.Fatal(err)
	}
	const n = 200
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := contextd.ContextCreate{ID: fmt.Sprintf("c%03d", i), Title: "ok", Content: "group commit"}
			if i%3 == 0 {
				// Fails after writing its first item: the batch must undo it.
				_, errs[i] = s.CreateContexts(ctx, sc, []contextd.ContextCreate{c, {ID: "taken", Title: "dup"}})
				return
			}
			_, errs[i] = s.CreateContexts(ctx, sc, []contextd.ContextCreate{c})
		}()
	}
	wg.Wait()
	batches, retries := sqlite.WriterStats(s)
	t.Logf("%d jobs in %d transactions, %d retries", n+1, batches, retries)
	for i, err := range errs {
		want := ""
		if i%3 == 0 {
			want = contextd.ECONFLICT
		}
		if got := contextd.ErrorCode(err); got != want {
			t.Errorf("job %d: %v, want code %q", i, err, want)
		}
		_, err := s.GetContext(ctx, sc, fmt.Sprintf("c%03d", i))
		if got, want := contextd.ErrorCode(err), map[bool]string{true: contextd.ENOTFOUND, false: ""}[i%3 == 0]; got != want {
			t.Errorf("context %d after the batch: %v, want code %q", i, err, want)
		}
	}
	res, err := s.SearchContexts(ctx, sc, contextd.SearchQuery{Query: "group commit", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := n - (n+2)/3; res.Total != want {
		t.Errorf("search finds %d, want %d", res.Total, want)
	}
}
