package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/bench"
)

// tailBenchRows is a tail's worth of the bench's titles and contents.
func tailBenchRows() [][2]string {
	c := bench.NewCorpus(7)
	rows := make([][2]string, tailRows)
	for i := range rows {
		rows[i] = [2]string{c.Title(), c.Content()}
	}
	return rows
}

// BenchmarkTailBuild builds one tail of 1,000 contexts of the bench's text
// again and again, alternately with every row through FTS5 (as before the
// Go tokenizer) and with the Go tokenizer: the whole build (rows read,
// tokenized, lists written, switch, the replaced tail's lists dropped).
// It reports ms per tail each way and their ratio.
func BenchmarkTailBuild(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir(), Options{TopKMinContexts: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sc := contextd.Scope{Tenant: "t"}
	items := func(rows [][2]string) []contextd.ContextCreate {
		out := make([]contextd.ContextCreate, len(rows))
		for i, r := range rows {
			out[i] = contextd.ContextCreate{Title: r[0], Content: r[1], Type: "note", Status: contextd.StatusActive, UserID: "u"}
		}
		return out
	}
	rows := tailBenchRows()
	if _, err := s.CreateContexts(ctx, sc, items(rows[:200])); err != nil {
		b.Fatal(err)
	}
	if err := BuildTopK(s, "t"); err != nil {
		b.Fatal(err)
	}
	var part int64
	if err := s.read(ctx, "bench", func(tx *conn) error {
		r, err := s.tenantRange(ctx, tx, "t")
		part = r.lo >> pkBits
		return err
	}); err != nil {
		b.Fatal(err)
	}
	var from int64
	if err := s.read(ctx, "bench", func(tx *conn) error {
		v, _, err := loadView(ctx, tx, part)
		from = v.watermark
		return err
	}); err != nil {
		b.Fatal(err)
	}
	if _, err := s.CreateContexts(ctx, sc, items(rows)); err != nil {
		b.Fatal(err)
	}
	alternateTokenizers(b, func(fts bool) {
		s.topk.ftsTail.Store(fts)
		if built, err := s.buildTail(ctx, part, from); err != nil || !built {
			b.Fatal(built, err)
		}
	})
}

// alternateTokenizers runs tail once through FTS5 and once through the Go
// tokenizer per iteration, and reports ms per tail each way and their
// ratio.
func alternateTokenizers(b *testing.B, tail func(fts bool)) {
	var took [2]time.Duration // FTS5, Go
	n := 0
	for b.Loop() {
		for way := range 2 {
			start := time.Now()
			tail(way == 0)
			took[way] += time.Since(start)
		}
		n++
	}
	fts, gotok := took[0].Seconds()*1000/float64(n), took[1].Seconds()*1000/float64(n)
	b.ReportMetric(fts, "fts5-ms/tail")
	b.ReportMetric(gotok, "go-ms/tail")
	b.ReportMetric(fts/gotok, "ratio")
}

// BenchmarkTailTokens times only what the Go tokenizer replaces: a tail's
// 1,000 rows tokenized and their lists encoded (no store), alternately
// through FTS5 and in Go.
func BenchmarkTailTokens(b *testing.B) {
	ctx := context.Background()
	rows := tailBenchRows()
	alternateTokenizers(b, func(fts bool) {
		tk := newTailTokens(0, int64(len(rows)), fts)
		defer tk.close()
		for i, r := range rows {
			if err := tk.add(ctx, int64(i+1), []byte(r[0]), []byte(r[1])); err != nil {
				b.Fatal(err)
			}
		}
		if err := tk.finish(ctx); err != nil {
			b.Fatal(err)
		}
		if err := tk.postings(ctx, 0, func(postingRow) error { return nil }); err != nil {
			b.Fatal(err)
		}
	})
}
