package storetest

import (
	"fmt"
	"sync"

	"github.com/contextd/contextd"
)

func concurrencyTests() []test {
	return []test{
		{"concurrency/creates", testConcurrentCreates},
		{"concurrency/if-version-race", testConcurrentIfVersion},
		{"concurrency/memories-one-new-session", testConcurrentSession},
		{"concurrency/readers-and-writers", testConcurrentReadWrite},
	}
}

// parallel runs fn(i) for i in 0..n-1 on n goroutines released at once and
// returns their errors.
func parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// normalized returns c with the defaults a Service would fill (safe off the test goroutine).
func normalized(c contextd.ContextCreate) (contextd.ContextCreate, error) {
	if c.UserID == "" {
		c.UserID = defaultUser
	}
	err := c.Normalize("body")
	return c, err
}

func testConcurrentCreates(e *env) {
	const workers, each = 8, 50
	var mu sync.Mutex
	made := map[string]bool{}
	errs := parallel(workers, func(w int) error {
		for i := range each {
			c := contextd.ContextCreate{Title: fmt.Sprintf("worker %d item %d", w, i), Content: "concurrent capybara", Tags: []string{fmt.Sprintf("w%d", w)}}
			if i%10 == 0 {
				c.SessionID = "shared"
			}
			c, err := normalized(c)
			if err != nil {
				return err
			}
			cs, err := e.s.CreateContexts(e.ctx, tenantA, []contextd.ContextCreate{c})
			if err != nil {
				return fmt.Errorf("worker %d item %d: %w", w, i, err)
			}
			mu.Lock()
			if made[cs[0].ID] {
				mu.Unlock()
				return fmt.Errorf("id %s given twice", cs[0].ID)
			}
			made[cs[0].ID] = true
			mu.Unlock()
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			e.t.Error(err)
		}
	}
	all := e.listContexts(tenantA, contextd.ContextFilter{Limit: 100})
	ids := e.unique("listed", contextIDs(all))
	if len(ids) != workers*each {
		e.t.Errorf("listed %d contexts, want %d", len(ids), workers*each)
	}
	for id := range made {
		if !ids[id] {
			e.t.Errorf("created %s is not listed", id)
		}
	}
	if res := e.search(tenantA, contextd.SearchQuery{Query: "capybara", Limit: 1}); res.Total != workers*each {
		e.t.Errorf("search total %d, want %d", res.Total, workers*each)
	}
	if s := e.getSession(tenantA, "shared"); s.ContextCount != workers*each/10 {
		e.t.Errorf("the shared session counts %d contexts, want %d", s.ContextCount, workers*each/10)
	}
	if got := e.listContexts(tenantA, contextd.ContextFilter{Tags: []string{"w3"}, Limit: 7}); len(got) != each {
		e.t.Errorf("worker 3's contexts: %d, want %d", len(got), each)
	}
}

func testConcurrentIfVersion(e *env) {
	const racers = 8
	for round := range 3 {
		c := e.note(tenantA, "contended", "")
		errs := parallel(racers, func(i int) error {
			_, err := e.s.UpdateContext(e.ctx, tenantA, c.ID, contextd.ContextUpdate{Title: ptr(fmt.Sprintf("winner %d", i)), IfVersion: 1})
			return err
		})
		wins, lost := 0, 0
		winner := -1
		for i, err := range errs {
			switch contextd.ErrorCode(err) {
			case "":
				wins++
				winner = i
			case contextd.EPRECONDITION:
				lost++
			default:
				e.t.Errorf("round %d racer %d: %v (want success or precondition_failed)", round, i, err)
			}
		}
		if wins != 1 || lost != racers-1 {
			e.t.Errorf("round %d: %d winners and %d EPRECONDITION, want 1 and %d", round, wins, lost, racers-1)
		}
		got := e.getContext(tenantA, c.ID)
		if got.Version != 2 || (winner >= 0 && got.Title != fmt.Sprintf("winner %d", winner)) {
			e.t.Errorf("round %d: after the race version %d title %q, want 2 and winner %d", round, got.Version, got.Title, winner)
		}
	}
	// The same for memories.
	m := e.mustMemory(tenantA, contextd.MemoryCreate{Content: "contended"})
	errs := parallel(racers, func(i int) error {
		_, err := e.s.UpdateMemory(e.ctx, tenantA, m.ID, contextd.MemoryUpdate{Content: ptr(fmt.Sprintf("winner %d", i)), IfVersion: 1})
		return err
	})
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else if contextd.ErrorCode(err) != contextd.EPRECONDITION {
			e.t.Errorf("memory racer: %v", err)
		}
	}
	if wins != 1 {
		e.t.Errorf("memory race: %d winners, want 1", wins)
	}
	if got := e.getMemory(tenantA, m.ID); got.Version != 2 {
		e.t.Errorf("memory version after the race %d, want 2", got.Version)
	}
}

func testConcurrentSession(e *env) {
	const workers, each = 8, 6
	errs := parallel(workers, func(w int) error {
		for i := range each {
			m := contextd.MemoryCreate{Type: contextd.MemoryFact, Content: fmt.Sprintf("w%d m%d", w, i), SessionID: "born-in-a-race", UserID: defaultUser}
			if err := m.Normalize("body", e.now()); err != nil {
				return err
			}
			if _, err := e.s.CreateMemories(e.ctx, tenantA, []contextd.MemoryCreate{m}); err != nil {
				return fmt.Errorf("worker %d memory %d: %w", w, i, err)
			}
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			e.t.Error(err)
		}
	}
	s := e.getSession(tenantA, "born-in-a-race")
	if s.MemoryCount != workers*each {
		e.t.Errorf("memoryCount %d, want %d", s.MemoryCount, workers*each)
	}
	if got := e.listSessions(tenantA, contextd.SessionFilter{}); len(got) != 1 {
		e.t.Errorf("%d sessions, want 1", len(got))
	}
	if got := e.listMemories(tenantA, contextd.MemoryFilter{SessionID: "born-in-a-race", Limit: 100}); len(got) != workers*each {
		e.t.Errorf("%d memories listed, want %d", len(got), workers*each)
	}
}

func testConcurrentReadWrite(e *env) {
	seed := e.note(tenantA, "seed gecko", "readers look at this")
	const writers, readers, each = 2, 3, 10
	errs := parallel(writers+readers, func(w int) error {
		for i := range each {
			if w < writers {
				c, err := normalized(contextd.ContextCreate{Title: fmt.Sprintf("gecko %d-%d", w, i)})
				if err != nil {
					return err
				}
				if _, err := e.s.CreateContexts(e.ctx, tenantA, []contextd.ContextCreate{c}); err != nil {
					return err
				}
				if _, err := e.s.UpdateContext(e.ctx, tenantA, seed.ID, contextd.ContextUpdate{Content: ptr(fmt.Sprintf("by %d-%d", w, i))}); err != nil {
					return err
				}
				continue
			}
			if _, err := e.s.GetContext(e.ctx, tenantA, seed.ID); err != nil {
				return err
			}
			q := contextd.SearchQuery{Query: "gecko", Limit: 5}
			if err := q.Validate(); err != nil {
				return err
			}
			if _, err := e.s.SearchContexts(e.ctx, tenantA, q); err != nil {
				return err
			}
			f := contextd.ContextFilter{Limit: 10}
			if err := f.Validate(); err != nil {
				return err
			}
			if _, _, err := e.s.FindContexts(e.ctx, tenantA, f); err != nil {
				return err
			}
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			e.t.Errorf("goroutine %d: %v", i, err)
		}
	}
	if got := e.getContext(tenantA, seed.ID); got.Version != 1+writers*each {
		e.t.Errorf("seed version %d, want %d", got.Version, 1+writers*each)
	}
	if res := e.search(tenantA, contextd.SearchQuery{Query: "gecko", Limit: 1}); res.Total != 1+writers*each {
		e.t.Errorf("search total %d, want %d", res.Total, 1+writers*each)
	}
}
