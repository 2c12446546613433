package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// tokenizer turns a query word into the terms of the stemmed full-text
// index, exactly as FTS5 does: it runs FTS5 itself, with the same tokenizer
// options as the contexts_fts shards, on a private in-memory database (an
// insert into an FTS5 table, its fts5vocab rows, a rollback). No stemmer of
// our own can disagree with the index. Answers are cached: query words
// repeat.
type tokenizer struct {
	mu    sync.Mutex
	db    *sql.DB
	c     *sql.Conn
	ins   *sql.Stmt
	sel   *sql.Stmt
	cache map[string][]string
}

// maxTokenCache bounds the cached words (a few MiB at most); past it the
// cache starts over.
const maxTokenCache = 50_000

func newTokenizer(ctx context.Context) (*tokenizer, error) {
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	t := &tokenizer{db: db, cache: map[string][]string{}}
	if t.c, err = db.Conn(ctx); err != nil {
		db.Close()
		return nil, err
	}
	for _, stmt := range []string{
		`CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = '` + stemTokenizer + `')`,
		`CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance')`,
	} {
		if _, err := t.c.ExecContext(ctx, stmt); err != nil {
			t.close()
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
	}
	if t.ins, err = t.c.PrepareContext(ctx, `INSERT INTO t (rowid, x) VALUES (1, ?)`); err == nil {
		t.sel, err = t.c.PrepareContext(ctx, `SELECT term FROM v ORDER BY offset`)
	}
	if err != nil {
		t.close()
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return t, nil
}

// tokens returns the index terms of text, in order.
func (t *tokenizer) tokens(ctx context.Context, text string) ([]string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if out, ok := t.cache[text]; ok {
		return out, nil
	}
	ctx = context.WithoutCancel(ctx) // an interrupt would leave the transaction open
	if _, err := t.c.ExecContext(ctx, `BEGIN`); err != nil {
		return nil, err
	}
	out, err := t.run(ctx, text)
	if _, rerr := t.c.ExecContext(ctx, `ROLLBACK`); err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if len(t.cache) >= maxTokenCache {
		clear(t.cache)
	}
	t.cache[text] = out
	return out, nil
}

func (t *tokenizer) run(ctx context.Context, text string) ([]string, error) {
	if _, err := t.ins.ExecContext(ctx, text); err != nil {
		return nil, err
	}
	rows, err := t.sel.QueryContext(ctx)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var term string
		if err := rows.Scan(&term); err != nil {
			return nil, err
		}
		out = append(out, term)
	}
	return out, rows.Err()
}

func (t *tokenizer) close() {
	if t.ins != nil {
		t.ins.Close()
	}
	if t.sel != nil {
		t.sel.Close()
	}
	if t.c != nil {
		t.c.Close()
	}
	t.db.Close()
}
