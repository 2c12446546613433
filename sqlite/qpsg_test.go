package sqlite

import (
	"context"
	"testing"
)

// TestStablePlans: the writer and every reader run with the query planner
// stability guarantee (qpsg.go), so FTS5's segment lookups are not
// re-prepared on every bind.
func TestStablePlans(t *testing.T) {
	s := openTopK(t)
	ctx := context.Background()
	w := <-s.writer
	on, err := planStability(w.c)
	s.writer <- w
	if err != nil || !on {
		t.Fatalf("writer: QPSG %v, %v", on, err)
	}
	var held []*conn
	for range cap(s.readers.sem) {
		c, err := s.readers.take(ctx, s.closed)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		if on, err := planStability(c.c); err != nil || !on {
			t.Fatalf("reader: QPSG %v, %v", on, err)
		}
	}
	for _, c := range held {
		s.readers.put(c)
	}
}
