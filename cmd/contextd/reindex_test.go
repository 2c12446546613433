package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
)

// TestReindex: rows written with embeddings off get vectors from `contextd
// reindex`, after which semantic search finds them; a second run has nothing to do.
func TestReindex(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	getenv := func(k string) string {
		return map[string]string{"DATA_DIR": dir, "EMBEDDINGS_PROVIDER": "off"}[k]
	}
	cfg := defaultConfig()
	cfg.DataDir, cfg.EmbeddingsProvider = dir, "off"
	store, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := newService(store, &cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &contextd.Principal{Tenant: "acme", Role: contextd.RoleAdmin}
	if _, err := svc.CreateContexts(ctx, p, []contextd.ContextCreate{
		{ID: "pet", Title: "New family member", Content: "We adopted a puppy from the shelter"},
		{ID: "tax", Title: "Paperwork", Content: "The tax return is due in April"},
	}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateMemories(ctx, p, []contextd.MemoryCreate{{ID: "m1", Type: contextd.MemoryFact, SessionID: "s1", Content: "likes hiking in the mountains"}}, false); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	env := func(k string) string {
		if k == "EMBEDDINGS_PROVIDER" {
			return ""
		}
		return getenv(k)
	}
	if err := run(ctx, []string{"reindex"}, env, &out, &errb); err != nil {
		t.Fatalf("reindex: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "reindexed 2 contexts and 1 memories") || !strings.Contains(errb.String(), "reindex: 2 contexts") ||
		!strings.Contains(out.String(), "rebuilt the full-text search index of 0 tenants") {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
	out.Reset()
	if err := run(ctx, []string{"reindex"}, env, &out, &errb); err != nil || !strings.Contains(out.String(), "reindexed 0 contexts and 0 memories") {
		t.Fatalf("second run: %v %q", err, out.String())
	}

	store, err = sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg.EmbeddingsProvider = "builtin"
	if svc, err = newService(store, &cfg, nil); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Search(ctx, p, contextd.SearchQuery{Query: "dog", Mode: contextd.ModeSemantic, Limit: 1})
	if err != nil || len(res.Results) != 1 || res.Results[0].Context.ID != "pet" {
		t.Fatalf("semantic dog after reindex: %+v %v", res, err)
	}
	if err := run(ctx, []string{"reindex"}, getenv, &out, &errb); err == nil {
		t.Fatal("reindex with EMBEDDINGS_PROVIDER=off should fail")
	}
}
