package backup_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/backup"
	"github.com/contextd/contextd/sqlite"
)

// TestMeasure fills a SQLite store with CONTEXTD_BACKUP_MEASURE contexts
// (one relationship each) and reports the time and size of a backup, of
// its verification and of a restore. It is skipped unless the variable is
// set:
//
//	CONTEXTD_BACKUP_MEASURE=100000 go test ./backup/ -run TestMeasure -v -timeout 1h
func TestMeasure(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CONTEXTD_BACKUP_MEASURE"))
	if n <= 0 {
		t.Skip("CONTEXTD_BACKUP_MEASURE is not set")
	}
	ctx := context.Background()
	dir := t.TempDir()
	src, err := sqlite.Open(ctx, filepath.Join(dir, "src"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sc := contextd.Scope{Tenant: "bench"}
	start := time.Now()
	const batch = 1000
	for i := 0; i < n; i += batch {
		items := make([]contextd.ContextCreate, 0, batch)
		for j := i; j < min(n, i+batch); j++ {
			c := contextd.ContextCreate{ID: fmt.Sprintf("c%07d", j), Title: fmt.Sprintf("Decision %d about the storage layer", j),
				Content: fmt.Sprintf("Context %d: we keep the embedded store as the default, with WAL, FTS5 and a group-commit writer; "+
					"the change log records every mutation for point-in-time recovery. Related to %d.", j, j/2),
				UserID: "bench", Tags: []string{"bench", fmt.Sprintf("t%d", j%50)}, Metadata: map[string]any{"n": j}}
			if j > 0 {
				c.Relationships = []contextd.RelationshipCreate{{TargetID: fmt.Sprintf("c%07d", j-1), Type: contextd.RelFollows}}
				if j == i {
					c.Relationships = nil // targets of an earlier batch are fine too, but keep batches independent
				}
			}
			if err := c.Normalize("body"); err != nil {
				t.Fatal(err)
			}
			items = append(items, c)
		}
		if _, err := src.CreateContexts(ctx, sc, items); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("filled %d contexts in %v", n, time.Since(start).Round(time.Millisecond))
	storeBytes := dirSize(t, filepath.Join(dir, "src"))

	mgr, err := backup.New(backup.Options{Dir: filepath.Join(dir, "backups"), Store: src})
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	man, err := mgr.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	var bb int64
	for _, f := range man.Files {
		bb += f.Bytes
	}
	t.Logf("backup: %v, %.1f MiB (data %.1f MiB + change log %.1f MiB) for a %.1f MiB store (db + wal): %.0f%%",
		took.Round(time.Millisecond), mib(bb), mib(man.Files[0].Bytes), mib(man.Files[1].Bytes), mib(storeBytes), 100*float64(bb)/float64(storeBytes))
	start = time.Now()
	if _, err := backup.Verify(man.Path, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("verify: %v", time.Since(start).Round(time.Millisecond))
	dst, err := sqlite.Open(ctx, filepath.Join(dir, "dst"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	start = time.Now()
	res, err := backup.Restore(ctx, man.Path, dst, backup.RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restore: %v (%v records, %d-change log)", time.Since(start).Round(time.Millisecond), res.Records, man.Files[1].Records)
	if res.Records["context"] != int64(n) {
		t.Errorf("restored %d contexts, want %d", res.Records["context"], n)
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func dirSize(t *testing.T, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
