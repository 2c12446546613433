package sqlite_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
	"github.com/contextd/contextd/storetest"
)

// checked runs Check and fails the test when it cannot run.
func checked(t *testing.T, s *sqlite.Store, opts contextd.CheckOptions) *contextd.CheckReport {
	t.Helper()
	rep, err := s.Check(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// wantFail asserts that rep failed on item name with a detail holding want,
// and on no item outside also.
func wantFail(t *testing.T, rep *contextd.CheckReport, name, want string, also ...string) {
	t.Helper()
	it := item(rep, name)
	if rep.OK || it == nil || it.OK || !strings.Contains(it.Detail, want) {
		t.Fatalf("%s: want a failure saying %q, got %+v", name, want, it)
	}
	allowed := map[string]bool{name: true}
	for _, a := range also {
		allowed[a] = true
	}
	for _, other := range rep.Items {
		if !other.OK && !allowed[other.Name] {
			t.Errorf("%s failed too: %s", other.Name, other.Detail)
		}
	}
}

// integrityStore is a store after the integrity workload, healthy in both
// modes, with a handle to damage its file.
func integrityStore(t *testing.T) (*sqlite.Store, *sql.DB, storetest.IntegrityObjects) {
	t.Helper()
	dir := t.TempDir()
	s := openAt(t, dir)
	objs := storetest.IntegrityWorkload(t, s)
	for _, full := range []bool{false, true} {
		rep := checked(t, s, storetest.IntegrityCheckOptions(full))
		if !rep.OK {
			t.Fatalf("full=%v: healthy store after the workload failed: %+v", full, rep.Items)
		}
		for _, name := range []string{"change log continuity", "change log order", "change log vs rows", "context vectors", "memory vectors"} {
			if item(rep, name) == nil {
				t.Errorf("full=%v: no item %q", full, name)
			}
		}
		if it := item(rep, "context vectors"); it.Rows != 5 || it.Indexed != 4 || !strings.Contains(it.Detail, "1 rows written before semantic search was on, or restored or imported, have no vector (run contextd reindex)") {
			t.Errorf("full=%v: the restored context has no vector, a warning: %+v", full, it)
		}
		if it := item(rep, "change log vs rows"); it.Indexed == 0 {
			t.Errorf("full=%v: nothing compared: %+v", full, it)
		}
	}
	return s, rwDB(t, dir), objs
}

func exec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatal(err)
	}
}

func TestCheckChangeLog(t *testing.T) {
	ctx := context.Background()
	opts := storetest.IntegrityCheckOptions

	t.Run("gap", func(t *testing.T) {
		s, db, _ := integrityStore(t)
		exec(t, db, `DELETE FROM changes WHERE seq = (SELECT min(seq) + 5 FROM changes)`)
		for _, full := range []bool{false, true} {
			rep := checked(t, s, opts(full))
			wantFail(t, rep, "change log continuity", "1 changes missing between seq 1 and", "change log order")
			if it := item(rep, "change log order"); it.OK || !strings.Contains(it.Detail, "seq 7 follows seq 5") {
				t.Errorf("full=%v: the order item should place the gap: %+v", full, it)
			}
		}
	})

	t.Run("newest missing", func(t *testing.T) {
		s, db, _ := integrityStore(t)
		exec(t, db, `DELETE FROM changes WHERE seq = (SELECT max(seq) FROM changes)`)
		// The newest change is the restore of Contexts[2]: without it, the
		// context is live after its delete, and has no vector.
		wantFail(t, checked(t, s, opts(false)), "change log continuity", "but the log gave seqs up to",
			"change log vs rows", "context vectors")
	})

	t.Run("time going back", func(t *testing.T) {
		s, db, _ := integrityStore(t)
		exec(t, db, `UPDATE changes SET at = at - 3600000000000 WHERE seq = (SELECT min(seq) + 3 FROM changes)`)
		for _, full := range []bool{false, true} {
			wantFail(t, checked(t, s, opts(full)), "change log order", "older than seq 3")
		}
	})

	t.Run("version", func(t *testing.T) {
		s, db, objs := integrityStore(t)
		exec(t, db, `UPDATE contexts SET version = version + 1 WHERE id = ?`, objs.Contexts[0])
		for _, full := range []bool{false, true} {
			wantFail(t, checked(t, s, opts(full)), "change log vs rows",
				"context integrity/"+objs.Contexts[0]+" is at version 3 but its newest change")
		}
	})

	t.Run("state", func(t *testing.T) {
		s, db, objs := integrityStore(t)
		exec(t, db, `UPDATE memories SET updated_at = updated_at + 1 WHERE id = ?`, objs.Memories[2])
		wantFail(t, checked(t, s, opts(true)), "change log vs rows", "memory integrity/"+objs.Memories[2]+" was written at")
	})

	t.Run("row gone", func(t *testing.T) {
		s, db, objs := integrityStore(t)
		exec(t, db, `DELETE FROM relationships WHERE tenant = 'integrity' AND source_id = ?`, objs.Contexts[3])
		for _, full := range []bool{false, true} {
			wantFail(t, checked(t, s, opts(full)), "change log vs rows", "has no row but its newest change")
		}
	})

	t.Run("deleted but live", func(t *testing.T) {
		s, db, objs := integrityStore(t)
		exec(t, db, `DELETE FROM changes WHERE seq = (SELECT max(seq) FROM changes)`) // the restore of Contexts[2]
		exec(t, db, `UPDATE sqlite_sequence SET seq = seq - 1 WHERE name = 'changes'`)
		wantFail(t, checked(t, s, opts(false)), "change log vs rows",
			"context integrity/"+objs.Contexts[2]+" exists but its newest change (seq", "context vectors")
	})

	t.Run("unlogged row", func(t *testing.T) {
		s, db, _ := integrityStore(t)
		exec(t, db, `INSERT INTO sessions (tenant, id, user_id, created_at, updated_at, last_active_at)
			SELECT 'integrity', 'ghost', 'u', max(at) + 3600000000000, max(at) + 3600000000000, max(at) + 3600000000000 FROM changes`)
		wantFail(t, checked(t, s, opts(true)), "change log vs rows", "session integrity/ghost was written at")
		if rep := checked(t, s, opts(false)); !rep.OK {
			t.Errorf("the tail check reads changes, not rows: %+v", rep.Items)
		}
	})

	t.Run("pruned and older rows", func(t *testing.T) {
		// Rows older than the retained log (pruned, or from before the
		// change log existed) are no alarm.
		s, db, _ := integrityStore(t)
		last, err := s.LastChange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.PruneChanges(ctx, last-2); err != nil {
			t.Fatal(err)
		}
		exec(t, db, `INSERT INTO sessions (tenant, id, user_id, created_at, updated_at, last_active_at)
			VALUES ('integrity', 'old', 'u', 1, 1, 1)`)
		for _, full := range []bool{false, true} {
			rep := checked(t, s, opts(full))
			if !rep.OK {
				t.Fatalf("full=%v: pruned log: %+v", full, rep.Items)
			}
			if it := item(rep, "change log continuity"); it.Rows != 2 {
				t.Errorf("continuity: %+v", it)
			}
		}
		if _, err := s.PruneChanges(ctx, last); err != nil {
			t.Fatal(err)
		}
		rep := checked(t, s, opts(true))
		if it := item(rep, "change log continuity"); !rep.OK || !strings.Contains(it.Detail, "pruned") {
			t.Errorf("empty log: %+v", rep.Items)
		}
	})
}

func TestCheckVectors(t *testing.T) {
	opts := storetest.IntegrityCheckOptions

	t.Run("missing", func(t *testing.T) {
		s, db, objs := integrityStore(t)
		exec(t, db, `DELETE FROM vectors WHERE kind = 'memory' AND row_pk = (SELECT pk FROM memories WHERE id = ?)`, objs.Memories[1])
		wantFail(t, checked(t, s, opts(false)), "memory vectors",
			"1 rows written with an embedder have no vector; e.g. integrity/"+objs.Memories[1]+" has no vector")
	})

	t.Run("orphan", func(t *testing.T) {
		s, db, _ := integrityStore(t)
		exec(t, db, `INSERT INTO vectors (kind, row_pk, model, vec) SELECT 'context', 424242, model, vec FROM vectors LIMIT 1`)
		wantFail(t, checked(t, s, opts(false)), "context vectors", "1 vectors have no row or no model; e.g. vector of row pk 424242")
	})

	t.Run("dimensions", func(t *testing.T) {
		s, db, objs := integrityStore(t)
		exec(t, db, `UPDATE vectors SET vec = substr(vec, 1, 7) WHERE kind = 'context' AND row_pk = (SELECT pk FROM contexts WHERE id = ?)`, objs.Contexts[1])
		wantFail(t, checked(t, s, opts(false)), "context vectors", "1 vectors of integrity-test-v1 do not have its 8 dimensions")
		o := opts(false)
		o.VectorDims = 0
		wantFail(t, checked(t, s, o), "context vectors", "have 2 different lengths")
	})

	t.Run("other model", func(t *testing.T) {
		s, _, _ := integrityStore(t)
		o := opts(false)
		o.VectorModel = "integrity-test-v2"
		rep := checked(t, s, o)
		it := item(rep, "memory vectors")
		if !rep.OK || it.Indexed != 0 || !strings.Contains(it.Detail, "4 rows have a vector of another model (run contextd reindex)") {
			t.Fatalf("vectors of an old model are a warning: %+v", rep.Items)
		}
		o.VectorModel = ""
		rep = checked(t, s, o)
		if it := item(rep, "memory vectors"); !rep.OK || !strings.Contains(it.Detail, "semantic search is off") {
			t.Fatalf("without a model: %+v", rep.Items)
		}
	})
}
