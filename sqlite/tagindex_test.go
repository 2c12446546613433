package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
)

// Migration 0008 drops the indexes context_tags_tag and memory_tags_tag,
// which no query read. The plans of the statements that read the tag tables
// (as the store writes them: lists and searches filtered by tag, the tags
// facet, the top-k filter columns, tag rewrites and cascades) are the same
// with the indexes created back.
func TestTagIndexesDropped(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	sc := contextd.Scope{Tenant: "t"}
	ctx := context.Background()
	seedT(t, s, sc, 600)
	g := newTextGen(3)
	ms := make([]contextd.MemoryCreate, 300)
	for j := range ms {
		ms[j] = contextd.MemoryCreate{Content: g.words(20), SessionID: "s" + strconv.Itoa(j%20), Tags: []string{"a" + strconv.Itoa(j%7)}}
	}
	if _, err := s.CreateMemories(ctx, sc, ms); err != nil {
		t.Fatal(err)
	}
	s.Close()

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name IN ('context_tags_tag', 'memory_tags_tag')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d of the dropped tag indexes are in the store", n)
	}
	const tagged = `EXISTS (SELECT 1 FROM context_tags t WHERE t.context_pk = c.pk AND t.tag = 'tag3')`
	queries := []string{
		// FindContexts with a tag, alone and with another filter.
		`SELECT c.pk FROM contexts c WHERE c.tenant = 't' AND ` + tagged + ` ORDER BY c.created_at DESC, c.id DESC LIMIT 21`,
		`SELECT c.pk FROM contexts c WHERE c.tenant = 't' AND c.user_id = 'user1' AND ` + tagged + ` ORDER BY c.created_at DESC, c.id DESC LIMIT 21`,
		`SELECT c.pk FROM contexts c WHERE c.tenant = 't' AND c.type = 'note' AND ` + tagged + ` AND EXISTS (SELECT 1 FROM context_tags t WHERE t.context_pk = c.pk AND t.tag = 'team1') ORDER BY c.created_at DESC, c.id DESC LIMIT 21`,
		// A search filtered by tag.
		`SELECT f.rowid FROM contexts_fts_1 f JOIN contexts c ON c.pk = f.rowid WHERE contexts_fts_1 MATCH 'alpha' AND c.tenant = 't' AND ` + tagged,
		// FindMemories with a tag.
		`SELECT m.pk FROM memories m WHERE m.tenant = 't' AND EXISTS (SELECT 1 FROM memory_tags t WHERE t.memory_pk = m.pk AND t.tag = 'a3') ORDER BY m.created_at DESC, m.id DESC LIMIT 21`,
		// The tags facet.
		`SELECT t.tag, count(*) AS n FROM context_tags t WHERE t.context_pk IN (SELECT c.pk FROM contexts c WHERE c.tenant = 't') GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT 20`,
		// The top-k filter columns.
		`SELECT context_pk, tag FROM context_tags WHERE context_pk BETWEEN 1 AND 1099511627776 ORDER BY context_pk`,
		// Tag rewrites and the cascades of deletes.
		`DELETE FROM context_tags WHERE context_pk = 5`,
		`DELETE FROM memory_tags WHERE memory_pk = 5`,
		`DELETE FROM contexts WHERE pk = 5`,
		`DELETE FROM memories WHERE pk = 5`,
	}
	plans := func() []string {
		var out []string
		for _, q := range queries {
			rows, err := db.Query(`EXPLAIN QUERY PLAN ` + q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
			out = append(out, strings.Join(plan, " | "))
		}
		return out
	}
	without := plans()
	if _, err := db.Exec(`CREATE INDEX context_tags_tag ON context_tags (tenant, tag, created_at, context_pk);
		CREATE INDEX memory_tags_tag ON memory_tags (tenant, tag, created_at, memory_pk)`); err != nil {
		t.Fatal(err)
	}
	with := plans()
	for i := range queries {
		if without[i] != with[i] {
			t.Errorf("%s\nplan without the tag indexes: %s\nwith them:                    %s", queries[i], without[i], with[i])
		}
		if strings.Contains(with[i], "_tags_tag") {
			t.Errorf("%s: the plan reads a tag index: %s", queries[i], with[i])
		}
	}
}
