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

// statsIndexWait is how long Stats waits for the store's first index size
// measurement before it answers without one (IndexSizeBytes -1): a scrape
// or /health/details right after a large store opens must not wait for the
// walk of every index page (seconds to minutes), nor cancel it.
var statsIndexWait = time.Second

// Stats implements contextd.StatsReporter: the files' sizes, the reader
// pool, the write queue and the writer's counters, all without a query, and
// the full-text index size as last measured (again in the background once
// older than statsIndexMaxAge; -1 while the first measurement takes longer
// than statsIndexWait).
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

	wctx, cancel := context.WithTimeout(ctx, statsIndexWait)
	size, at, err := s.cachedIndexSize(wctx, statsIndexMaxAge)
	cancel()
	switch {
	case err == nil:
		st.IndexSizeBytes, st.IndexMeasuredAt = size, at.UTC()
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		// The first measurement goes on in the background: -1 until then.
	default:
		return nil, err
	}
	return st, nil
}
