package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"time"
)

// Checkpoints run beside the writer, not in it. SQLite's automatic
// checkpoint runs inside the COMMIT that pushes the WAL past its threshold:
// the writer goroutine then copies the WAL's pages into the database file
// and fsyncs it while every queued write waits. Here a goroutine with a
// connection of its own runs PASSIVE checkpoints (they take no write lock:
// the writer goes on committing meanwhile) at most every checkpointEvery
// while writes come in (SQLite's own threshold, 1,000 pages, came about
// every 30 single creates). The writer keeps an automatic checkpoint at a much
// larger threshold (walFallbackPages) in case this one falls behind.

const (
	// checkpointEvery is the least time between two background checkpoints.
	// Each costs an fsync of the database file and one of the WAL.
	checkpointEvery = 500 * time.Millisecond
	// walFallbackPages is the writer's own automatic checkpoint threshold
	// (SQLite's default is 1,000 pages).
	walFallbackPages = 16384
)

type checkpointer struct {
	db   *sql.DB
	kick chan struct{} // a write committed
	stop chan struct{}
	done chan struct{}
	runs atomic.Int64 // checkpoints run, for tests
}

// startCheckpointer opens the checkpoint connection with pragmas (the
// writer's: synchronous=FULL makes a checkpoint fsync what it copied) and
// starts its goroutine.
func (s *Store) startCheckpointer(ctx context.Context, pragmas []string) error {
	db, err := openDB(s.path, s.key, pragmas)
	if err != nil {
		return fmt.Errorf("checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return fmt.Errorf("checkpointer: %w", err)
	}
	s.ckpt = &checkpointer{db: db, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go s.runCheckpointer(s.ckpt)
	return nil
}

// kickCheckpoint tells the checkpointer that a transaction committed.
func (s *Store) kickCheckpoint() {
	if s.ckpt == nil {
		return
	}
	select {
	case s.ckpt.kick <- struct{}{}:
	default:
	}
}

func (s *Store) runCheckpointer(k *checkpointer) {
	defer close(k.done)
	for {
		select {
		case <-k.stop:
			return
		case <-k.kick:
		}
		var busy, log, done int64
		err := k.db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done)
		k.runs.Add(1)
		if err != nil {
			s.log.Warn("background checkpoint", "err", err)
		}
		select {
		case <-k.stop:
			return
		case <-time.After(checkpointEvery):
		}
	}
}

// stopCheckpointer stops the goroutine and closes its connection.
func (s *Store) stopCheckpointer() error {
	if s.ckpt == nil {
		return nil
	}
	k := s.ckpt
	s.ckpt = nil
	close(k.stop)
	<-k.done
	return k.db.Close()
}
