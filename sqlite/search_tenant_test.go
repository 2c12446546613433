package sqlite

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/contextd/contextd"
)

// tenantRows is one tenant's contexts as a test writes them, by id, so that a
// second store can hold the same rows under the same ids.
type tenantRows struct {
	tenant string
	items  []contextd.ContextCreate
}

func randomRows(r *rand.Rand, tenant string, n int) tenantRows {
	rows := tenantRows{tenant: tenant, items: make([]contextd.ContextCreate, n)}
	for i := range rows.items {
		it := topkItem(r)
		it.ID = fmt.Sprintf("%s-%04d", tenant, i)
		if r.IntN(3) == 0 {
			it.Tags = []string{[]string{"red", "blue"}[r.IntN(2)]}
		}
		rows.items[i] = it
	}
	return rows
}

// createRows writes the rows in one batch: one creation time, so that ties
// are broken by id alike in every store.
func createRows(t *testing.T, s *Store, rows tenantRows) {
	t.Helper()
	if _, err := s.CreateContexts(context.Background(), contextd.Scope{Tenant: rows.tenant}, rows.items); err != nil {
		t.Fatal(err)
	}
}

// tenantQueries are query shapes of every kind the FTS5 path takes: words,
// phrases, prefixes, exclusions and their mixes.
func tenantQuery(r *rand.Rand) string {
	switch r.IntN(7) {
	case 0:
		return `"` + pick(r, topkWordsList) + " " + pick(r, topkWordsList) + `"`
	case 1:
		return pick(r, []string{"fis*", "gra*", "conn*", "ra*", "sto*", "la*"})
	case 2:
		return pick(r, topkWordsList) + " " + pick(r, []string{"fis*", "gra*", "conn*", "qu*"})
	case 3:
		return topkQuery(r) + " -" + pick(r, topkWordsList)
	case 4:
		return pick(r, topkWordsList) + " -" + pick(r, []string{"fis*", "gra*", "ind*"})
	}
	return topkQuery(r)
}

// sameResults requires the same answer: rows, order, scores, total,
// highlights and facets. Scores may differ in their last bit: Go's math.Log
// and the C library's log that bm25() calls may round differently.
func sameResults(t *testing.T, what string, got, want *contextd.SearchResult) {
	t.Helper()
	if got.Total != want.Total || len(got.Results) != len(want.Results) {
		t.Fatalf("%s: total %d, %d results; want %d, %d", what, got.Total, len(got.Results), want.Total, len(want.Results))
	}
	for i := range got.Results {
		g, w := got.Results[i], want.Results[i]
		if g.Context.ID != w.Context.ID || math.Abs(g.Score-w.Score) > 1e-12*math.Abs(w.Score) {
			t.Fatalf("%s: result %d is %s (%.17g), want %s (%.17g)", what, i, g.Context.ID, g.Score, w.Context.ID, w.Score)
		}
		if fmt.Sprint(g.Highlights) != fmt.Sprint(w.Highlights) {
			t.Fatalf("%s: result %d highlights %v, want %v", what, i, g.Highlights, w.Highlights)
		}
	}
	if fmt.Sprint(got.Facets) != fmt.Sprint(want.Facets) {
		t.Fatalf("%s: facets %v, want %v", what, got.Facets, want.Facets)
	}
}

// compareTenant runs random searches of the tenant in the shared store and
// in its one-tenant store, where FTS5's bm25() (shardScores) counts the
// tenant's rows alone: the answers must be the same.
func compareTenant(t *testing.T, shared, alone *Store, tenant string, r *rand.Rand, rounds int) {
	t.Helper()
	ctx := context.Background()
	sc := contextd.Scope{Tenant: tenant}
	alone.shardScores.Store(true)
	defer alone.shardScores.Store(false)
	for i := range rounds {
		q := contextd.SearchQuery{Query: tenantQuery(r), Limit: 1 + r.IntN(15), Offset: r.IntN(3) * 5, Highlight: i%3 == 0}
		switch i % 5 {
		case 1:
			q.Filters.Types = []string{"note"}
		case 2:
			q.Filters.UserID = "u2"
		case 3:
			q.Facets = []string{"type", "tags"}
		}
		got, err := shared.SearchContexts(ctx, sc, q)
		if err != nil {
			t.Fatal(err)
		}
		want, err := alone.SearchContexts(ctx, sc, q)
		if err != nil {
			t.Fatal(err)
		}
		sameResults(t, fmt.Sprintf("tenant %s query %q limit %d offset %d filters %+v facets %v", tenant, q.Query, q.Limit, q.Offset, q.Filters, q.Facets), got, want)
	}
}

// TestTenantScoresMatchOneTenantStore: tenants sharing an index shard rank
// over their own statistics: every answer is the one FTS5's bm25() gives in
// a store holding that tenant alone, before and after the tenant's rows
// change, and another tenant's writes to the shard change nothing.
func TestTenantScoresMatchOneTenantStore(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 8))
	shared := openTopK(t)
	// 18 tenants: partitions 1 and 17 (t00 and t16) share shard 1, and
	// t16 is large and skewed (every row says "fish"), so that the shard's
	// statistics are far from t00's.
	var rows []tenantRows
	for i := range 18 {
		name := fmt.Sprintf("t%02d", i)
		n := 40 + r.IntN(160)
		if i == 16 {
			n = 1500
		}
		tr := randomRows(r, name, n)
		if i == 16 {
			for j := range tr.items {
				tr.items[j].Content += " fish fishing graph"
			}
		}
		rows = append(rows, tr)
		createRows(t, shared, tr)
	}
	err := shared.read(ctx, "test", func(tx *conn) error {
		a, err := shared.tenantRange(ctx, tx, "t00")
		if err != nil {
			return err
		}
		b, err := shared.tenantRange(ctx, tx, "t16")
		if err != nil {
			return err
		}
		if shardOf(a.lo) != shardOf(b.lo) {
			return fmt.Errorf("t00 and t16 are in shards %d and %d", shardOf(a.lo), shardOf(b.lo))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	alone := map[string]*Store{}
	for _, i := range []int{0, 3, 16} {
		s := openTopK(t)
		createRows(t, s, rows[i])
		alone[rows[i].tenant] = s
	}
	for name, s := range alone {
		compareTenant(t, shared, s, name, r, 150)
	}

	// Scores before and after another tenant of the shard writes.
	probe := []contextd.SearchQuery{{Query: "fish graph", Limit: 50}, {Query: "fis* run", Limit: 50}, {Query: `"rapid queue" delta`, Limit: 50}}
	before := make([]*contextd.SearchResult, len(probe))
	for i, q := range probe {
		if before[i], err = shared.SearchContexts(ctx, contextd.Scope{Tenant: "t00"}, q); err != nil {
			t.Fatal(err)
		}
	}
	more := randomRows(r, "t16-more", 300)
	more.tenant = "t16"
	createRows(t, shared, more)
	for i, q := range probe {
		after, err := shared.SearchContexts(ctx, contextd.Scope{Tenant: "t00"}, q)
		if err != nil {
			t.Fatal(err)
		}
		sameResults(t, "t00 after t16 wrote: "+q.Query, after, before[i])
	}

	// The tenant's own changes move its statistics as FTS5's move its
	// index's: the same updates and deletes in both stores.
	for _, name := range []string{"t00", "t03"} {
		sc := contextd.Scope{Tenant: name}
		var tr tenantRows
		for _, x := range rows {
			if x.tenant == name {
				tr = x
			}
		}
		for j := 0; j < len(tr.items); j += 3 {
			id := tr.items[j].ID
			title, content := "fish "+topkText(r, 2), topkText(r, 30)
			for _, s := range []*Store{shared, alone[name]} {
				if j%2 == 0 {
					if err := s.DeleteContext(ctx, sc, id); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if _, err := s.UpdateContext(ctx, sc, id, contextd.ContextUpdate{Title: &title, Content: &content}); err != nil {
					t.Fatal(err)
				}
			}
		}
		compareTenant(t, shared, alone[name], name, r, 100)
	}
}

// TestTenantTextCounts: the counts kept with every write are those of the
// index, and a store whose counts are missing (made before migration 0010)
// counts them when it opens.
func TestTenantTextCounts(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(9, 10))
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{TopKMinContexts: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		createRows(t, s, randomRows(r, fmt.Sprintf("c%d", i), 30+r.IntN(50)))
	}
	sc := contextd.Scope{Tenant: "c1"}
	for j := 0; j < 30; j += 4 {
		id := fmt.Sprintf("c1-%04d", j)
		if j%8 == 0 {
			if err := s.DeleteContext(ctx, sc, id); err != nil {
				t.Fatal(err)
			}
			continue
		}
		content := topkText(r, 80)
		if _, err := s.UpdateContext(ctx, sc, id, contextd.ContextUpdate{Content: &content}); err != nil {
			t.Fatal(err)
		}
	}
	// A batch that fails (a taken id) changes no count.
	bad := randomRows(r, "c2", 3)
	bad.items[2].ID = "c2-0000"
	if _, err := s.CreateContexts(ctx, contextd.Scope{Tenant: "c2"}, bad.items); err == nil {
		t.Fatal("a batch with a taken id was stored")
	}
	counts := func(s *Store) map[int64][2]textStats {
		out := map[int64][2]textStats{}
		err := s.read(ctx, "test", func(tx *conn) error {
			rows, err := tx.QueryContext(ctx, `SELECT num FROM tenant_partitions`)
			if err != nil {
				return err
			}
			var parts []int64
			for rows.Next() {
				var p int64
				if err := rows.Scan(&p); err != nil {
					return err
				}
				parts = append(parts, p)
			}
			rows.Close()
			for _, p := range parts {
				kept, err := tenantText(ctx, tx, contextIndex, rangeOf(p))
				if err != nil {
					return err
				}
				counted, err := partitionText(ctx, tx, contextIndex, p)
				if err != nil {
					return err
				}
				out[p] = [2]textStats{kept, counted}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	first := counts(s)
	if len(first) != 5 {
		t.Fatalf("%d partitions, want 5", len(first))
	}
	for p, c := range first {
		if c[0] != c[1] || c[0].docs == 0 {
			t.Fatalf("partition %d: kept %+v, the index says %+v", p, c[0], c[1])
		}
	}
	// Forget the counts, as a store before migration 0010, and reopen.
	if err := s.write(ctx, "test", func(tx *conn) error {
		_, err := tx.ExecContext(ctx, `UPDATE tenant_partitions SET ctx_docs = NULL, ctx_tokens = NULL`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, dir, Options{TopKMinContexts: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var missing int
	if err := s.read(ctx, "test", func(tx *conn) error {
		return tx.QueryRowContext(ctx, `SELECT count(*) FROM tenant_partitions WHERE ctx_docs IS NULL OR ctx_tokens IS NULL`).Scan(&missing)
	}); err != nil {
		t.Fatal(err)
	}
	if missing != 0 {
		t.Fatalf("%d partitions not counted at open", missing)
	}
	if again := counts(s); fmt.Sprint(again) != fmt.Sprint(first) {
		t.Fatalf("counted at open %v, want %v", again, first)
	}
}

// TestTenantScoresEncrypted: an encrypted store (the other driver, with its
// own registration of contextd_hits) ranks over the tenant alone too.
func TestTenantScoresEncrypted(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(11, 12))
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(i + 1)
	}
	shared, err := Open(ctx, t.TempDir(), Options{TopKMinContexts: 1 << 30, EncryptionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shared.Close() })
	var first tenantRows
	for i := range 17 { // t00 and t16 share shard 1
		tr := randomRows(r, fmt.Sprintf("t%02d", i), 30+r.IntN(60))
		if i == 16 {
			tr = randomRows(r, "t16", 600)
			for j := range tr.items {
				tr.items[j].Content += " fish fishing graph"
			}
		}
		if i == 0 {
			first = tr
		}
		createRows(t, shared, tr)
	}
	alone := openTopK(t)
	createRows(t, alone, first)
	compareTenant(t, shared, alone, "t00", r, 80)
}

// randomMemories makes n memories of tenant with the texts of randomRows
// (extra appended to each), at one fixed time, so that two stores holding
// them score them alike.
func randomMemories(t *testing.T, r *rand.Rand, tenant string, n int, extra string) []contextd.MemoryCreate {
	t.Helper()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	out := make([]contextd.MemoryCreate, n)
	for i := range out {
		conf := float64(r.IntN(11)) / 10
		m := contextd.MemoryCreate{
			ID:         fmt.Sprintf("%s-m%04d", tenant, i),
			Type:       []string{contextd.MemoryFact, contextd.MemoryPreference}[r.IntN(2)],
			Content:    topkText(r, 1+r.IntN(40)) + extra,
			Importance: []string{"low", "medium", "high", "critical"}[r.IntN(4)],
			Confidence: &conf,
			Timestamp:  at,
			SessionID:  []string{"s1", "s2"}[r.IntN(2)],
			UserID:     []string{"u1", "u2"}[r.IntN(2)],
		}
		if r.IntN(3) == 0 {
			m.Tags = []string{[]string{"red", "blue"}[r.IntN(2)]}
		}
		if err := m.Normalize("items", at); err != nil {
			t.Fatal(err)
		}
		out[i] = m
	}
	return out
}

// TestMemoryScoresMatchOneTenantStore: memory search ranks a tenant's
// memories over the tenant's own statistics (rankedMemories), never over the
// index shard it shares with other tenants: its answers are those of FTS5's
// bm25() (shardScores) in a store holding the tenant alone, and another
// tenant's writes do not move them.
func TestMemoryScoresMatchOneTenantStore(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(21, 22))
	now := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	open := func() *Store {
		s, err := Open(ctx, t.TempDir(), Options{TopKMinContexts: 1 << 30, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	shared, alone := open(), open()
	// 18 tenants: t00 and t16 share shard 1; t16 is large and every memory
	// of it says "fish", so that the shard's statistics are far from t00's.
	var t00 []contextd.MemoryCreate
	for i := range 18 {
		name := fmt.Sprintf("t%02d", i)
		n, extra := 40+r.IntN(160), ""
		if i == 16 {
			n, extra = 1500, " fish fishing graph"
		}
		ms := randomMemories(t, r, name, n, extra)
		if _, err := shared.CreateMemories(ctx, contextd.Scope{Tenant: name}, ms); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			t00 = ms
		}
	}
	if _, err := alone.CreateMemories(ctx, contextd.Scope{Tenant: "t00"}, t00); err != nil {
		t.Fatal(err)
	}
	sc := contextd.Scope{Tenant: "t00"}
	search := func(s *Store, q contextd.MemorySearch) []*contextd.MemoryHit {
		t.Helper()
		hits, err := s.SearchMemories(ctx, sc, q)
		if err != nil {
			t.Fatal(err)
		}
		return hits
	}
	same := func(what string, got, want []*contextd.MemoryHit) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d hits, want %d", what, len(got), len(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			if g.Memory.ID != w.Memory.ID || math.Abs(g.Score-w.Score) > 1e-12*math.Abs(w.Score) {
				t.Fatalf("%s: hit %d is %s (%.17g), want %s (%.17g)", what, i, g.Memory.ID, g.Score, w.Memory.ID, w.Score)
			}
		}
	}
	queries := []contextd.MemorySearch{{Query: "fish graph", Limit: 50}, {Query: "fis* run", Limit: 50}, {Query: `"rapid queue" delta`, Limit: 50}}
	for range 120 {
		q := contextd.MemorySearch{Query: tenantQuery(r), Limit: 1 + r.IntN(30)}
		switch r.IntN(5) {
		case 1:
			q.SessionID = "s2"
		case 2:
			q.UserID, q.Types = "u1", []string{contextd.MemoryFact}
		case 3:
			q.MinImportance, q.MinConfidence = "high", 0.3
		case 4:
			q.Tags = []string{"red"}
		}
		queries = append(queries, q)
	}
	alone.shardScores.Store(true)
	before := make([][]*contextd.MemoryHit, len(queries))
	hits := 0
	for i, q := range queries {
		before[i] = search(shared, q)
		same(fmt.Sprintf("query %+v", q), before[i], search(alone, q))
		hits += len(before[i])
	}
	if hits < len(queries) {
		t.Fatalf("%d hits over %d queries: the queries find too little to compare", hits, len(queries))
	}
	// Another tenant of the shard writes: t00's answers do not move.
	if _, err := shared.CreateMemories(ctx, contextd.Scope{Tenant: "t16"}, randomMemories(t, r, "t16-more", 300, " fish")); err != nil {
		t.Fatal(err)
	}
	for i, q := range queries {
		same(fmt.Sprintf("after t16 wrote, query %+v", q), search(shared, q), before[i])
	}
	// The tenant's own updates and deletes move its statistics as FTS5's
	// move its index's, and its counts stay those of the index.
	for _, s := range []*Store{shared, alone} {
		for j := 0; j < len(t00); j += 4 {
			if j%8 == 0 {
				if err := s.DeleteMemory(ctx, sc, t00[j].ID); err != nil {
					t.Fatal(err)
				}
				continue
			}
			content := topkText(rand.New(rand.NewPCG(uint64(j), 1)), 30)
			if _, err := s.UpdateMemory(ctx, sc, t00[j].ID, contextd.MemoryUpdate{Content: &content}); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := s.Check(ctx, contextd.CheckOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range rep.Items {
			if it.Name == "tenant text statistics" && !it.OK {
				t.Fatalf("counts after updates and deletes: %+v", it)
			}
		}
	}
	for _, q := range queries {
		same(fmt.Sprintf("after updates, query %+v", q), search(shared, q), search(alone, q))
	}
}
