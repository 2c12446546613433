package httpapi

import (
	"context"
	"errors"
	"testing"
	"time"
)

type lazyKey struct{}

// TestLazyDeadlineActsAsWithDeadline: the lazy deadline answers as
// context.WithDeadline would at every step: before the deadline, after it,
// when the parent ends, when the request is over (stop), and for contexts
// derived from it; the timer is made only when someone waits.
func TestLazyDeadlineActsAsWithDeadline(t *testing.T) {
	parent := context.WithValue(context.Background(), lazyKey{}, "v")

	c, stop := withLazyDeadline(parent, time.Now().Add(time.Hour))
	if c.Err() != nil || c.Value(lazyKey{}) != "v" || c.state.Load() != lazyPending {
		t.Fatalf("fresh: err %v, value %v, state %d", c.Err(), c.Value(lazyKey{}), c.state.Load())
	}
	if d, ok := c.Deadline(); !ok || time.Until(d) < 59*time.Minute {
		t.Fatalf("deadline %v %v", d, ok)
	}
	stop()
	if !errors.Is(c.Err(), context.Canceled) {
		t.Fatalf("after stop: %v", c.Err())
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("after stop: Done is open")
	}

	// The deadline passes with nobody waiting: Err says so.
	c, stop = withLazyDeadline(parent, time.Now().Add(20*time.Millisecond))
	defer stop()
	time.Sleep(40 * time.Millisecond)
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("past the deadline: %v", c.Err())
	}
	<-c.Done()

	// Waiting: Done closes at the deadline, and so does a derived context.
	c, stop = withLazyDeadline(parent, time.Now().Add(30*time.Millisecond))
	defer stop()
	child, cancel := context.WithCancel(c)
	defer cancel()
	if c.state.Load() != lazyMade {
		t.Fatal("deriving a context did not make the timer")
	}
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the derived context did not end at the deadline")
	}
	if !errors.Is(child.Err(), context.DeadlineExceeded) || !errors.Is(c.Err(), context.DeadlineExceeded) || child.Value(lazyKey{}) != "v" {
		t.Fatalf("derived: %v, %v", child.Err(), c.Err())
	}

	// The parent ends first: Canceled, as WithDeadline says.
	pctx, pcancel := context.WithCancel(parent)
	c, stop = withLazyDeadline(pctx, time.Now().Add(time.Hour))
	defer stop()
	pcancel()
	if !errors.Is(c.Err(), context.Canceled) {
		t.Fatalf("parent cancelled: %v", c.Err())
	}

	// An earlier parent deadline is the deadline.
	pctx, pcancel = context.WithTimeout(parent, time.Minute)
	defer pcancel()
	c, stop = withLazyDeadline(pctx, time.Now().Add(time.Hour))
	defer stop()
	if d, _ := c.Deadline(); time.Until(d) > 2*time.Minute {
		t.Fatalf("deadline %v: not the parent's earlier one", d)
	}
}
