package sqlite

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/contextd/contextd"
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

// TestStatsDoNotWaitForTheIndexSize: Stats (metrics scrapes, /health/details)
// waits at most statsIndexWait for the first measurement, answers -1 past
// it, and the measurement goes on for the next call; IndexStats waits for
// that same measurement, and a caller giving up does not cancel it.
func TestStatsDoNotWaitForTheIndexSize(t *testing.T) {
	defer func(d time.Duration) { statsIndexWait = d }(statsIndexWait)
	ctx := context.Background()
	s := openTopK(t)
	topkCreate(t, s, "a", rand.New(rand.NewPCG(5, 6)), 300, nil)

	// Every read connection held: the measurement cannot start reading.
	hold := make(chan struct{})
	var held, released sync.WaitGroup
	for range cap(s.readers.sem) {
		held.Add(1)
		released.Add(1)
		go func() {
			defer released.Done()
			s.read(ctx, "test", func(*conn) error {
				held.Done()
				<-hold
				return nil
			})
		}()
	}
	held.Wait()

	// A caller that gives up: the measurement goes on.
	gone, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, _, err := s.cachedIndexSize(gone, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a caller that gave up: %v", err)
	}
	statsIndexWait = 50 * time.Millisecond
	start := time.Now()
	st, err := s.Stats(ctx)
	if err != nil || st.IndexSizeBytes != -1 || !st.IndexMeasuredAt.IsZero() {
		t.Fatalf("stats while measuring: %+v %v; want index size -1", st, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("stats took %v while measuring", d)
	}
	close(hold)
	released.Wait()
	is, err := s.IndexStats(ctx, contextd.Scope{Tenant: "a"})
	if err != nil || is.IndexSizeBytes <= 0 || is.Documents != 300 {
		t.Fatalf("index stats: %+v %v", is, err)
	}
	want, err := s.measureIndexSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err = s.Stats(ctx)
	if err != nil || st.IndexSizeBytes != want || st.IndexMeasuredAt.IsZero() || is.IndexSizeBytes != want {
		t.Fatalf("after the measurement: stats %+v %v, index stats %d; want %d", st, err, is.IndexSizeBytes, want)
	}
}
