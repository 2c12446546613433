package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
)

// TestKeyGenerationSeesOtherWriters: the generation is answered from memory
// only while nothing was committed; a key change committed through another
// connection (another process: `contextd keys revoke` beside a server) or
// another Store on the same file is seen by the next read.
func TestKeyGenerationSeesOtherWriters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := openAt(t, dir)
	gen := func(s *sqlite.Store) int64 {
		t.Helper()
		g, err := s.APIKeyGeneration(ctx)
		if err != nil {
			t.Fatalf("APIKeyGeneration: %v", err)
		}
		return g
	}
	g0 := gen(a)
	if !sqlite.KeyGenerationCached(a) {
		t.Fatal("the generation was not kept after a read")
	}
	if gen(a) != g0 {
		t.Fatal("the generation moved without a change")
	}

	// A plain connection of its own, as another process would have.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `UPDATE key_generation SET gen = gen + 1 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	g1 := gen(a)
	if g1 == g0 {
		t.Fatalf("a generation bumped by another connection was not seen: still %d", g1)
	}

	// Another Store on the same file creates and revokes a key.
	b := openAt(t, dir)
	now := time.Now()
	k := &contextd.APIKey{ID: "k1", Tenant: "t", Role: contextd.RoleReader, Name: "n", CreatedAt: now}
	if err := b.CreateAPIKey(ctx, k, contextd.HashAPIKey("cxd_secret")); err != nil {
		t.Fatal(err)
	}
	g2 := gen(a)
	if g2 == g1 {
		t.Fatal("a key created by another store was not seen")
	}
	if err := b.RevokeAPIKey(ctx, "t", "k1", now); err != nil {
		t.Fatal(err)
	}
	if g3 := gen(a); g3 == g2 {
		t.Fatal("a key revoked by another store was not seen")
	}
	got, err := a.APIKeyByHash(ctx, contextd.HashAPIKey("cxd_secret"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Active(time.Now()) {
		t.Fatal("the revoked key is still active")
	}
}

// TestKeyGenerationRefreshedByOwnCommits: the writer's own commits keep the
// cached generation fresh, with the generation they leave (a key created
// through the store included), while a commit of another connection still
// makes the next read go to the database.
func TestKeyGenerationRefreshedByOwnCommits(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openAt(t, dir)
	sc := contextd.Scope{Tenant: "t"}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored := func() int64 {
		t.Helper()
		var g int64
		if err := db.QueryRowContext(ctx, `SELECT gen FROM key_generation WHERE id = 1`).Scan(&g); err != nil {
			t.Fatal(err)
		}
		return g
	}
	for i := range 3 {
		if _, err := s.CreateContexts(ctx, sc, []contextd.ContextCreate{{Title: "t", Content: "c"}}); err != nil {
			t.Fatal(err)
		}
		if !sqlite.KeyGenerationFresh(s) {
			t.Fatalf("write %d: the generation is not fresh after the store's own commit", i)
		}
	}
	g0, err := s.APIKeyGeneration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g0 != stored() {
		t.Fatalf("cached generation %d, stored %d", g0, stored())
	}

	// A key created through the store: its commit moves the generation,
	// and the cache holds the new one.
	k := &contextd.APIKey{ID: "k1", Tenant: "t", Role: contextd.RoleReader, Name: "n", CreatedAt: time.Now()}
	if err := s.CreateAPIKey(ctx, k, contextd.HashAPIKey("cxd_secret")); err != nil {
		t.Fatal(err)
	}
	if !sqlite.KeyGenerationFresh(s) {
		t.Fatal("the generation is not fresh after the store created a key")
	}
	g1, err := s.APIKeyGeneration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g1 == g0 || g1 != stored() {
		t.Fatalf("after a key was created: cached %d (before %d), stored %d", g1, g0, stored())
	}

	// Another connection's commit is not the store's: not fresh.
	if _, err := db.ExecContext(ctx, `UPDATE key_generation SET gen = gen + 1 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if sqlite.KeyGenerationFresh(s) {
		t.Fatal("fresh after another connection's commit")
	}
	if g2, err := s.APIKeyGeneration(ctx); err != nil || g2 != stored() || g2 == g1 {
		t.Fatalf("after another connection's change: %d, %v; stored %d", g2, err, stored())
	}
}
