// Package storetest is the conformance suite of contextd stores: every
// behaviour a Store promises is one subtest here, and every backend runs it.
//
//	func TestConformance(t *testing.T) {
//		root := t.TempDir()
//		storetest.Run(t, func(t *testing.T, name string, now func() time.Time) contextd.Store {
//			s, err := sqlite.Open(context.Background(), filepath.Join(root, name), sqlite.Options{Now: now})
//			...
//		})
//	}
//
// The suite is the specification of a store (see STYLE.md, "Storage"): when
// behaviour changes, change it here first. It tests the contract — behaviour,
// error codes and ordering rules — and nothing of any one backend.
//
// Each subtest opens its own store under a name derived from the test's name,
// with its own fake clock (see Clock) standing still at Epoch until the test
// moves it, so timestamps, ordering and expiry are deterministic.
package storetest

import (
	"context"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/contextd/contextd"
)

// OpenFunc opens the store called name. Opening the same name again after the
// previous store was closed must give back the same data (the reopen tests
// rely on it); a new name is an empty store. now is the store's clock. The
// OpenFunc registers the store's Close with t.Cleanup; Close must be safe to
// call twice.
type OpenFunc func(t *testing.T, name string, now func() time.Time) contextd.Store

// Run runs every conformance test against the stores open makes. The subtests
// run in parallel, each on a fresh store.
func Run(t *testing.T, open OpenFunc) {
	t.Helper()
	seen := map[string]bool{}
	for _, group := range [][]test{
		storeTests(),
		contextTests(),
		filterTests(),
		relationshipTests(),
		graphTests(),
		searchTests(),
		memoryTests(),
		sessionTests(),
		keyTests(),
		securityTests(),
		auditTests(),
		isolationTests(),
		concurrencyTests(),
		reopenTests(),
		changeLogTests(),
		semanticTests(),
	} {
		for _, tc := range group {
			if seen[tc.name] {
				t.Fatalf("storetest: two tests named %q", tc.name)
			}
			seen[tc.name] = true
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.run(newEnv(t, open))
			})
		}
	}
}

// test is one behaviour of a store.
type test struct {
	name string
	run  func(e *env)
}

// Epoch is the time every test's clock starts at.
var Epoch = time.Date(2025, time.March, 14, 9, 26, 53, 0, time.UTC)

// Clock is a fake clock: it stands still until Advance or Set moves it. It is
// safe for concurrent use. Stores get its Now method as their clock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t.UTC()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t.UTC()
}

// The scopes the tests use. Tenant A is where most data lives; tenant B is the
// neighbour that must never see it.
var (
	tenantA = contextd.Scope{Tenant: "acme"}
	tenantB = contextd.Scope{Tenant: "globex"}
)

// defaultUser is the userId given to data a test creates without one, as the
// Service would fill it from the principal.
const defaultUser = "alice"

// env is one test's world: its store, clock and helpers.
type env struct {
	t     *testing.T
	ctx   context.Context
	open  OpenFunc
	name  string
	clock *Clock
	s     contextd.Store
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

func newEnv(t *testing.T, open OpenFunc) *env {
	t.Helper()
	name := unsafeName.ReplaceAllString(t.Name(), "_")
	if len(name) > 100 {
		name = name[len(name)-100:]
	}
	e := &env{t: t, ctx: t.Context(), open: open, name: name, clock: NewClock(Epoch)}
	e.s = open(t, name, e.clock.Now)
	if e.s == nil {
		t.Fatalf("OpenFunc returned a nil store for %q", name)
	}
	return e
}

// with returns a copy of e reporting to t (for nested subtests on the same store).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	c.ctx = t.Context()
	return &c
}

// reopen closes the store and opens the same name again.
func (e *env) reopen() {
	e.t.Helper()
	if err := e.s.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.s = e.open(e.t, e.name, e.clock.Now)
	if e.s == nil {
		e.t.Fatalf("OpenFunc returned a nil store on reopen of %q", e.name)
	}
}

func (e *env) now() time.Time { return e.clock.Now() }

// tick moves the clock forward by one second.
func (e *env) tick() time.Time { return e.clock.Advance(time.Second) }

func storeTests() []test {
	return []test{
		{"store/ping-kind", func(e *env) {
			if err := e.s.Ping(e.ctx); err != nil {
				e.t.Fatalf("Ping: %v", err)
			}
			if e.s.Kind() == "" {
				e.t.Errorf("Kind() is empty")
			}
		}},
		{"store/close-twice", func(e *env) {
			if err := e.s.Close(); err != nil {
				e.t.Fatalf("Close: %v", err)
			}
			_ = e.s.Close() // must not panic; an "already closed" error is fine
		}},
	}
}
