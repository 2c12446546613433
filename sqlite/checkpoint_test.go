package sqlite

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/contextd/contextd"
)

// The background checkpointer copies committed WAL frames into the database
// file while the writer goes on: after a burst of writes, every frame of the
// WAL is backfilled without the writer's own checkpoint.
func TestBackgroundCheckpoint(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), Options{TopKMinContexts: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if v, err := WriterPragma(s, "wal_autocheckpoint"); err != nil || v != "16384" {
		t.Fatalf("writer's wal_autocheckpoint = %q, %v", v, err)
	}
	sc := contextd.Scope{Tenant: "ckpt"}
	for range 20 {
		if _, err := s.CreateContexts(ctx, sc, []contextd.ContextCreate{{Title: "a title", Content: "some content to index"}}); err != nil {
			t.Fatal(err)
		}
	}
	// The database file holds every page of the latest snapshot only once
	// a checkpoint copied them there: the writer's own would wait for
	// 16,384 frames.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var pages, size int64
		err := s.read(ctx, "pages", func(c *conn) error {
			if err := c.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
				return err
			}
			return c.QueryRowContext(ctx, "PRAGMA page_size").Scan(&size)
		})
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(s.path)
		if err != nil {
			t.Fatal(err)
		}
		if s.ckpt.runs.Load() > 0 && st.Size() == pages*size {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s: %d background checkpoints, file of %d bytes for %d pages of %d", s.ckpt.runs.Load(), st.Size(), pages, size)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
