package sqlite

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// Merging tails by their posting lists (topk_tail.go). Tails cover
// ascending pk ranges, so a term's list over several tails is their lists
// one after the other: a merge reads the tails' lists term by term and
// writes each term's concatenation under a new generation, without reading
// or tokenizing a row. Its cost follows the tails' postings, a small part
// of building them. The changed rows of the merged tails keep their dirty
// records: the merged tail holds those rows as the tails did (a "changed
// rows" build, buildTail, tokenizes them again and clears them).

// mergeTails replaces the tails of partition part above from (at least two)
// with one holding their lists. from must be the watermark before one of
// them; while a whole build is under way, at or above its pending
// watermark. It reports whether it merged (not when the tails changed
// meanwhile, or there is nothing to merge).
func (s *Store) mergeTails(ctx context.Context, part, from int64) (bool, error) {
	st := s.topk
	st.tail.Lock()
	defer st.tail.Unlock()
	if err := s.dropUnused(ctx, part); err != nil {
		return false, err
	}
	var (
		gen, docs, tokens, wm int64
		gens                  []int64
	)
	// (1) The tails merged, and the generation.
	st.mu.Lock()
	err := s.write(ctx, "top-k index: merge start", func(tx *conn) error {
		v, ok, err := loadView(ctx, tx, part)
		if err != nil || !ok {
			return errors.Join(err, errors.New("no base segment"))
		}
		if p, busy := st.pendP[part]; busy && from < p {
			return nil // the whole build's switch replaces them
		}
		valid := false
		for _, g := range v.tails() {
			if g.lo == from+1 {
				valid = true
			}
			if g.lo > from {
				gens = append(gens, g.gen)
				docs, tokens, wm = docs+g.docs, tokens+g.tokens, g.watermark
			}
		}
		if !valid {
			return fmt.Errorf("no tail starts after %d", from)
		}
		if len(gens) < 2 {
			gens = nil
			return nil
		}
		gen, err = nextGen(ctx, tx, part, wm)
		return err
	})
	landed := true
	if err == nil && gens != nil {
		st.flying[gen]++
		landed = false
	}
	land := func() {
		if !landed {
			st.mu.Lock()
			st.land(gen)
			st.mu.Unlock()
			landed = true
		}
	}
	defer land()
	st.mu.Unlock()
	if err != nil || gens == nil {
		return false, err
	}
	if err := st.at("start"); err != nil {
		return false, err
	}
	// (2) The lists, term by term, each term's in the tails' order.
	lo := rangeOf(part).lo
	w := &postingWriter{ctx: ctx, s: s, part: part, gen: gen}
	err = s.read(ctx, "top-k index: merge", func(tx *conn) error {
		// The list of generations drives (CROSS JOIN): a range of the
		// primary key per tail, not a scan of the partition's postings.
		rows, err := tx.QueryContext(ctx, `SELECT p.term, p.postings FROM json_each(?) AS j
			CROSS JOIN topk_postings p ON p.part = ? AND p.gen = j.value ORDER BY p.term, j.key`, idList(gens), part)
		if err != nil {
			return err
		}
		defer rows.Close()
		var (
			term string
			cat  listCat
			raw  []byte
		)
		for rows.Next() {
			var t string
			if err := rows.Scan(&t, &raw); err != nil {
				return err
			}
			if t != term {
				if cat.n > 0 {
					if err := w.add(cat.row(term)); err != nil {
						return err
					}
				}
				term = t
				cat.reset(lo)
			}
			if err := cat.add(raw); err != nil {
				return fmt.Errorf("term %q: %w", t, err)
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if cat.n > 0 {
			return w.add(cat.row(term))
		}
		return nil
	})
	if err == nil {
		err = w.flush()
	}
	if err != nil {
		return false, err
	}
	// (3) The switch, if the tails are still those merged.
	var live []int64
	superseded := false
	st.mu.Lock()
	err = s.write(ctx, "top-k index: merge switch", func(tx *conn) error {
		v, ok, err := loadView(ctx, tx, part)
		if err != nil || !ok {
			return errors.Join(err, errors.New("no base segment"))
		}
		var now []int64
		for _, g := range v.tails() {
			if g.lo > from {
				now = append(now, g.gen)
			}
		}
		if fmt.Sprint(now) != fmt.Sprint(gens) {
			superseded = true
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM topk_tails WHERE part = ? AND lo > ?`, part, from); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO topk_tails (part, gen, lo, watermark, docs, tokens, built_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			part, gen, from+1, wm, docs, tokens, s.clock().UnixNano()); err != nil {
			return err
		}
		v, ok, err = loadView(ctx, tx, part)
		if err != nil || !ok {
			return errors.Join(err, errors.New("no base segment"))
		}
		live = v.gens()
		return nil
	})
	return s.switched(ctx, part, live, superseded, err, land) // (4) the tails merged
}

// listCat concatenates stored posting lists of ascending pk ranges into
// one: the rows of each after the count, the first one's pk delta taken
// from the previous list's last row instead of from lo.
type listCat struct {
	lo, last int64
	n        uint64
	data     []byte
}

func (c *listCat) reset(lo int64) {
	c.lo, c.last, c.n, c.data = lo, lo, 0, c.data[:0]
}

// add appends a stored list (count, then rows).
func (c *listCat) add(b []byte) error {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return errBadPostings
	}
	b = b[k:]
	pk := c.lo
	for i := uint64(0); i < n; i++ {
		var v [3]uint64
		for j := range v {
			x, k := binary.Uvarint(b)
			if k <= 0 {
				return errBadPostings
			}
			v[j], b = x, b[k:]
		}
		if v[0] == 0 {
			return errBadPostings
		}
		pk += int64(v[0])
		if pk <= c.last {
			return errors.New("posting lists out of order")
		}
		c.data = binary.AppendUvarint(c.data, uint64(pk-c.last))
		c.data = binary.AppendUvarint(c.data, v[1])
		c.data = binary.AppendUvarint(c.data, v[2])
		c.last = pk
	}
	if len(b) != 0 {
		return errBadPostings
	}
	c.n += n
	return nil
}

// row returns the concatenation, stored form, for term.
func (c *listCat) row(term string) postingRow {
	blob := binary.AppendUvarint(make([]byte, 0, len(c.data)+binary.MaxVarintLen64), c.n)
	return postingRow{term: term, df: int64(c.n), blob: append(blob, c.data...)}
}
