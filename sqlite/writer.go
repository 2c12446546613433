package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Group commit. Every write is a job for the one writer goroutine. While a
// commit (and its fsync) runs, new jobs queue up; the writer then runs all of
// them in one transaction and one fsync, and answers each job only after the
// commit, so a nil answer still means "on disk". A job's result is the one it
// would have had alone, in queue order:
//
//   - First the batch runs optimistically, the jobs one after another in one
//     transaction with nothing in between (FTS5 flushes its pending terms at
//     every savepoint, so savepoints cost a segment per job).
//   - When a job fails, the transaction is rolled back, the job gets its error,
//     and the rest of the batch runs again, each job inside a savepoint so that
//     a failing one is undone alone. Every job thus runs at most twice; jobs
//     keep no state between runs.
//
// Statements of a running job ignore cancellation (the connection is
// detached): an interrupt would roll back the whole shared transaction. A job
// whose context is done before it starts is answered with that error.

// maxBatch bounds the jobs of one transaction.
const maxBatch = 256

type job struct {
	ctx  context.Context
	fn   func(c *conn) error
	done chan error
}

// write runs fn in a write transaction of the writer and returns once it is
// committed (durably: synchronous=FULL) or failed. Errors are translated and
// wrapped with op.
func (s *Store) write(ctx context.Context, op string, fn func(c *conn) error) error {
	j := &job{ctx: ctx, fn: withTextStats(fn), done: make(chan error, 1)} // textstats.go
	if err := s.enqueue(j); err != nil {
		return s.fail(ctx, op, err)
	}
	if err := <-j.done; err != nil { // always answered, even when closing
		return s.fail(ctx, op, err)
	}
	return nil
}

func (s *Store) enqueue(j *job) error {
	s.wmu.RLock()
	defer s.wmu.RUnlock()
	if s.wclosed {
		return errClosed
	}
	select {
	case s.wq <- j:
		return nil
	case <-j.ctx.Done():
		return j.ctx.Err()
	}
}

// runWriter is the writer goroutine: it takes the queued jobs in batches
// until the queue is closed and empty.
//
// A batch waits briefly for the callers of the previous one. When a commit
// answers k jobs, those k callers come back with their next writes a little
// later, while the writer has already started the next transaction with
// whatever was queued then: with c concurrent writers the batches settle at
// about c/2 jobs and every fsync serves half of them. So when fewer jobs are
// queued than the previous batch carried, the writer waits for the missing
// ones, at most gatherWait(previous transaction's time), which keeps the
// wait small beside the commit it saves. A single writer (batches of 1)
// never waits: its job is already there.
func (s *Store) runWriter() {
	defer close(s.wdone)
	batch := make([]*job, 0, maxBatch)
	var (
		last   int           // jobs of the previous batch
		lastTx time.Duration // its transaction's time
		timer  = time.NewTimer(time.Hour)
	)
	timer.Stop()
	for {
		j, ok := s.nextJob()
		if !ok {
			return
		}
		batch = append(batch[:0], j)
		open := s.fill(&batch)
		if open && len(batch) < last {
			timer.Reset(gatherWait(lastTx))
		wait:
			for len(batch) < last {
				select {
				case j, ok := <-s.wq:
					if !ok {
						open = false
						break wait
					}
					batch = append(batch, j)
					if open = s.fill(&batch); !open {
						break wait
					}
				case <-timer.C:
					break wait
				}
			}
			if !timer.Stop() {
				select { // drain a fired timer for the next Reset
				case <-timer.C:
				default:
				}
			}
		}
		c := <-s.writer
		s.batches.Add(1)
		s.jobs.Add(int64(len(batch)))
		start := time.Now()
		s.wBusySince.Store(start.UnixNano())
		s.runBatch(c, batch)
		lastTx, last = time.Since(start), len(batch)
		s.wLastDone.Store(time.Now().UnixNano())
		s.wBusySince.Store(0)
		s.writer <- c
		s.kickCheckpoint()
		clear(batch)
	}
}

// nextJob waits for the next job; ok is false once the queue is closed and
// empty. While none comes for idleMergeAfter, the writer merges full-text
// segments, a bounded step at a time (ftsmerge.go), then, idle longer,
// consolidates them (ftsconsolidate.go).
func (s *Store) nextJob() (j *job, ok bool) {
	select {
	case j, ok = <-s.wq:
		return j, ok
	default:
	}
	start := time.Now()
	idle := time.NewTimer(idleMergeAfter)
	defer idle.Stop()
	for {
		select {
		case j, ok = <-s.wq:
			return j, ok
		case <-idle.C:
			select { // a job that came with the timer goes first
			case j, ok = <-s.wq:
				return j, ok
			default:
			}
			c := <-s.writer
			more := s.mergeStep(c)
			var wait time.Duration
			if !more {
				more, wait = s.consolidateStep(c, time.Since(start))
			}
			s.writer <- c
			if !more {
				j, ok = <-s.wq
				return j, ok
			}
			idle.Reset(wait) // the next step, unless a job came meanwhile
		}
	}
}

// fill adds the queued jobs to the batch without waiting, up to maxBatch. It
// returns false once the queue is closed.
func (s *Store) fill(batch *[]*job) bool {
	for len(*batch) < maxBatch {
		select {
		case j, ok := <-s.wq:
			if !ok {
				return false
			}
			*batch = append(*batch, j)
		default:
			return true
		}
	}
	return true
}

// gatherWait bounds the wait for the callers of the previous batch: a
// quarter of its transaction's time (mostly its fsync), at most 2 ms.
func gatherWait(lastTx time.Duration) time.Duration {
	return min(lastTx/4, 2*time.Millisecond)
}

// runBatch runs the jobs in one transaction and answers each of them.
func (s *Store) runBatch(c *conn, batch []*job) {
	errs := make([]error, len(batch))
	pending := make([]int, 0, len(batch)) // jobs still to run
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		pending = append(pending, i)
	}
	savepoints := false
	for len(pending) > 0 {
		failed, err := s.tryBatch(c, batch, pending, errs, savepoints)
		if err != nil { // the transaction itself failed: nothing was committed
			for _, i := range pending {
				if errs[i] == nil {
					errs[i] = err
				}
			}
			break
		}
		if failed < 0 {
			break // committed
		}
		// Job failed, got its error and leaves; the others run again.
		pending = removeIndex(pending, failed)
		savepoints = true
		s.retries.Add(1)
	}
	for i, j := range batch {
		j.done <- errs[i]
	}
}

// tryBatch runs the pending jobs in one transaction. Without savepoints, the
// first failing job aborts the transaction: tryBatch rolls back, records
// that job's error and returns its index for a retry of the others. With
// savepoints, failing jobs are rolled back alone. It returns -1 once the
// transaction is committed, and an error when the transaction cannot run or
// commit.
func (s *Store) tryBatch(c *conn, batch []*job, pending []int, errs []error, savepoints bool) (failed int, err error) {
	ctx := context.Background()
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return -1, err
	}
	for _, i := range pending {
		j := batch[i]
		if err := j.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if !savepoints {
			if err := j.fn(c); err != nil {
				c.rollback()
				errs[i] = err
				return i, nil
			}
			continue
		}
		if _, err := c.ExecContext(ctx, "SAVEPOINT job"); err != nil {
			c.rollback()
			return -1, err
		}
		if err := j.fn(c); err != nil {
			errs[i] = err
			// ROLLBACK TO fails when SQLite already rolled the whole
			// transaction back (an I/O error, a full disk): then nothing of
			// this batch may be reported as written.
			if _, rerr := c.ExecContext(ctx, "ROLLBACK TO job"); rerr != nil {
				c.rollback()
				return -1, fmt.Errorf("transaction aborted: %w", errors.Join(err, rerr))
			}
		}
		if _, err := c.ExecContext(ctx, "RELEASE job"); err != nil {
			c.rollback()
			return -1, err
		}
	}
	kg := s.keyGenBeforeCommit(ctx, c) // keygen.go
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		c.rollback()
		return -1, err
	}
	s.keyGenAfterCommit(kg)
	return -1, nil
}

func removeIndex(s []int, v int) []int {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}
