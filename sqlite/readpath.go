package sqlite

import (
	"context"
	"fmt"
)

// readerMmap returns the pragmas that let plaintext read connections read
// pages through one shared memory map of the file's first totalMB MiB
// instead of copying each page into their own page cache with a read(2):
// a point read (a context by id) then costs no system call and no page
// allocation, and the readers share one copy of the hot pages instead of
// each caching its own. The map is bounded by the store's cache budget
// (Options.CacheSizeMB), since the mapped pages count in the process's
// resident memory. Writes still go through the writer's write(2) calls
// (SQLite never writes through the map), so durability is unchanged.
func readerMmap(totalMB int) []string {
	return []string{fmt.Sprintf("mmap_size(%d)", int64(totalMB)<<20)}
}

// readPoint is read for the point reads of the hot path (a context by id
// with its edges): its statements run on a detached connection, which the
// driver runs without watching the context. With a cancellable context the
// driver starts a goroutine per statement to interrupt it on cancellation,
// which costs more than a point read itself; a point read cannot run long
// (readers never wait for the writer under WAL), so the context is checked
// before it starts instead.
func (s *Store) readPoint(ctx context.Context, op string, fn func(c *conn) error) error {
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, op, err)
	}
	c, err := s.readers.take(ctx, s.closed)
	if err != nil {
		return s.fail(ctx, op, err)
	}
	defer s.readers.put(c)
	c.detached = true
	defer func() { c.detached = false }()
	if _, err := c.ExecContext(ctx, "BEGIN"); err != nil {
		return s.fail(ctx, op, err)
	}
	err = fn(c)
	c.rollback()
	if err != nil {
		return s.fail(ctx, op, err)
	}
	return nil
}
