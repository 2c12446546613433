package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
)

// seedStore fills a store with two tenants' data of every kind: keys (one
// revoked), sessions, contexts with edges (a custom type too), memories (one
// expired, one updated).
func seedStore(t *testing.T, s contextd.Store) {
	t.Helper()
	ctx := context.Background()
	for _, tenant := range []string{"acme", "globex"} {
		sc := contextd.Scope{Tenant: tenant}
		for i := range 2 {
			secret, hash := contextd.NewAPIKeySecret()
			k := &contextd.APIKey{Tenant: tenant, Role: contextd.RoleWriter, Name: "k" + itoa(i), Prefix: secret[:10],
				CreatedAt: time.Date(2025, 1, 1, 0, 0, i, 0, time.UTC)}
			if err := s.CreateAPIKey(ctx, k, hash); err != nil {
				t.Fatal(err)
			}
			if i == 1 {
				if err := s.RevokeAPIKey(ctx, tenant, k.ID, time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := s.CreateSession(ctx, sc, contextd.SessionCreate{ID: "chat", UserID: "alice", Title: "Chat ✓", Metadata: map[string]any{"n": 1.0}}); err != nil {
			t.Fatal(err)
		}
		items := []contextd.ContextCreate{
			{ID: "a", Title: "Alpha " + tenant, Content: "first", UserID: "alice", SessionID: "chat", Tags: []string{"x", "y"}, Metadata: map[string]any{"k": "v"}},
			{ID: "b", Title: "Beta", Content: "second", UserID: "bob", Type: "decision", Status: contextd.StatusDraft},
			{ID: "c", Title: "Gamma", UserID: "alice", Relationships: []contextd.RelationshipCreate{
				{ID: "c-a", Type: contextd.RelContains, TargetID: "a", Properties: map[string]any{"w": 0.5}},
				{Type: "CUSTOM_EDGE", TargetID: "b"}}},
		}
		for i := range items {
			if err := items[i].Normalize("body"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.CreateContexts(ctx, sc, items); err != nil {
			t.Fatal(err)
		}
		title := "Alpha renamed"
		if _, err := s.UpdateContext(ctx, sc, "a", contextd.ContextUpdate{Title: &title}); err != nil {
			t.Fatal(err)
		}
		past := time.Now().Add(-time.Hour)
		mems := []contextd.MemoryCreate{
			{ID: "m1", Type: contextd.MemoryFact, Content: "likes tea", SessionID: "chat", UserID: "alice", Tags: []string{"drink"}},
			{ID: "m2", Type: contextd.MemoryPreference, Content: "gone", SessionID: "other", UserID: "bob", ExpiresAt: &past},
		}
		for i := range mems {
			if err := mems[i].Normalize("body", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.CreateMemories(ctx, sc, mems); err != nil {
			t.Fatal(err)
		}
		content := "likes green tea"
		if _, err := s.UpdateMemory(ctx, sc, "m1", contextd.MemoryUpdate{Content: &content}); err != nil {
			t.Fatal(err)
		}
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

// dump exports a store as sorted JSON lines, for comparing two stores.
func dump(t *testing.T, s contextd.Store) []string {
	t.Helper()
	var out []string
	err := s.(contextd.Exporter).Export(context.Background(), func(r *contextd.Record) error {
		b, err := json.Marshal(r)
		out = append(out, string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func openSQLite(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func migrate(t *testing.T, from, to string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := runMigrate(context.Background(), []string{"--from", from, "--to", to}, os.Getenv, &stdout, &stderr); err != nil {
		t.Fatalf("migrate %s -> %s: %v\n%s", from, to, err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "100%") {
		t.Errorf("no finished progress bar on stderr: %q", stderr.String())
	}
	return stdout.String()
}

func TestMigrateSQLiteToSQLite(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	src := openSQLite(t, a)
	seedStore(t, src)
	want := dump(t, src)
	src.Close()

	out := migrate(t, "sqlite:"+a, "sqlite:"+b)
	if !strings.Contains(out, "counts verified") || !strings.Contains(out, "tenant acme: 2 API keys, 2 sessions, 3 contexts, 2 relationships, 2 memories") {
		t.Errorf("summary:\n%s", out)
	}
	dst := openSQLite(t, b)
	defer dst.Close()
	if got := dump(t, dst); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the copy differs:\n got  %v\n want %v", got, want)
	}
	// The copy works as a store: search, graph, sessions, keys.
	ctx := context.Background()
	sc := contextd.Scope{Tenant: "acme"}
	res, err := dst.SearchContexts(ctx, sc, contextd.SearchQuery{Query: "renamed", Limit: 10})
	if err != nil || res.Total != 1 {
		t.Errorf("search in the copy: %+v, %v", res, err)
	}
	if ss, err := dst.GetSession(ctx, sc, "chat"); err != nil || ss.MemoryCount != 1 || ss.ContextCount != 1 {
		t.Errorf("session in the copy: %+v, %v", ss, err)
	}
	if _, err := dst.CreateRelationship(ctx, sc, contextd.RelationshipCreate{SourceID: "a", TargetID: "c", Type: contextd.RelContains}); contextd.ErrorCode(err) != contextd.ECONFLICT {
		t.Errorf("CONTAINS cycle in the copy: %v", err)
	}

	// A second migrate into the now full target is refused.
	var stdout, stderr bytes.Buffer
	err = runMigrate(ctx, []string{"--from", "sqlite:" + a, "--to", "sqlite:" + b, "--quiet"}, os.Getenv, &stdout, &stderr)
	if contextd.ErrorCode(err) != contextd.ECONFLICT {
		t.Errorf("migrate into a full store: %v", err)
	}
}

func TestMigrateUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"--from", "sqlite:x"}, {"--from", "sqlite:x", "--to", "sqlite:x"}, {"--from", "ftp://x", "--to", "sqlite:y"}} {
		var stdout, stderr bytes.Buffer
		if err := runMigrate(context.Background(), args, os.Getenv, &stdout, &stderr); err == nil {
			t.Errorf("migrate %v: no error", args)
		}
	}
}

// TestMigrateNeo4jRoundTrip copies sqlite -> Neo4j -> sqlite and compares
// the ends. It needs a Neo4j server (NEO4J_URI; tools/neo4j-test-server/test.sh).
func TestMigrateNeo4jRoundTrip(t *testing.T) {
	uri := os.Getenv("NEO4J_URI")
	if uri == "" {
		t.Skip("NEO4J_URI is not set; run tools/neo4j-test-server/test.sh ./cmd/contextd/ -run Migrate")
	}
	b := make([]byte, 6)
	rand.Read(b)
	neo := uri + "?namespace=migrate-" + hex.EncodeToString(b)
	root := t.TempDir()
	a, c := filepath.Join(root, "a"), filepath.Join(root, "c")
	src := openSQLite(t, a)
	seedStore(t, src)
	want := dump(t, src)
	src.Close()

	migrate(t, "sqlite:"+a, neo)
	mid, err := openStoreURL(context.Background(), neo, os.Getenv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := dump(t, mid); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Neo4j holds:\n got  %v\n want %v", got, want)
	}
	sc := contextd.Scope{Tenant: "globex"}
	if g, err := mid.Graph(context.Background(), sc, contextd.GraphQuery{RootID: "c", Depth: 2, Direction: contextd.DirectionOut}); err != nil || len(g.Nodes) != 3 {
		t.Errorf("graph in Neo4j: %+v, %v", g, err)
	}
	mid.Close()

	migrate(t, neo, "sqlite:"+c)
	dst := openSQLite(t, c)
	defer dst.Close()
	if got := dump(t, dst); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after the round trip:\n got  %v\n want %v", got, want)
	}
}
