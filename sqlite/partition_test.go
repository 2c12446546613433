package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
)

// TestTenantPartitionMigration builds a store as schema version 1 left it
// (row keys in one sequence for every tenant), opens it, and checks that
// migration 0002 moved every row into its tenant's key range with its tags and
// full-text entries, and that reads, searches and new writes work on it.
func TestTenantPartitionMigration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	v1, err := os.ReadFile(filepath.Join("migrations", "0001_init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(string(v1))
	exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`)
	exec(`INSERT INTO schema_migrations VALUES (1, 'init', 0)`)
	// Interleaved tenants, as version 1 wrote them: pk 1..6.
	rows := []struct{ tenant, id, title, content, tag string }{
		{"acme", "c1", "Raft consensus", "leader election and log replication", "db"},
		{"zeta", "c2", "Raft notes", "zeta's own replication notes", "db"},
		{"acme", "c3", "Gossip", "epidemic protocols spread membership", "net"},
		{"zeta", "c4", "Paxos", "single decree paxos", ""},
		{"acme", "c5", "Vector clocks", "causality tracking replication", "db"},
	}
	for i, r := range rows {
		pk := int64(i + 1)
		exec(`INSERT INTO contexts (pk, tenant, id, title, content, type, status, user_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, 'note', 'active', 'u', ?, ?)`, pk, r.tenant, r.id, r.title, r.content, pk, pk)
		exec(`INSERT INTO contexts_fts (rowid, title, content) VALUES (?, ?, ?)`, pk, r.title, r.content)
		exec(`INSERT INTO contexts_raw (rowid, title, content) VALUES (?, ?, ?)`, pk, r.title, r.content)
		if r.tag != "" {
			exec(`UPDATE contexts SET tags = json_array(?) WHERE pk = ?`, r.tag, pk)
			exec(`INSERT INTO context_tags (context_pk, tenant, tag, created_at) VALUES (?, ?, ?, ?)`, pk, r.tenant, r.tag, pk)
		}
	}
	exec(`INSERT INTO memories (pk, tenant, id, type, content, importance, importance_rank, confidence, timestamp, source,
		session_id, user_id, created_at, updated_at) VALUES (6, 'zeta', 'm1', 'fact', 'prefers raft over paxos', 'high', 3, 1, 6, 'user', 's', 'u', 6, 6)`)
	exec(`INSERT INTO memories_fts (rowid, content) VALUES (6, 'prefers raft over paxos')`)
	exec(`INSERT INTO memories_raw (rowid, content) VALUES (6, 'prefers raft over paxos')`)
	exec(`INSERT INTO sessions (tenant, id, user_id, created_at, updated_at, last_active_at) VALUES ('zeta', 's', 'u', 6, 6, 6)`)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openAt(t, dir)
	raw := rawDB(t, dir)
	// Every row sits in its tenant's range; tags and index entries followed.
	for _, tc := range []struct {
		q    string
		want int
	}{
		{`SELECT count(*) FROM contexts c JOIN tenant_partitions p ON p.name = c.tenant WHERE c.pk >> 40 = p.num`, 5},
		{`SELECT count(*) FROM context_tags t JOIN contexts c ON c.pk = t.context_pk`, 4},
		{`SELECT count(*) FROM (` + allShards(t, raw, "contexts_fts") + `) d JOIN contexts c ON c.pk = d.id`, 5},
		{`SELECT count(*) FROM (` + allShards(t, raw, "contexts_raw") + `) d JOIN contexts c ON c.pk = d.id`, 5},
		{`SELECT count(*) FROM (` + allShards(t, raw, "memories_fts") + `) d JOIN memories m ON m.pk = d.id`, 1},
	} {
		if n := count(t, raw, tc.q); n != tc.want {
			t.Errorf("%s = %d, want %d", tc.q, n, tc.want)
		}
	}
	if n := count(t, raw, `SELECT count(*) FROM memories m JOIN tenant_partitions p ON p.name = m.tenant WHERE m.pk >> 40 = p.num`); n != 1 {
		t.Errorf("memories in range: %d", n)
	}

	acme := contextd.Scope{Tenant: "acme"}
	zeta := contextd.Scope{Tenant: "zeta"}
	res, err := s.SearchContexts(ctx, acme, contextd.SearchQuery{Query: "replication", Facets: []string{"tags"}, Highlight: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 2 || len(res.Results) != 2 {
		t.Fatalf("acme replication: total %d, %d results", res.Total, len(res.Results))
	}
	for _, h := range res.Results {
		if h.Context.ID != "c1" && h.Context.ID != "c5" {
			t.Errorf("acme found %s", h.Context.ID)
		}
		if len(h.Highlights["content"]) == 0 {
			t.Errorf("%s: no highlight", h.Context.ID)
		}
	}
	if got := res.Facets["tags"]; len(got) != 1 || got[0].Value != "db" || got[0].Count != 2 {
		t.Errorf("tags facet %+v", got)
	}
	res, err = s.SearchContexts(ctx, zeta, contextd.SearchQuery{Query: "raft -paxos"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 1 || res.Results[0].Context.ID != "c2" {
		t.Fatalf("zeta raft -paxos: %+v", res)
	}
	mh, err := s.SearchMemories(ctx, zeta, contextd.MemorySearch{Query: "raft"})
	if err != nil || len(mh) != 1 || mh[0].Memory.ID != "m1" {
		t.Fatalf("zeta memory search: %v %+v", err, mh)
	}
	if c, err := s.GetContext(ctx, acme, "c3"); err != nil || c.Tags[0] != "net" {
		t.Fatalf("get c3: %v %+v", err, c)
	}
	// New rows continue each tenant's range; a new tenant gets a new one.
	for _, sc := range []contextd.Scope{acme, {Tenant: "new"}} {
		if _, err := s.CreateContexts(ctx, sc, []contextd.ContextCreate{{Title: "fresh replication row", Content: "more replication", UserID: "u"}}); err != nil {
			t.Fatal(err)
		}
	}
	res, err = s.SearchContexts(ctx, acme, contextd.SearchQuery{Query: "replication"})
	if err != nil || res.Total != 3 {
		t.Fatalf("acme after write: %v total %d", err, res.Total)
	}
	if n := count(t, raw, `SELECT count(*) FROM contexts c JOIN tenant_partitions p ON p.name = c.tenant WHERE c.pk >> 40 = p.num`); n != 7 {
		t.Errorf("rows in their range after writes: %d, want 7", n)
	}
	if n := count(t, raw, `SELECT count(*) FROM tenant_partitions`); n != 3 {
		t.Errorf("partitions: %d, want 3", n)
	}
	rep, err := s.Check(ctx, contextd.CheckOptions{Full: true})
	if err != nil || !rep.OK {
		t.Fatalf("check after migration: %v %+v", err, rep)
	}
}

// TestRowKeysNeverReused checks that a deleted row's key is not handed out
// again: a later row never inherits anything keyed by an old one.
func TestRowKeysNeverReused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openAt(t, dir)
	sc := contextd.Scope{Tenant: "t"}
	a, err := s.CreateContexts(ctx, sc, []contextd.ContextCreate{{Title: "a", UserID: "u"}, {Title: "b", UserID: "u"}})
	if err != nil {
		t.Fatal(err)
	}
	raw := rawDB(t, dir)
	var top int64
	if err := raw.QueryRow(`SELECT max(pk) FROM contexts`).Scan(&top); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteContext(ctx, sc, a[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateContexts(ctx, sc, []contextd.ContextCreate{{Title: "c", UserID: "u"}}); err != nil {
		t.Fatal(err)
	}
	var next int64
	if err := raw.QueryRow(`SELECT max(pk) FROM contexts`).Scan(&next); err != nil {
		t.Fatal(err)
	}
	if next <= top {
		t.Fatalf("new row key %d, deleted row had %d", next, top)
	}
}

// TestWriteJobsCounted checks the group-commit counters: every write is one
// job, and concurrent writes share transactions.
func TestWriteJobsCounted(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, t.TempDir())
	before, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 25
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func() {
			for i := 0; i < each; i++ {
				if _, err := s.CreateContexts(ctx, contextd.Scope{Tenant: "t"}, []contextd.ContextCreate{{Title: "x", UserID: "u"}}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < writers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	after, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	jobs, txs := after.WriteJobs-before.WriteJobs, after.WriteTransactions-before.WriteTransactions
	if jobs != writers*each {
		t.Errorf("write jobs %d, want %d", jobs, writers*each)
	}
	if txs < 1 || txs > jobs {
		t.Errorf("write transactions %d for %d jobs", txs, jobs)
	}
	t.Logf("%d writes in %d transactions", jobs, txs)
}

// allShards is a query of the docsize rows (the indexed rowids) of every
// shard of a full-text index that the store has made.
func allShards(t testing.TB, db *sql.DB, index string) string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB ? AND name NOT GLOB ?`, index+"_[0-9]*", index+"_*_*")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf("SELECT id FROM %s_docsize", name))
	}
	if len(parts) == 0 {
		t.Fatalf("no shard of %s", index)
	}
	return strings.Join(parts, " UNION ALL ")
}
