package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd"
)

var vocab = strings.Fields(`the of and to in is for on that with as by this be are from or at an it was not
	deploy cluster kubernetes postgres replication backup restore latency throughput index query search cache
	memory session context graph relationship tenant user key token auth role admin reader writer metric alert
	lighthouse harbor violin garden tomato bicycle chess origami volcano glacier compass lantern meadow orchard
	alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega photon quark neutrino plasma nebula`)

func TestZZPlan(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, 1.1, 2, uint64(len(vocab)-1))
	words := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = vocab[z.Uint64()]
		}
		return strings.Join(w, " ")
	}
	sc := contextd.Scope{Tenant: "b"}
	t0 := time.Now()
	for range 10 {
		var items []contextd.ContextCreate
		for range 1000 {
			items = append(items, contextd.ContextCreate{Title: words(6), Content: words(150), Tags: []string{"a", "b"}})
		}
		if _, err := s.CreateContexts(ctx, sc, items); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %v", time.Since(t0))
	c := <-s.readers
	defer func() { s.readers <- c }()
	for _, tbl := range []string{"contexts_fts", "contexts_raw"} {
		var n int
		c.QueryRowContext(ctx, "SELECT count(*) FROM "+tbl+"_data").Scan(&n)
		t.Logf("%s_data rows %d", tbl, n)
	}
	for _, q := range []string{
		`SELECT count(*) FROM contexts_fts WHERE contexts_fts MATCH '"neutrino"'`,
		`SELECT count(*) FROM contexts_fts WHERE contexts_fts MATCH '"deploy"'`,
		`SELECT max(b) FROM (SELECT bm25(contexts_fts) AS b FROM contexts_fts WHERE contexts_fts MATCH '"deploy"' LIMIT -1)`,
		`SELECT max(b) FROM (SELECT rank AS b FROM contexts_fts WHERE contexts_fts MATCH '"deploy"' LIMIT -1)`,
		`SELECT rowid FROM contexts_fts WHERE contexts_fts MATCH '"deploy"' ORDER BY rank LIMIT 20`,
		`SELECT count(*) FROM contexts_fts_docsize`,
		`SELECT rowid, bm25(contexts_fts, 4.0, 1.0) FROM contexts_fts WHERE contexts_fts MATCH '"deploy"' ORDER BY 2 LIMIT 20`,
		`SELECT c.pk, -fm.b AS score FROM (SELECT rowid AS pk, bm25(contexts_fts, 4.0, 1.0) AS b FROM contexts_fts WHERE contexts_fts MATCH '"deploy"') AS fm CROSS JOIN contexts c ON c.pk = fm.pk WHERE c.tenant = 'b' ORDER BY score DESC, c.created_at DESC, c.id DESC LIMIT 20`,
		`SELECT count(*) FROM (SELECT rowid AS pk FROM contexts_fts WHERE contexts_fts MATCH '"deploy"') AS fm CROSS JOIN contexts c ON c.pk = fm.pk WHERE c.tenant = 'b'`,
		`SELECT c.pk, 0.0 AS score FROM contexts c WHERE c.tenant = 'b' ORDER BY score DESC, c.created_at DESC, c.id DESC LIMIT 20`,
	} {
		rows, err := c.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, nu int
			var d string
			rows.Scan(&id, &parent, &nu, &d)
			plan = append(plan, d)
		}
		rows.Close()
		t0 := time.Now()
		n := 0
		for range 5 {
			if strings.Contains(q, "x") {}
			rows, err := c.QueryContext(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				n++
			}
			rows.Close()
		}
		t.Logf("%v/op rows %d: %s\n   %s", time.Since(t0)/5, n/5, q, strings.Join(plan, " | "))
	}
	fmt.Println()
}
