package sqlite

import (
	"context"
	"strings"

	"github.com/contextd/contextd"
)

// readVectors is the index's reader (contextd.VectorReader): the stored
// vectors of model of a tenant's rows of kind, by id, a few hundred at a
// time, each row found by its (tenant, id) index and its vector by the
// vectors table's key.
func (s *Store) readVectors(ctx context.Context, tenant, kind, model string, ids []string, fn func(string, []float32)) error {
	const batch = 500
	return s.read(ctx, "read vectors", func(tx *conn) error {
		for len(ids) > 0 {
			part := ids[:min(batch, len(ids))]
			ids = ids[len(part):]
			args := make([]any, 0, 3+len(part))
			args = append(args, kind, tenant, model)
			for _, id := range part {
				args = append(args, id)
			}
			q := `SELECT r.id, v.vec FROM ` + vectorKindTable(kind) + ` r
				JOIN vectors v ON v.kind = ? AND v.row_pk = r.pk
				WHERE r.tenant = ? AND v.model = ? AND r.id IN (?` + strings.Repeat(", ?", len(part)-1) + `)`
			rows, err := tx.QueryContext(ctx, q, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id string
				var blob []byte
				if err := rows.Scan(&id, &blob); err != nil {
					rows.Close()
					return err
				}
				if v := contextd.DecodeVector(blob); v != nil {
					fn(id, v)
				}
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
}
