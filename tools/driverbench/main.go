// Command driverbench compares SQLite drivers for contextd's embedded store:
// modernc.org/sqlite (pure Go) and, when built with -tags sqlite_fts5,
// github.com/mattn/go-sqlite3 (cgo). See README.md for results.
//
//	go run .                      # modernc only
//	go run -tags sqlite_fts5 .    # modernc and mattn, interleaved, 2 runs
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

type driverSpec struct {
	name    string // short name used in reports
	driver  string // database/sql driver name
	version string
	dsn     func(path string) string
}

var drivers []driverSpec

func register(d driverSpec) { drivers = append(drivers, d) }

var (
	flagRuns       = flag.Int("runs", 2, "number of rounds; each round runs every driver once (order alternates per round)")
	flagSingle     = flag.Int("single", 5000, "scenario 1: rows, one per transaction")
	flagBatchRows  = flag.Int("batch-rows", 50000, "scenario 2: rows inserted in batches")
	flagBatchSize  = flag.Int("batch-size", 1000, "scenario 2: rows per transaction")
	flagReads      = flag.Int("reads", 100000, "scenario 3: point reads in total")
	flagReadG      = flag.Int("read-goroutines", 2, "scenario 3: reader goroutines")
	flagReaderConn = flag.Int("reader-conns", 4, "reader pool size (scenarios 3 and 4)")
	flagQueries    = flag.Int("queries", 2000, "scenario 4: FTS5 BM25 top-10 queries")
	flagQueryG     = flag.Int("query-goroutines", 1, "scenario 4: query goroutines")
	flagDir        = flag.String("dir", "", "parent dir for the temp databases (default os.TempDir(); must be a real disk, not tmpfs)")
	flagCheck      = flag.Bool("check", false, "run FTS5 integrity-check after loading (slow)")
	flagOnly       = flag.String("drivers", "", "comma-separated subset of drivers (modernc,mattn)")
	flagSeed       = flag.Int64("seed", 42, "corpus seed (same data for every driver)")
)

// ---------------------------------------------------------------- corpus

type doc struct {
	id, tenant, title, content, metadata string
	created                              int64
}

// genVocab makes n distinct pronounceable lowercase words (ASCII letters
// only, so they are safe as bare FTS5 terms).
func genVocab(r *rand.Rand, n int) []string {
	onsets := []string{"b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "ch", "cl", "cr", "dr", "fl", "gr", "pl", "pr", "sh", "sl", "sp", "st", "str", "th", "tr", ""}
	nuclei := []string{"a", "e", "i", "o", "u", "ai", "ea", "ee", "oo", "ou", "ie"}
	codas := []string{"", "", "", "n", "r", "s", "t", "l", "m", "nd", "nt", "st", "ng", "ck", "rd", "ss"}
	suffixes := []string{"", "", "", "", "ing", "ed", "er", "s", "ly", "tion", "ment", "ness", "able"}
	seen := make(map[string]bool, n)
	out := make([]string, 0, n)
	for len(out) < n {
		// short words are more common in English; rank 0 is the most frequent
		syl := 1 + r.Intn(2)
		if len(out) > 200 {
			syl = 1 + r.Intn(4)
		}
		var b strings.Builder
		for i := 0; i < syl; i++ {
			b.WriteString(onsets[r.Intn(len(onsets))])
			b.WriteString(nuclei[r.Intn(len(nuclei))])
			b.WriteString(codas[r.Intn(len(codas))])
		}
		if len(out) > 200 {
			b.WriteString(suffixes[r.Intn(len(suffixes))])
		}
		w := b.String()
		if len(w) < 2 || seen[w] {
			continue
		}
		seen[w] = true
		out = append(out, w)
	}
	return out
}

type textGen struct {
	r     *rand.Rand
	z     *rand.Zipf
	vocab []string
}

func newTextGen(seed int64, vocab []string) *textGen {
	r := rand.New(rand.NewSource(seed))
	// Zipf-Mandelbrot over ranks: P(k) ∝ 1/(v+k)^s
	return &textGen{r: r, z: rand.NewZipf(r, 1.07, 2.0, uint64(len(vocab)-1)), vocab: vocab}
}

func (g *textGen) word() string { return g.vocab[g.z.Uint64()] }

func (g *textGen) sentence(b *strings.Builder, minW, maxW int) {
	n := minW + g.r.Intn(maxW-minW+1)
	for i := 0; i < n; i++ {
		w := g.word()
		if i == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(w)
		if i != n-1 && g.r.Intn(12) == 0 {
			b.WriteByte(',')
		}
	}
}

func (g *textGen) content(target int) string {
	var b strings.Builder
	b.Grow(target + 200)
	for b.Len() < target {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		g.sentence(&b, 6, 22)
		b.WriteByte('.')
	}
	return b.String()
}

func (g *textGen) title() string {
	var b strings.Builder
	g.sentence(&b, 3, 8)
	return b.String()
}

func genDocs(seed int64, vocab []string, n int) []doc {
	g := newTextGen(seed, vocab)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	docs := make([]doc, n)
	for i := range docs {
		ts := base + int64(i)*1000 + int64(g.r.Intn(1000))
		docs[i] = doc{
			// ULID-like: time-ordered prefix + random suffix (26 chars)
			id:       fmt.Sprintf("%012x%014x", ts, g.r.Uint64()>>8),
			tenant:   fmt.Sprintf("tenant-%02d", g.r.Intn(8)),
			title:    g.title(),
			content:  g.content(1000 + g.r.Intn(48)),
			metadata: fmt.Sprintf(`{"source":"bench","seq":%d}`, i),
			created:  ts,
		}
	}
	return docs
}

// genQueries makes 2-word OR queries. Words are drawn uniformly from vocab
// ranks [20, 2000): skips the stopword-like head (which matches most rows)
// and the very rare tail (which matches almost nothing).
func genQueries(seed int64, vocab []string, n int) []string {
	r := rand.New(rand.NewSource(seed))
	qs := make([]string, n)
	for i := range qs {
		a := vocab[20+r.Intn(1980)]
		b := vocab[20+r.Intn(1980)]
		qs[i] = a + " OR " + b
	}
	return qs
}

// ---------------------------------------------------------------- database

const schema = `
CREATE TABLE contexts(
  rowid      INTEGER PRIMARY KEY,
  id         TEXT NOT NULL UNIQUE,
  tenant     TEXT NOT NULL,
  title      TEXT NOT NULL,
  content    TEXT NOT NULL,
  metadata   TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX contexts_tenant_created ON contexts(tenant, created_at);
CREATE VIRTUAL TABLE contexts_fts USING fts5(
  title, content,
  content='contexts', content_rowid='rowid',
  tokenize='porter unicode61 remove_diacritics 2'
);
`

const (
	insertContext = `INSERT INTO contexts(id, tenant, title, content, metadata, created_at, updated_at) VALUES(?,?,?,?,?,?,?)`
	insertFTS     = `INSERT INTO contexts_fts(rowid, title, content) VALUES(?,?,?)`
	selectByID    = `SELECT rowid, tenant, title, content, metadata, created_at FROM contexts WHERE id = ?`
	searchFTS     = `SELECT c.id, c.title, bm25(contexts_fts, 3.0, 1.0) AS score
FROM contexts_fts JOIN contexts c ON c.rowid = contexts_fts.rowid
WHERE contexts_fts MATCH ? ORDER BY score LIMIT 10`
)

func openDB(spec driverSpec, path string, conns int) (*sql.DB, error) {
	db, err := sql.Open(spec.driver, spec.dsn(path))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, db.Ping()
}

// pragmas reports the settings as seen by a connection, to prove the DSN did
// what we asked of both drivers.
func pragmas(ctx context.Context, db *sql.DB) (string, error) {
	var jm, ver string
	var sync, bt, fk int
	for _, q := range []struct {
		sql string
		dst any
	}{
		{"PRAGMA journal_mode", &jm},
		{"PRAGMA synchronous", &sync},
		{"PRAGMA busy_timeout", &bt},
		{"PRAGMA foreign_keys", &fk},
		{"SELECT sqlite_version()", &ver},
	} {
		if err := db.QueryRowContext(ctx, q.sql).Scan(q.dst); err != nil {
			return "", fmt.Errorf("%s: %w", q.sql, err)
		}
	}
	if jm != "wal" || sync != 2 || bt != 5000 || fk != 1 {
		return "", fmt.Errorf("unexpected pragmas journal_mode=%s synchronous=%d busy_timeout=%d foreign_keys=%d", jm, sync, bt, fk)
	}
	return fmt.Sprintf("sqlite %s journal_mode=%s synchronous=%d(FULL) busy_timeout=%d foreign_keys=%d", ver, jm, sync, bt, fk), nil
}

type writer struct {
	db       *sql.DB
	ins, fts *sql.Stmt
}

func (w *writer) insertTx(ctx context.Context, docs []doc) error {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	ins, fts := tx.StmtContext(ctx, w.ins), tx.StmtContext(ctx, w.fts)
	for i := range docs {
		d := &docs[i]
		res, err := ins.ExecContext(ctx, d.id, d.tenant, d.title, d.content, d.metadata, d.created, d.created)
		if err != nil {
			tx.Rollback()
			return err
		}
		rowid, err := res.LastInsertId()
		if err != nil {
			tx.Rollback()
			return err
		}
		if _, err := fts.ExecContext(ctx, rowid, d.title, d.content); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// ---------------------------------------------------------------- results

type result struct {
	ops      float64       // operations per second
	p50, p99 time.Duration // per-op latency (0 if n/a)
	elapsed  time.Duration
	note     string
}

func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	if len(lat) == 0 {
		return 0, 0
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)*50/100], lat[min(len(lat)-1, len(lat)*99/100)]
}

var scenarioNames = []string{
	"1. single-row insert, 1 tx/row (rows/s)",
	"2. batched insert, 1000 rows/tx (rows/s)",
	"3. point read by id, 4-conn pool, 2 goroutines (reads/s)",
	"4. FTS5 bm25 top-10, 2-word OR (queries/s)",
}

// ---------------------------------------------------------------- run

func runDriver(ctx context.Context, spec driverSpec, docs []doc, queries []string, nSingle int) ([]result, error) {
	parent := *flagDir
	dir, err := os.MkdirTemp(parent, "driverbench-"+spec.name+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "contextd.db")

	wdb, err := openDB(spec, path, 1)
	if err != nil {
		return nil, fmt.Errorf("open writer: %w", err)
	}
	defer wdb.Close()
	pr, err := pragmas(ctx, wdb)
	if err != nil {
		return nil, fmt.Errorf("writer: %w", err)
	}
	fmt.Printf("    %s: writer %s\n", spec.name, pr)
	if _, err := wdb.ExecContext(ctx, schema); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	w := &writer{db: wdb}
	if w.ins, err = wdb.PrepareContext(ctx, insertContext); err != nil {
		return nil, err
	}
	defer w.ins.Close()
	if w.fts, err = wdb.PrepareContext(ctx, insertFTS); err != nil {
		return nil, err
	}
	defer w.fts.Close()

	res := make([]result, 4)

	// 1) single-row insert, one durable transaction per row
	{
		lat := make([]time.Duration, 0, nSingle)
		start := time.Now()
		for i := 0; i < nSingle; i++ {
			t0 := time.Now()
			if err := w.insertTx(ctx, docs[i:i+1]); err != nil {
				return nil, fmt.Errorf("single insert: %w", err)
			}
			lat = append(lat, time.Since(t0))
		}
		el := time.Since(start)
		p50, p99 := percentiles(lat)
		res[0] = result{ops: float64(nSingle) / el.Seconds(), p50: p50, p99: p99, elapsed: el}
	}

	// 2) batched insert; latency is per transaction (batch)
	{
		rows := docs[nSingle:]
		bs := *flagBatchSize
		lat := make([]time.Duration, 0, len(rows)/bs+1)
		start := time.Now()
		for i := 0; i < len(rows); i += bs {
			t0 := time.Now()
			if err := w.insertTx(ctx, rows[i:min(i+bs, len(rows))]); err != nil {
				return nil, fmt.Errorf("batch insert: %w", err)
			}
			lat = append(lat, time.Since(t0))
		}
		el := time.Since(start)
		p50, p99 := percentiles(lat)
		res[1] = result{ops: float64(len(rows)) / el.Seconds(), p50: p50, p99: p99, elapsed: el, note: "latency per 1000-row tx"}
	}

	var n int
	if err := wdb.QueryRowContext(ctx, "SELECT count(*) FROM contexts").Scan(&n); err != nil || n != len(docs) {
		return nil, fmt.Errorf("row count %d (want %d): %v", n, len(docs), err)
	}
	if *flagCheck {
		t0 := time.Now()
		if _, err := wdb.ExecContext(ctx, "INSERT INTO contexts_fts(contexts_fts) VALUES('integrity-check')"); err != nil {
			return nil, fmt.Errorf("fts integrity-check: %w", err)
		}
		fmt.Printf("    %s: fts integrity-check ok (%v)\n", spec.name, time.Since(t0).Round(time.Millisecond))
	}

	rdb, err := openDB(spec, path, *flagReaderConn)
	if err != nil {
		return nil, fmt.Errorf("open readers: %w", err)
	}
	defer rdb.Close()
	if _, err := pragmas(ctx, rdb); err != nil {
		return nil, fmt.Errorf("reader: %w", err)
	}

	// 3) point reads by id
	{
		stmt, err := rdb.PrepareContext(ctx, selectByID)
		if err != nil {
			return nil, err
		}
		g := *flagReadG
		per := *flagReads / g
		lats := make([][]time.Duration, g)
		errs := make([]error, g)
		var wg sync.WaitGroup
		start := time.Now()
		for gi := 0; gi < g; gi++ {
			wg.Add(1)
			go func(gi int) {
				defer wg.Done()
				r := rand.New(rand.NewSource(int64(1000 + gi)))
				lat := make([]time.Duration, 0, per)
				var (
					rowid, created               int64
					tenant, title, content, meta string
				)
				for i := 0; i < per; i++ {
					id := docs[r.Intn(len(docs))].id
					t0 := time.Now()
					if err := stmt.QueryRowContext(ctx, id).Scan(&rowid, &tenant, &title, &content, &meta, &created); err != nil {
						errs[gi] = err
						return
					}
					lat = append(lat, time.Since(t0))
				}
				lats[gi] = lat
			}(gi)
		}
		wg.Wait()
		el := time.Since(start)
		stmt.Close()
		var all []time.Duration
		for gi := range lats {
			if errs[gi] != nil {
				return nil, fmt.Errorf("point read: %w", errs[gi])
			}
			all = append(all, lats[gi]...)
		}
		p50, p99 := percentiles(all)
		res[2] = result{ops: float64(len(all)) / el.Seconds(), p50: p50, p99: p99, elapsed: el}
	}

	// 4) FTS5 BM25 top-10
	{
		stmt, err := rdb.PrepareContext(ctx, searchFTS)
		if err != nil {
			return nil, err
		}
		g := *flagQueryG
		lats := make([][]time.Duration, g)
		hits := make([]int, g)
		errs := make([]error, g)
		var wg sync.WaitGroup
		start := time.Now()
		for gi := 0; gi < g; gi++ {
			wg.Add(1)
			go func(gi int) {
				defer wg.Done()
				var lat []time.Duration
				for qi := gi; qi < len(queries); qi += g {
					t0 := time.Now()
					rows, err := stmt.QueryContext(ctx, queries[qi])
					if err != nil {
						errs[gi] = err
						return
					}
					var id, title string
					var score float64
					for rows.Next() {
						if err := rows.Scan(&id, &title, &score); err != nil {
							errs[gi] = err
							rows.Close()
							return
						}
						hits[gi]++
					}
					if err := rows.Err(); err != nil {
						errs[gi] = err
						return
					}
					rows.Close()
					lat = append(lat, time.Since(t0))
				}
				lats[gi] = lat
			}(gi)
		}
		wg.Wait()
		el := time.Since(start)
		stmt.Close()
		var all []time.Duration
		total := 0
		for gi := range lats {
			if errs[gi] != nil {
				return nil, fmt.Errorf("fts query: %w", errs[gi])
			}
			all = append(all, lats[gi]...)
			total += hits[gi]
		}
		p50, p99 := percentiles(all)
		res[3] = result{ops: float64(len(all)) / el.Seconds(), p50: p50, p99: p99, elapsed: el,
			note: fmt.Sprintf("avg %.1f rows returned/query", float64(total)/float64(len(all)))}
	}
	return res, nil
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	default:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
}

func fmtOps(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func main() {
	flag.Parse()
	ctx := context.Background()

	// deterministic order: modernc first (init order follows file names)
	sort.Slice(drivers, func(i, j int) bool { return drivers[i].name > drivers[j].name })
	if *flagOnly != "" {
		keep := map[string]bool{}
		for _, s := range strings.Split(*flagOnly, ",") {
			keep[strings.TrimSpace(s)] = true
		}
		var ds []driverSpec
		for _, d := range drivers {
			if keep[d.name] {
				ds = append(ds, d)
			}
		}
		drivers = ds
	}
	if len(drivers) == 0 {
		fmt.Fprintln(os.Stderr, "no drivers selected")
		os.Exit(2)
	}

	fmt.Printf("driverbench: %s %s/%s, GOMAXPROCS=%d, NumCPU=%d\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU())
	for _, d := range drivers {
		fmt.Printf("  driver %-8s %s\n", d.name, d.version)
	}
	t0 := time.Now()
	vocab := genVocab(rand.New(rand.NewSource(*flagSeed)), 5000)
	nSingle := *flagSingle
	docs := genDocs(*flagSeed+1, vocab, nSingle+*flagBatchRows)
	queries := genQueries(*flagSeed+2, vocab, *flagQueries)
	var bytes int
	for _, d := range docs {
		bytes += len(d.content)
	}
	fmt.Printf("corpus: %d docs, avg content %d bytes, vocab %d words, %d queries (generated in %v)\n",
		len(docs), bytes/len(docs), len(vocab), len(queries), time.Since(t0).Round(time.Millisecond))
	fmt.Printf("sample content: %.160s...\nsample query: %q\n", docs[0].content, queries[0])

	// all[driver][run][scenario]
	all := map[string][][]result{}
	for run := 0; run < *flagRuns; run++ {
		order := append([]driverSpec(nil), drivers...)
		if run%2 == 1 { // alternate order to spread warm-up/thermal/noise bias
			for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
				order[i], order[j] = order[j], order[i]
			}
		}
		for _, d := range order {
			runtime.GC()
			fmt.Printf("\n== run %d, driver %s\n", run+1, d.name)
			start := time.Now()
			res, err := runDriver(ctx, d, docs, queries, nSingle)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", d.name, err)
				os.Exit(1)
			}
			for i, r := range res {
				extra := ""
				if r.note != "" {
					extra = " (" + r.note + ")"
				}
				fmt.Printf("    %-58s %10s ops/s  p50 %-9s p99 %-9s  %v%s\n", scenarioNames[i], fmtOps(r.ops), fmtDur(r.p50), fmtDur(r.p99), r.elapsed.Round(time.Millisecond), extra)
			}
			fmt.Printf("    total %v\n", time.Since(start).Round(time.Millisecond))
			all[d.name] = append(all[d.name], res)
		}
	}

	// Summary: mean ops/s of the runs; ratio = mattn / modernc (>1: mattn faster).
	fmt.Printf("\n## Summary (mean of %d runs; per-run values in brackets)\n\n", *flagRuns)
	names := []string{}
	for _, d := range drivers {
		names = append(names, d.name)
	}
	hdr := "| scenario |"
	sep := "|---|"
	for _, n := range names {
		hdr += " " + n + " ops/s (p50 / p99) |"
		sep += "---|"
	}
	_, hasM := all["modernc"]
	_, hasC := all["mattn"]
	if hasM && hasC {
		hdr += " ratio mattn/modernc |"
		sep += "---|"
	}
	fmt.Println(hdr)
	fmt.Println(sep)
	for si, sn := range scenarioNames {
		line := "| " + sn + " |"
		means := map[string]float64{}
		perRun := map[string][]float64{}
		for _, n := range names {
			var sum float64
			var runs []string
			var lat50, lat99 []time.Duration
			for _, rr := range all[n] {
				sum += rr[si].ops
				runs = append(runs, fmtOps(rr[si].ops))
				perRun[n] = append(perRun[n], rr[si].ops)
				lat50 = append(lat50, rr[si].p50)
				lat99 = append(lat99, rr[si].p99)
			}
			m := sum / float64(len(all[n]))
			means[n] = m
			var l50, l99 []string
			for i := range lat50 {
				l50 = append(l50, fmtDur(lat50[i]))
				l99 = append(l99, fmtDur(lat99[i]))
			}
			line += fmt.Sprintf(" %s [%s] (%s / %s) |", fmtOps(m), strings.Join(runs, ", "), strings.Join(l50, ", "), strings.Join(l99, ", "))
		}
		if hasM && hasC {
			var rs []string
			for i := range perRun["mattn"] {
				if i < len(perRun["modernc"]) {
					rs = append(rs, fmt.Sprintf("%.2f", perRun["mattn"][i]/perRun["modernc"][i]))
				}
			}
			line += fmt.Sprintf(" %.2fx [%s] |", means["mattn"]/means["modernc"], strings.Join(rs, ", "))
		}
		fmt.Println(line)
	}
	fmt.Printf("\ntotal wall time %v\n", time.Since(t0).Round(time.Second))
}
