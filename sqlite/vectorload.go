package sqlite

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/contextd/contextd"
)

// loadContextVectors is loadVectors for contexts, streamed: each row is
// read on the C API into one buffer that the next row overwrites
// (queryRowsBuf), only the columns the index keeps (no texts, no Context),
// and its vector is decoded into one float buffer that the index quantizes
// into its own arrays. The garbage of a load is then a row's tags and
// metadata, not its stored vector decoded twice (the float32 vector, 1 KiB
// at 256 dimensions, and a Context) for each of up to millions of rows.
// The entries fn gets are valid only during the call (the index copies
// what it keeps: ids into its arena, interned strings cloned).
func (s *Store) loadContextVectors(ctx context.Context, tenant, model string, fn func(contextd.VectorEntry)) error {
	// The FROM and WHERE of the former loader, so that rows come in the
	// same order (the index's sign-bit centre is the mean of the rows
	// loaded when the shard reaches each size).
	const q = `SELECT c.id, c.type, c.status, c.user_id, c.session_id, c.tags, c.metadata, c.created_at, v.vec
		FROM contexts c JOIN vectors v ON v.kind = 'context' AND v.row_pk = c.pk
		WHERE c.tenant = ? AND v.model = ?`
	var vec []float32
	n := 0
	return s.read(ctx, "load vectors", func(tx *conn) error {
		return tx.queryRowsBuf(ctx, q, []string{tenant, model}, true, func(row rowReader) error {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			var e contextd.VectorEntry
			var tags, meta, blob string
			var err error
			for i, dst := range []*string{&e.ID, &e.Type, &e.Status, &e.UserID, &e.SessionID, &tags, &meta} {
				if *dst, err = row.str(i); err != nil {
					return err
				}
			}
			created, err := row.int(7)
			if err != nil {
				return err
			}
			if blob, err = row.str(8); err != nil {
				return err
			}
			if e.Tags, err = decodeTags(tags); err != nil {
				return fmt.Errorf("context %q: tags: %w", e.ID, err)
			}
			if e.Metadata, err = decodeObject(meta); err != nil {
				return fmt.Errorf("context %q: metadata: %w", e.ID, err)
			}
			e.CreatedAt = fromNanos(created)
			vec = contextd.DecodeVectorInto(vec, unsafe.Slice(unsafe.StringData(blob), len(blob)))
			e.Vector = vec
			fn(e)
			return nil
		})
	})
}
