package httpapi

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// The request timeout (Config.RequestTimeout) was a context.WithTimeout per
// request: a timer started and stopped, a cancel context and its
// allocations, about 2% of the CPU of a get. Yet most requests never wait
// on their context: a point read only asks ctx.Err() before it starts.
// lazyDeadline is that same deadline, with the timer made only when
// someone waits on the context (Done), so a request that never does pays
// for a clock read per Err instead. Once made, it is
// context.WithDeadline(parent, deadline) itself: every method answers as
// that context's, and contexts derived from it see its cancellation as
// they would see WithDeadline's.

// lazyDeadline is context.WithDeadline(parent, deadline), made on demand.
type lazyDeadline struct {
	parent   context.Context
	deadline time.Time

	mu     sync.Mutex
	state  atomic.Int32 // lazyPending, lazyMade or lazyStopped
	ctx    context.Context
	cancel context.CancelFunc
}

const (
	lazyPending = iota // no context made yet
	lazyMade           // ctx is the real context
	lazyStopped        // stopped before any was made: the request is over
)

// withLazyDeadline returns the context and its stop function (as
// context.WithDeadline's cancel: call it when the request is done).
func withLazyDeadline(parent context.Context, deadline time.Time) (*lazyDeadline, func()) {
	c := newLazyDeadline(parent, deadline)
	return c, c.stop
}

// newLazyDeadline returns the context; its stop method is the cancel
// function (a method value would be one more allocation per request).
func newLazyDeadline(parent context.Context, deadline time.Time) *lazyDeadline {
	return &lazyDeadline{parent: parent, deadline: deadline}
}

// real makes the real context (a cancelled one after stop) and returns it.
func (c *lazyDeadline) real() context.Context {
	if c.state.Load() == lazyMade {
		return c.ctx
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state.Load() {
	case lazyPending:
		c.ctx, c.cancel = context.WithDeadline(c.parent, c.deadline)
	case lazyStopped:
		c.ctx, c.cancel = context.WithCancel(c.parent)
		c.cancel()
	}
	c.state.Store(lazyMade)
	return c.ctx
}

func (c *lazyDeadline) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load() == lazyMade {
		c.cancel()
		return
	}
	c.state.Store(lazyStopped)
}

// Deadline implements context.Context: the earlier of the parent's and ours.
func (c *lazyDeadline) Deadline() (time.Time, bool) {
	if d, ok := c.parent.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

// Done implements context.Context; it makes the real context.
func (c *lazyDeadline) Done() <-chan struct{} { return c.real().Done() }

// Err implements context.Context. Until the real context is made, it is
// nil as long as the parent is not done, the deadline has not passed and
// the request is not over; otherwise the real context says why.
func (c *lazyDeadline) Err() error {
	if c.state.Load() == lazyPending && c.parent.Err() == nil && time.Now().Before(c.deadline) {
		return nil
	}
	return c.real().Err()
}

// Value implements context.Context.
func (c *lazyDeadline) Value(key any) any {
	if c.state.Load() == lazyMade {
		return c.ctx.Value(key)
	}
	return c.parent.Value(key)
}
