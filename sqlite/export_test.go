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

// BuildTopK builds the top-k segment of the tenant's partition now.
func BuildTopK(s *Store, tenant string) error {
	ctx := context.Background()
	var r pkRange
	err := s.read(ctx, "test", func(c *conn) error {
		var err error
		r, err = s.tenantRange(ctx, c, tenant)
		return err
	})
	if err != nil {
		return err
	}
	return s.buildTopK(ctx, r.lo>>pkBits)
}

// SetTopK turns the top-k search path on or off (the index is kept).
func SetTopK(s *Store, on bool) { s.topk.off.Store(!on) }

// SetTopKColumns turns the top-k index's filter columns on or off (off:
// filtered searches seek each match's row).
func SetTopKColumns(s *Store, on bool) { s.topk.colsOff.Store(!on) }

// TopKServed is the number of searches answered from the top-k index.
func TopKServed(s *Store) int64 { return s.topk.served.Load() }

// KeyGenerationCached reports whether the store holds a key generation it
// may answer from memory (see keyGenCache).
func KeyGenerationCached(s *Store) bool {
	if s.keyGen == nil {
		return false
	}
	s.keyGen.mu.Lock()
	defer s.keyGen.mu.Unlock()
	return s.keyGen.valid
}

// HoldWriter runs a write job that keeps the writer busy until release is
// closed; it returns once the job has started.
func HoldWriter(s *Store, release <-chan struct{}) {
	started := make(chan struct{})
	go s.write(context.Background(), "test hold", func(*conn) error {
		close(started)
		<-release
		return nil
	})
	<-started
}

// KeyGenerationFresh reports whether the store would answer the key
// generation from memory now (cached, and nothing committed since).
func KeyGenerationFresh(s *Store) bool {
	_, ok, _, _ := s.keyGen.get()
	return ok
}
