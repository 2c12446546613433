package sqlite_test

import (
	"context"
	"strings"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
)

// TestCheckTopK: the check counts a segment's rows against the table, sees
// a row deleted behind the store's back (no dirty record), and a posting
// list damaged; a rebuild (contextd reindex) makes it whole again.
func TestCheckTopK(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openAt(t, dir)
	fill(t, s, 40)
	if err := sqlite.BuildTopK(s, "t"); err != nil {
		t.Fatal(err)
	}
	// A delete through the store is recorded: still consistent.
	res, err := s.SearchContexts(ctx, contextd.Scope{Tenant: "t"}, contextd.SearchQuery{Query: "alpha", Limit: 1})
	if err != nil || len(res.Results) != 1 {
		t.Fatal(res, err)
	}
	if err := s.DeleteContext(ctx, contextd.Scope{Tenant: "t"}, res.Results[0].Context.ID); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Check(ctx, contextd.CheckOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if it := item(rep, "top-k index rows"); !rep.OK || it == nil || it.Rows != 39 || it.Indexed != 40 {
		t.Fatalf("healthy store: %+v", rep.Items)
	}
	db := rwDB(t, dir)
	if _, err := db.Exec(`DELETE FROM contexts WHERE pk = (SELECT max(pk) FROM contexts)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE topk_postings SET postings = x'05' WHERE term = 'alpha'`); err != nil {
		t.Fatal(err)
	}
	rep, err = s.Check(ctx, contextd.CheckOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if it := item(rep, "top-k index rows"); rep.OK || it == nil || it.OK || !strings.Contains(it.Detail, "holds 40 rows, the table 38") {
		t.Fatalf("deleted row not reported: %+v", rep.Items)
	}
	if it := item(rep, "top-k index postings"); it == nil || it.OK || !strings.Contains(it.Detail, `"alpha"`) {
		t.Fatalf("damaged list not reported: %+v", rep.Items)
	}
	if n, err := s.RebuildSearchIndex(ctx); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	rep, err = s.Check(ctx, contextd.CheckOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	// (The FTS5 index still holds the row deleted behind its back; the
	// segment, built from the rows up to the newest, does not.)
	for _, name := range []string{"top-k index rows", "top-k index postings"} {
		if it := item(rep, name); it == nil || !it.OK {
			t.Fatalf("after the rebuild: %+v", rep.Items)
		}
	}
}
