package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/contextd/contextd"
)

// Times are stored as unix nanoseconds UTC. Times beyond what an int64 of
// nanoseconds holds (after 2262) are clamped.
var (
	maxNanoTime = time.Unix(0, math.MaxInt64).UTC()
	minNanoTime = time.Unix(0, math.MinInt64).UTC()
)

func nanos(t time.Time) int64 {
	if t.After(maxNanoTime) {
		return math.MaxInt64
	}
	if t.Before(minNanoTime) {
		return math.MinInt64
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// queryInt64s returns the first column of every row of query, as integers.
func queryInt64s(ctx context.Context, tx *conn, query string, args ...any) ([]int64, error) {
	return queryColumn[int64](ctx, tx, query, args...)
}

// queryColumn returns the first column of every row of query.
func queryColumn[T any](ctx context.Context, tx *conn, query string, args ...any) ([]T, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func nullNanos(t *time.Time) any {
	if t == nil {
		return nil
	}
	return nanos(*t)
}

func fromNullNanos(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromNanos(n.Int64)
	return &t
}

// jsonText encodes v (tags, metadata, properties) for a TEXT column.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", contextd.Errorf(contextd.EINVALID, "a value is not representable as JSON: %v", err)
	}
	return string(b), nil
}

func decodeTags(s string) ([]string, error) {
	out := []string{}
	if s == "" || s == "[]" {
		return out, nil
	}
	if fast, ok := fastTags(s); ok { // jsonfast.go
		return fast, nil
	}
	err := json.Unmarshal([]byte(s), &out)
	if out == nil {
		out = []string{}
	}
	return out, err
}

func decodeObject(s string) (map[string]any, error) {
	out := map[string]any{}
	if s == "" || s == "{}" {
		return out, nil
	}
	if fast, ok := fastObject(s); ok { // jsonfast.go
		return fast, nil
	}
	err := json.Unmarshal([]byte(s), &out)
	if out == nil {
		out = map[string]any{}
	}
	return out, err
}

// idList encodes ids (strings or int64s) as a JSON array, bound as one
// parameter and expanded with json_each: one statement shape for any length,
// no limit on host parameters.
func idList[T any](ids []T) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

// A cursor is base64url(created_at as 8 big-endian bytes ‖ id): the keyset
// position of the last row of a page. It means nothing to clients.
func encodeCursor(createdAt int64, id string) string {
	b := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(b, uint64(createdAt))
	b = append(b, id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(c string) (createdAt int64, id string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 9 {
		return 0, "", contextd.Invalid("query.cursor", "is not a cursor this server made")
	}
	return int64(binary.BigEndian.Uint64(b[:8])), string(b[8:]), nil
}

// sqlBuilder accumulates a WHERE clause and its arguments.
type sqlBuilder struct {
	conds []string
	args  []any
}

func (b *sqlBuilder) add(cond string, args ...any) {
	b.conds = append(b.conds, cond)
	b.args = append(b.args, args...)
}

func (b *sqlBuilder) where() string {
	if len(b.conds) == 0 {
		return "1"
	}
	return strings.Join(b.conds, " AND ")
}

// keyset adds the condition for the page after cursor on (created_at, id) of
// table alias a, and returns the ORDER BY clause.
func (b *sqlBuilder) keyset(a, cursor string, asc bool) (string, error) {
	dir, cmp := "DESC", "<"
	if asc {
		dir, cmp = "ASC", ">"
	}
	if cursor != "" {
		ts, id, err := decodeCursor(cursor)
		if err != nil {
			return "", err
		}
		b.add("("+a+".created_at, "+a+".id) "+cmp+" (?, ?)", ts, id)
	}
	return a + ".created_at " + dir + ", " + a + ".id " + dir, nil
}

// checkLimit applies the default list limit.
func listLimit(n int) int {
	if n <= 0 {
		return contextd.DefaultListLimit
	}
	if n > contextd.MaxListLimit {
		return contextd.MaxListLimit
	}
	return n
}

func notFound(what, id string) error {
	return contextd.Errorf(contextd.ENOTFOUND, "%s %q not found", what, id)
}

func conflict(loc, format string, args ...any) error {
	e := contextd.Errorf(contextd.ECONFLICT, format, args...)
	if loc != "" {
		e.Fields = []contextd.FieldError{{Location: loc, Message: e.Message}}
	}
	return e
}
