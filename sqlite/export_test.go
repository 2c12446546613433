package sqlite

import "context"

// WriterPragma reads a pragma on the store's write connection (for tests).
func WriterPragma(s *Store, name string) (string, error) {
	c := <-s.writer
	defer func() { s.writer <- c }()
	var v string
	err := c.QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&v)
	return v, err
}

// ReaderPragma reads a pragma on a connection of the reader pool (for tests).
func ReaderPragma(s *Store, name string) (string, error) {
	c, err := s.readers.take(context.Background(), s.closed)
	if err != nil {
		return "", err
	}
	defer s.readers.put(c)
	var v string
	err = c.QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&v)
	return v, err
}

// WriterStats returns the transactions the writer ran and the batches run
// again after a failed job.
func WriterStats(s *Store) (batches, retries int64) { return s.batches.Load(), s.retries.Load() }
