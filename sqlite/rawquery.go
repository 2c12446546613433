package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// queryRaw runs query on the driver's own statement, prepared once per
// connection and kept, and calls each with every row as the driver gives
// it (the slice is reused between rows). It skips database/sql's rows: its
// locks, its per-row conversions and the copies they make, which cost more
// than a point read's own decoding. The connection is this conn's for its
// whole life (the pool hands it to one goroutine at a time), so the
// statement stays valid as long as the conn; close closes it.
func (c *conn) queryRaw(ctx context.Context, query string, args []driver.NamedValue, each func(row []driver.Value) error) error {
	ctx = c.context(ctx)
	return c.c.Raw(func(dc any) error {
		st := c.raw[query]
		if st == nil {
			p, ok := dc.(driver.ConnPrepareContext)
			if !ok {
				return errors.New("sqlite: the driver's connection cannot prepare with a context")
			}
			var err error
			if st, err = p.PrepareContext(ctx, query); err != nil {
				return err
			}
			if _, ok := st.(driver.StmtQueryContext); !ok {
				st.Close()
				return errors.New("sqlite: the driver's statement cannot query with a context")
			}
			if c.raw == nil {
				c.raw = map[string]driver.Stmt{}
			}
			c.raw[query] = st
		}
		rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
		if err != nil {
			return err
		}
		n := len(rows.Columns())
		if cap(c.rowBuf) < n {
			c.rowBuf = make([]driver.Value, n)
		}
		row := c.rowBuf[:n]
		clear(row)
		for {
			if err := rows.Next(row); err != nil {
				cerr := rows.Close()
				if err == io.EOF {
					err = cerr
				}
				clear(row) // keep no row's strings alive in the buffer
				return err
			}
			if err := each(row); err != nil {
				rows.Close()
				clear(row)
				return err
			}
		}
	})
}

// closeRaw closes the statements of queryRaw.
func (c *conn) closeRaw() {
	if len(c.raw) == 0 {
		return
	}
	_ = c.c.Raw(func(any) error {
		for q, st := range c.raw {
			st.Close()
			delete(c.raw, q)
		}
		return nil
	})
}

// rawString converts a column value to a string the way database/sql's Scan
// into a *string does.
func rawString(v driver.Value) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	case nil:
		return "", errors.New("converting NULL to string is unsupported")
	}
	return "", fmt.Errorf("unsupported column value of type %T", v)
}

// rawInt converts a column value to an int64 the way database/sql's Scan
// into an *int64 does.
func rawInt(v driver.Value) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case string:
		return parseRawInt(v)
	case []byte:
		return parseRawInt(string(v))
	case nil:
		return 0, errors.New("converting NULL to int64 is unsupported")
	}
	return 0, fmt.Errorf("unsupported column value of type %T for an int64", v)
}

func parseRawInt(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("converting %q to int64: %w", s, err)
	}
	return n, nil
}
