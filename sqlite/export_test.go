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
	c := <-s.readers
	defer func() { s.readers <- c }()
	var v string
	err := c.QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&v)
	return v, err
}
