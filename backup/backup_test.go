package backup_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/backup"
	"github.com/contextd/contextd/neo4j"
	"github.com/contextd/contextd/sqlite"
)

// clock is a fake clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) tick() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

func openSQLite(t *testing.T, dir string, now func() time.Time) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), dir, sqlite.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// dump is every record of a store as sorted JSON lines: equal dumps, equal data.
func dump(t *testing.T, st contextd.Store) []string {
	t.Helper()
	var out []string
	err := st.(contextd.Exporter).Export(context.Background(), func(rec *contextd.Record) error {
		b, err := contextd.EncodeState(rec)
		if err != nil {
			return err
		}
		out = append(out, rec.Kind+" "+rec.Tenant+" "+string(b))
		return nil
	})
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	slices.Sort(out)
	return out
}

func sameData(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("%s: the data differs", what)
	for _, l := range want {
		if !slices.Contains(got, l) {
			t.Errorf("  missing: %s", l)
		}
	}
	for _, l := range got {
		if !slices.Contains(want, l) {
			t.Errorf("  extra:   %s", l)
		}
	}
}

var (
	tenant = contextd.Scope{Tenant: "acme", Principal: "alice"}
	admin  = &contextd.Principal{Tenant: "acme", Role: contextd.RoleAdmin, Subject: "alice"}
)

func create(t *testing.T, svc *contextd.Service, items ...contextd.ContextCreate) []*contextd.Context {
	t.Helper()
	cs, err := svc.CreateContexts(context.Background(), admin, items, true)
	if err != nil {
		t.Fatalf("CreateContexts: %v", err)
	}
	return cs
}

// TestBackupRestore is the scenario: write, back up, write more,
// delete, then restore to the backup, to a moment between two writes, and
// selectively one deleted context with its relationships.
func TestBackupRestore(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	src := openSQLite(t, t.TempDir(), clk.Now)
	svc := contextd.NewService(src)
	svc.Now = clk.Now
	if _, _, err := svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: "acme", Role: contextd.RoleAdmin, Name: "ops"}); err != nil {
		t.Fatal(err)
	}

	// Write.
	create(t, svc, contextd.ContextCreate{ID: "a", Title: "alpha", Tags: []string{"x"}, Metadata: map[string]any{"n": 1.0}},
		contextd.ContextCreate{ID: "b", Title: "beta", SessionID: "s1",
			Relationships: []contextd.RelationshipCreate{{TargetID: "a", Type: contextd.RelRelatesTo}}})
	clk.tick()
	if _, err := svc.CreateMemories(ctx, admin, []contextd.MemoryCreate{{ID: "m1", Type: contextd.MemoryFact, Content: "likes tea", SessionID: "s1"}}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateContexts(ctx, &contextd.Principal{Tenant: "globex", Role: contextd.RoleWriter, Subject: "g"},
		[]contextd.ContextCreate{{ID: "a", Title: "globex's own a"}}, false); err != nil {
		t.Fatal(err)
	}
	clk.tick()

	// Back up.
	bdir := t.TempDir()
	mgr, err := backup.New(backup.Options{Dir: bdir, Store: src, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	b1, err := mgr.Create(ctx)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	atBackup := dump(t, src)
	if b1.Counts["context"] != 3 || b1.Counts["relationship"] != 1 || b1.Counts["memory"] != 1 || b1.Counts["apikey"] != 1 {
		t.Errorf("backup counts %v", b1.Counts)
	}
	if _, err := backup.Verify(b1.Path, nil); err != nil {
		t.Fatalf("Verify: %v", err)
	}

	// Write more: two writes a few seconds apart, then delete.
	clk.tick()
	t1 := "alpha, first edit"
	if _, err := svc.UpdateContext(ctx, admin, "a", contextd.ContextUpdate{Title: &t1}); err != nil {
		t.Fatal(err)
	}
	create(t, svc, contextd.ContextCreate{ID: "c", Title: "gamma", Relationships: []contextd.RelationshipCreate{{TargetID: "a", Type: contextd.RelFollows}}})
	afterFirst := dump(t, src)
	between := clk.tick()
	clk.tick()
	t2 := "alpha, second edit"
	if _, err := svc.UpdateContext(ctx, admin, "a", contextd.ContextUpdate{Title: &t2}); err != nil {
		t.Fatal(err)
	}
	beforeDelete, err := svc.GetContext(ctx, admin, "a")
	if err != nil {
		t.Fatal(err)
	}
	clk.tick()
	if err := svc.DeleteContext(ctx, admin, "a"); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteMemory(ctx, admin, "m1"); err != nil {
		t.Fatal(err)
	}
	clk.tick()

	t.Run("full restore equals the backup", func(t *testing.T) {
		dst := openSQLite(t, t.TempDir(), clk.Now)
		res, err := backup.Restore(ctx, b1.Path, dst, backup.RestoreOptions{})
		if err != nil {
			t.Fatalf("Restore: %v", err)
		}
		sameData(t, "restore of the backup", dump(t, dst), atBackup)
		if res.Seq != b1.Seq {
			t.Errorf("restored seq %d, want %d", res.Seq, b1.Seq)
		}
		// The log came along: history continues, the next change follows.
		if seq, _ := dst.LastChange(ctx); seq != b1.Seq {
			t.Errorf("LastChange after restore = %d, want %d", seq, b1.Seq)
		}
	})

	t.Run("point in time between two writes", func(t *testing.T) {
		dst := openSQLite(t, t.TempDir(), clk.Now)
		m, err := backup.Pick(bdir, between)
		if err != nil || m.ID != b1.ID {
			t.Fatalf("Pick: %v, %v", m, err)
		}
		res, err := backup.Restore(ctx, m.Path, dst, backup.RestoreOptions{ToTime: between,
			Sources: []backup.ChangeSource{backup.StoreChanges(src)}})
		if err != nil {
			t.Fatalf("Restore: %v", err)
		}
		sameData(t, "restore to a moment between two writes", dump(t, dst), afterFirst)
		if res.Replayed == 0 || res.At.After(between) {
			t.Errorf("replayed %d changes up to %v", res.Replayed, res.At)
		}
		// Restoring to now gives the live store's data.
		dst2 := openSQLite(t, t.TempDir(), clk.Now)
		if _, err := backup.Restore(ctx, m.Path, dst2, backup.RestoreOptions{ToTime: clk.Now(),
			Sources: []backup.ChangeSource{backup.StoreChanges(src)}}); err != nil {
			t.Fatalf("Restore to now: %v", err)
		}
		sameData(t, "restore to now", dump(t, dst2), dump(t, src))
		// Into a store that is not empty: refused.
		if _, err := backup.Restore(ctx, m.Path, dst2, backup.RestoreOptions{}); contextd.ErrorCode(err) != contextd.ECONFLICT {
			t.Errorf("restore into a non-empty store: %v, want a conflict", err)
		}
	})

	t.Run("selective restore of a deleted context with its relationships", func(t *testing.T) {
		before := dump(t, src)
		at := clk.Now().Add(-2 * time.Second) // after the second edit, before the delete
		refs, err := svc.RestoreObject(ctx, admin, contextd.RestoreRequest{ContextID: "a", At: at})
		if err != nil {
			t.Fatalf("RestoreObject: %v", err)
		}
		if len(refs) != 3 { // a, b->a, c->a
			t.Errorf("restored %v, want the context and its two edges", refs)
		}
		got, err := svc.GetContext(ctx, admin, "a")
		if err != nil {
			t.Fatal(err)
		}
		if toJSON(t, got) != toJSON(t, beforeDelete) {
			t.Errorf("restored\n%s\nwant\n%s", toJSON(t, got), toJSON(t, beforeDelete))
		}
		// Nothing else changed: the data now is the data before plus a and its edges.
		after := dump(t, src)
		var added []string
		for _, l := range after {
			if !slices.Contains(before, l) {
				added = append(added, l)
			}
		}
		for _, l := range before {
			if !slices.Contains(after, l) {
				t.Errorf("the restore changed or removed %s", l)
			}
		}
		if len(added) != 3 {
			t.Errorf("the restore added %d records, want 3: %v", len(added), added)
		}
		// The other tenant's "a" is untouched.
		g, err := svc.GetContext(ctx, &contextd.Principal{Tenant: "globex", Role: contextd.RoleReader}, "a")
		if err != nil || g.Title != "globex's own a" {
			t.Errorf("globex's a: %v, %v", g, err)
		}
	})

	t.Run("a flipped byte is detected", func(t *testing.T) {
		for _, name := range []string{backup.DataFile, backup.ChangesFile, backup.ManifestFile} {
			cp := copyDir(t, b1.Path)
			p := filepath.Join(cp, name)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x01
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := backup.Verify(cp, nil); err == nil {
				t.Errorf("a flipped byte in %s went unnoticed", name)
			} else {
				t.Logf("%s: %v", name, err)
			}
			if _, err := backup.Restore(ctx, cp, openSQLite(t, t.TempDir(), clk.Now), backup.RestoreOptions{}); err == nil {
				t.Errorf("restore of a damaged backup (%s) succeeded", name)
			}
		}
	})

	t.Run("retention prunes backups and the change log", func(t *testing.T) {
		b2, err := mgr.Create(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ms, _ := backup.List(bdir)
		if len(ms) != 2 || ms[0].ID != b2.ID {
			t.Fatalf("List: %v", ms)
		}
		clk.mu.Lock()
		clk.now = clk.now.Add(200 * 24 * time.Hour)
		clk.mu.Unlock()
		res, err := mgr.Prune(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Both are older than 90 days, but the newest is always kept.
		if len(res.Removed) != 1 || !strings.HasSuffix(res.Removed[0], b1.ID) {
			t.Errorf("pruned %v, want %s", res.Removed, b1.ID)
		}
		var left []*contextd.Change
		src.ReadChanges(ctx, 0, 0, func(c *contextd.Change) error { left = append(left, c); return nil })
		for _, c := range left {
			if c.Seq <= b2.Seq {
				t.Errorf("change %d is behind the oldest kept backup (seq %d) but was kept", c.Seq, b2.Seq)
			}
		}
	})
}

// TestRestoreIntoNeo4j restores a SQLite backup into Neo4j (NEO4J_URI) and
// back, and checks that both give the same data.
func TestRestoreIntoNeo4j(t *testing.T) {
	uri := os.Getenv("NEO4J_URI")
	if uri == "" {
		t.Skip("NEO4J_URI is not set")
	}
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	src := openSQLite(t, t.TempDir(), clk.Now)
	svc := contextd.NewService(src)
	svc.Now = clk.Now
	if _, _, err := svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: "acme", Role: contextd.RoleAdmin, Name: "ops"}); err != nil {
		t.Fatal(err)
	}
	create(t, svc, contextd.ContextCreate{ID: "a", Title: "alpha", Tags: []string{"x", "y"}, Metadata: map[string]any{"n": 1.5, "s": "t"}},
		contextd.ContextCreate{ID: "b", Title: "beta", Content: "über", SessionID: "s1",
			Relationships: []contextd.RelationshipCreate{{TargetID: "a", Type: contextd.RelContains, Properties: map[string]any{"w": 2.0}}}})
	exp := clk.tick().Add(time.Hour)
	if _, err := svc.CreateMemories(ctx, admin, []contextd.MemoryCreate{{ID: "m1", Type: contextd.MemoryFact, Content: "likes tea", SessionID: "s1", ExpiresAt: &exp}}, false); err != nil {
		t.Fatal(err)
	}
	mgr, err := backup.New(backup.Options{Dir: t.TempDir(), Store: src, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	b1, err := mgr.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ns := "bak" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	n4, err := neo4j.Open(ctx, neo4j.Options{URI: uri, Namespace: ns, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n4.Close() })
	if _, err := backup.Restore(ctx, b1.Path, n4, backup.RestoreOptions{}); err != nil {
		t.Fatalf("Restore into Neo4j: %v", err)
	}
	sameData(t, "sqlite -> neo4j", dump(t, n4), dump(t, src))
	// And back: a backup of Neo4j restored into SQLite.
	mgr2, err := backup.New(backup.Options{Dir: t.TempDir(), Store: n4, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	b2, err := mgr2.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b2.Store != "neo4j" || b2.Seq != b1.Seq {
		t.Errorf("neo4j backup: store %s seq %d, want neo4j %d", b2.Store, b2.Seq, b1.Seq)
	}
	back := openSQLite(t, t.TempDir(), clk.Now)
	if _, err := backup.Restore(ctx, b2.Path, back, backup.RestoreOptions{}); err != nil {
		t.Fatalf("Restore into SQLite: %v", err)
	}
	sameData(t, "neo4j -> sqlite", dump(t, back), dump(t, src))
}

func copyDir(t *testing.T, dir string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(dir))
	if err := os.CopyFS(dst, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
