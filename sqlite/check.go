package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/contextd/contextd"
)

var _ contextd.Checker = (*Store)(nil)

// ftsIndexes are the full-text indexes and the table whose rows each covers
// (external content: the index holds words and rowids, the table the text).
// Each is indexShards shards, each over a view of its rows; a check item
// covers every shard of an index.
var ftsIndexes = []struct{ index, table string }{
	{"contexts_fts", "contexts"},
	{"contexts_raw", "contexts"},
	{"memories_fts", "memories"},
	{"memories_raw", "memories"},
}

// maxCheckMessages bounds the problems one PRAGMA may report.
const maxCheckMessages = 10

// Check implements contextd.Checker.
//
// Every check reads one snapshot on a reader, so it never blocks writes:
//   - rows: each full-text index holds exactly the rows of its table (its
//     _docsize shadow table has one row per indexed row): none missing, none
//     left over;
//   - structure: PRAGMA integrity_check(index), FTS5's own consistency check
//     of the index b-trees;
//   - change log: its seqs are continuous from the oldest retained change to
//     the last seq given (counts), and the newest contextd.ChangeTail changes
//     are in order and agree with their objects' rows;
//   - vectors: every context and memory created since the store first kept a
//     vector of its kind has one, of opts.VectorModel and opts.VectorDims
//     (when given), and no vector lacks its row (one pass over the rows).
//
// opts.Full adds:
//   - content: FTS5's 'integrity-check' command with rank 1, which
//     re-tokenizes every row and compares it with the index. It is a write
//     statement to SQLite, so it runs on the writer, one index per
//     transaction: writes queue meanwhile (about 15 µs per row and index).
//   - pages: PRAGMA quick_check over the whole database file;
//   - the change log's order over every change, and its agreement with every
//     row and every logged object (one index seek per row and object).
func (s *Store) Check(ctx context.Context, opts contextd.CheckOptions) (*contextd.CheckReport, error) {
	start := time.Now()
	rep := &contextd.CheckReport{OK: true, Full: opts.Full, StartedAt: s.clock()}
	add := func(it contextd.CheckItem) {
		rep.Items = append(rep.Items, it)
		rep.OK = rep.OK && it.OK
	}
	var shards []int
	err := s.read(ctx, "check", func(c *conn) error {
		var err error
		if shards, err = existingShards(ctx, c); err != nil {
			return err
		}
		for _, ix := range ftsIndexes {
			it := contextd.CheckItem{Name: ix.index + " rows", OK: true}
			var bad []string
			for _, k := range shards {
				sh, err := checkRows(ctx, c, ftsName(ix.index, k), shardView(ix.table, k), ix.table)
				if err != nil {
					return err
				}
				it.Rows += sh.Rows
				it.Indexed += sh.Indexed
				if !sh.OK {
					it.OK = false
					bad = append(bad, sh.Detail+" (shard "+strconv.Itoa(k)+")")
				}
			}
			it.Detail = strings.Join(bad, "; ")
			add(it)
		}
		for _, ix := range ftsIndexes {
			var bad []string
			for _, k := range shards {
				name := ftsName(ix.index, k)
				if err := refreshIndex(ctx, c, name); err != nil {
					return err
				}
				msgs, err := pragmaCheck(ctx, c, "PRAGMA integrity_check("+name+")")
				if err != nil {
					return err
				}
				if it := checkItem(name, msgs); !it.OK {
					bad = append(bad, "shard "+strconv.Itoa(k)+": "+it.Detail)
				}
			}
			add(contextd.CheckItem{Name: ix.index + " structure", OK: len(bad) == 0, Detail: strings.Join(bad, "; ")})
		}
		it, err := checkTextStats(ctx, c)
		if err != nil {
			return err
		}
		add(it)
		if err := checkChangeLog(ctx, c, opts.Full, add); err != nil {
			return err
		}
		if err := checkVectors(ctx, c, opts, add); err != nil {
			return err
		}
		items, err := s.checkTopK(ctx, c, opts.Full)
		for _, it := range items {
			add(it)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if opts.Full {
		for _, ix := range ftsIndexes {
			it := contextd.CheckItem{Name: ix.index + " content", OK: true}
			var bad []string
			for _, k := range shards {
				sh, err := s.checkContent(ctx, ftsName(ix.index, k))
				if err != nil {
					return nil, err
				}
				if !sh.OK {
					it.OK = false
					bad = append(bad, "shard "+strconv.Itoa(k)+": "+sh.Detail)
				}
			}
			it.Detail = strings.Join(bad, "; ")
			add(it)
		}
		var msgs []string
		err := s.read(ctx, "check", func(c *conn) error {
			for _, k := range shards {
				for _, ix := range shardIndexes(k) {
					if err := refreshIndex(ctx, c, ix); err != nil {
						return err
					}
				}
			}
			var err error
			msgs, err = pragmaCheck(ctx, c, "PRAGMA quick_check")
			return err
		})
		if err != nil {
			return nil, err
		}
		add(checkItem("database pages", msgs))
	}
	rep.DurationMs = float64(time.Since(start).Microseconds()) / 1000
	return rep, nil
}

// checkRows compares an index's rows with its table's.
// label names the rows' table in the report (table may be a view of a shard).
func checkRows(ctx context.Context, c *conn, index, table, label string) (contextd.CheckItem, error) {
	it := contextd.CheckItem{Name: index + " rows"}
	doc := index + "_docsize"
	var missing, extra int64
	if err := c.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&it.Rows); err != nil {
		return it, err
	}
	if err := c.QueryRowContext(ctx, `SELECT count(*) FROM `+doc).Scan(&it.Indexed); err != nil {
		return it, err
	}
	if err := c.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` t
		WHERE NOT EXISTS (SELECT 1 FROM `+doc+` d WHERE d.id = t.pk)`).Scan(&missing); err != nil {
		return it, err
	}
	if err := c.QueryRowContext(ctx, `SELECT count(*) FROM `+doc+` d
		WHERE NOT EXISTS (SELECT 1 FROM `+table+` t WHERE t.pk = d.id)`).Scan(&extra); err != nil {
		return it, err
	}
	it.OK = missing == 0 && extra == 0
	if !it.OK {
		it.Detail = fmt.Sprintf("%d rows of %s are not indexed and %d indexed rows have no row", missing, label, extra)
	}
	return it, nil
}

// pragmaCheck runs an integrity PRAGMA and returns its messages ("ok" alone
// when all is well).
func pragmaCheck(ctx context.Context, c *conn, query string) ([]string, error) {
	rows, err := c.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() && len(msgs) < maxCheckMessages {
		var m string
		if err := rows.Scan(&m); err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, rows.Err()
}

func checkItem(name string, msgs []string) contextd.CheckItem {
	it := contextd.CheckItem{Name: name, OK: len(msgs) == 1 && msgs[0] == "ok"}
	if !it.OK {
		it.Detail = strings.Join(msgs, "; ")
		if it.Detail == "" {
			it.Detail = "no answer"
		}
	}
	return it
}

// checkContent runs FTS5's integrity-check of one index against its rows.
func (s *Store) checkContent(ctx context.Context, index string) (contextd.CheckItem, error) {
	it := contextd.CheckItem{Name: index + " content", OK: true}
	err := s.write(ctx, "check "+index, func(c *conn) error {
		_, err := c.ExecContext(ctx, `INSERT INTO `+index+`(`+index+`, rank) VALUES ('integrity-check', 1)`)
		return err
	})
	if code, ok := errCode(err); ok && code&0xff == 11 { // SQLITE_CORRUPT (SQLITE_CORRUPT_VTAB included)
		it.OK = false
		it.Detail = "the index does not match the rows: " + errMessage(err)
		return it, nil
	}
	return it, err
}

// refreshIndex makes FTS5 read the full-text index name's structure (its
// list of segments) again if the database changed. FTS5 keeps it between
// statements and drops it only as a cursor opens; integrity PRAGMAs open
// none, and would read segments that a merge has replaced since.
func refreshIndex(ctx context.Context, c *conn, name string) error {
	var pk int64
	err := c.QueryRowContext(ctx, `SELECT rowid FROM `+name+` LIMIT 1`).Scan(&pk)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	return err
}
