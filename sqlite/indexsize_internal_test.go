package sqlite

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// TestIndexSize: the size measured table by table equals dbstat's walk of
// the whole file restricted to the same tables, and a stale measurement is
// returned at once while a new one is made in the background.
func TestIndexSize(t *testing.T) {
	ctx := context.Background()
	s := openTopK(t)
	r := rand.New(rand.NewPCG(3, 4))
	for _, tenant := range []string{"a", "b", "c"} {
		topkCreate(t, s, tenant, r, 300, nil)
	}
	got, err := s.measureIndexSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	err = s.read(ctx, "test", func(c *conn) error {
		return c.QueryRowContext(ctx, `SELECT sum(pgsize) FROM dbstat WHERE aggregate = TRUE AND (
			name GLOB 'contexts_fts_*' OR name GLOB 'contexts_raw_*' OR name GLOB 'memories_fts_*' OR name GLOB 'memories_raw_*')`).Scan(&want)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got <= 0 || got != want {
		t.Fatalf("index size %d, whole-file dbstat %d", got, want)
	}

	first, at, err := s.cachedIndexSize(ctx, time.Hour)
	if err != nil || first != got || at.IsZero() {
		t.Fatalf("first measurement: %d at %v, %v (want %d)", first, at, err, got)
	}
	topkCreate(t, s, "d", r, 300, nil) // the index grows
	s.sizeMu.Lock()
	s.sizeAt = time.Now().Add(-time.Hour) // and the measurement is stale
	s.sizeMu.Unlock()
	stale, staleAt, err := s.cachedIndexSize(ctx, time.Minute)
	if err != nil || stale != first || time.Since(staleAt) < 59*time.Minute {
		t.Fatalf("stale call: %d at %v, %v; want the last measurement %d at once", stale, staleAt, err, first)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		size, _, err := s.cachedIndexSize(ctx, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if size > first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background measurement never came: still %d", size)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
