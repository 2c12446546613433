package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/contextd/contextd"
)

// Creates do everything that does not need the write connection before
// their job is queued: validation, ids, the JSON of tags and metadata and
// of the change-log state. The writer goroutine is the store's one serial
// resource; a job then only runs its statements. A job may run twice (see
// writer.go): what is prepared here is read, never changed, by the job.

// newContext is one item of CreateContexts, ready to insert.
type newContext struct {
	c          *contextd.Context
	tags, meta string
	change     *contextd.Change // the change-log record of its creation
	err        error            // the item's validation error, returned at its turn
}

// prepareContexts builds the contexts of items as of now. An item that is
// not valid carries its error, so that the job fails at the same item, with
// the same error, as if it had validated inside the transaction.
func prepareContexts(sc contextd.Scope, items []contextd.ContextCreate, now time.Time) []newContext {
	out := make([]newContext, len(items))
	for i := range items {
		p := &out[i]
		loc := "items[" + strconv.Itoa(i) + "]"
		if p.c, p.err = contextd.NewContext(sc, &items[i], now, loc); p.err != nil {
			continue
		}
		if p.tags, p.err = jsonText(p.c.Tags); p.err != nil {
			continue
		}
		if p.meta, p.err = jsonText(p.c.Metadata); p.err != nil {
			continue
		}
		p.change, p.err = contextd.PutChange(sc, contextd.OpCreate, contextRecord(sc, p.c))
	}
	return out
}

// newMemory is one item of CreateMemories, ready to insert.
type newMemory struct {
	m          *contextd.Memory
	tags, meta string
	change     *contextd.Change
	err        error
}

// prepareMemories is prepareContexts for memories.
func prepareMemories(sc contextd.Scope, items []contextd.MemoryCreate, now time.Time) []newMemory {
	out := make([]newMemory, len(items))
	for i := range items {
		p := &out[i]
		loc := "items[" + strconv.Itoa(i) + "]"
		if p.m, p.err = contextd.NewMemory(sc, &items[i], now, loc); p.err != nil {
			continue
		}
		if p.tags, p.err = jsonText(p.m.Tags); p.err != nil {
			continue
		}
		if p.meta, p.err = jsonText(p.m.Metadata); p.err != nil {
			continue
		}
		p.change, p.err = contextd.PutChange(sc, contextd.OpCreate, memoryRecord(sc, p.m))
	}
	return out
}

// hasRelationships reports whether any item brings relationships: a new
// context has none but those (its id was free, and a deleted context's
// edges went with it).
func hasRelationships(items []contextd.ContextCreate) bool {
	for i := range items {
		if len(items[i].Relationships) > 0 {
			return true
		}
	}
	return false
}

// hasVector reports whether any item brings a vector.
func hasVector[T any](items []T, vec func(*T) []float32) bool {
	for i := range items {
		if vec(&items[i]) != nil {
			return true
		}
	}
	return false
}

// dirtyMarks is markDirty for the rows of one job: the top-k watermark of
// each partition is read once per job instead of once per row. A job sees
// its own transaction, which the top-k builder (another job) cannot change
// while it runs.
type dirtyMarks struct {
	pending map[int64]int64 // partition -> topk_segments.pending; -1: no segment
	next    int64           // the job's records' number (dirtyMark + 1); 0: not read yet
}

// mark records pk in topk_dirty, numbered dirtyMark + 1, when a segment of
// its partition holds (or is being built with) it.
func (d *dirtyMarks) mark(ctx context.Context, tx *conn, pk int64) error {
	part := pk >> pkBits
	if d.pending == nil {
		d.pending = map[int64]int64{}
	}
	pending, ok := d.pending[part]
	if !ok {
		err := tx.QueryRowContext(ctx, `SELECT pending FROM topk_segments WHERE part = ?`, part).Scan(&pending)
		if isNoRows(err) {
			pending, err = -1, nil
		}
		if err != nil {
			return err
		}
		d.pending[part] = pending
	}
	if pending < pk {
		return nil
	}
	if d.next == 0 {
		n, err := dirtyMark(ctx, tx)
		if err != nil {
			return err
		}
		d.next = n + 1
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO topk_dirty (pk, n) VALUES (?, ?) ON CONFLICT (pk) DO UPDATE SET n = excluded.n`, pk, d.next)
	return err
}

// markEpoch records, once per job that creates rows of kind with vectors,
// the first time that happened (vector_epochs): rows created from then on
// were written with an embedder.
func markEpoch(ctx context.Context, tx *conn, kind string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO vector_epochs (kind, since) VALUES (?, ?)`, kind, nanos(now))
	return err
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// insertIndexes adds a row's text to both full-text indexes (stemmed and
// raw) of its shard: title and content for contexts, content for memories.
func insertIndexes(ctx context.Context, tx *conn, ix ftsIndex, pk int64, text ...string) error {
	cols, marks := "content", "?"
	if len(text) == 2 {
		cols, marks = "title, content", "?, ?"
	}
	args := make([]any, 0, 1+len(text))
	args = append(args, pk)
	for _, t := range text {
		args = append(args, t)
	}
	for _, name := range []string{ix.stem, ix.raw} {
		tx.markFTS(name, pk)
		name = ftsName(name, shardOf(pk))
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+name+` (rowid, `+cols+`) VALUES (?, `+marks+`)`, args...); err != nil {
			return err
		}
	}
	return countText(ctx, tx, ix, pk, 1) // the tenant's counts (textstats.go)
}
