package sqlite

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/contextd/contextd"
)

var _ contextd.StatsReporter = (*Store)(nil)

// statsIndexMaxAge is how old a measured index size Stats may report before
// it measures again: measuring reads every page of the full-text indexes
// (dbstat), which a metrics scrape every few seconds must not do.
const statsIndexMaxAge = 5 * time.Minute

// Stats implements contextd.StatsReporter: the files' sizes, the reader
// pool, the write queue and the writer's counters, all without a query, and
// the full-text index size as last measured (again in the background once
// older than statsIndexMaxAge).
func (s *Store) Stats(ctx context.Context) (*contextd.StoreStats, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	st := &contextd.StoreStats{
		Kind:               s.Kind(),
		IndexSizeBytes:     -1,
		ReadConnsInUse:     len(s.readers.sem),
		ReadConns:          cap(s.readers.sem),
		WriteQueueLength:   len(s.wq),
		WriteQueueCapacity: cap(s.wq),
		WriteTransactions:  s.batches.Load(),
		WriteRetries:       s.retries.Load(),
		WriteJobs:          s.jobs.Load(),
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(s.path + suffix)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, s.fail(ctx, "stats", err)
		}
		st.SizeBytes += fi.Size()
	}

	size, at, err := s.cachedIndexSize(ctx, statsIndexMaxAge)
	if err != nil {
		return nil, err
	}
	st.IndexSizeBytes, st.IndexMeasuredAt = size, at.UTC()
	return st, nil
}
