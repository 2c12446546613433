package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contextd/contextd"
)

// A memory write moves its session's lastActiveAt with one UPDATE ...
// RETURNING (touchSession): when the session is another user's, the write
// fails with a conflict and nothing of it stays, not the session's new
// times nor a change record, also when it shares its group commit with
// writes that succeed.
func TestMemoryWriteOtherUsersSession(t *testing.T) {
	s := openAt(t, t.TempDir())
	ctx := context.Background()
	bob := contextd.Scope{Tenant: "t", UserID: "bob"}
	alice := contextd.Scope{Tenant: "t", UserID: "alice"}
	if _, err := s.CreateMemories(ctx, bob, []contextd.MemoryCreate{{Content: "bob's", SessionID: "s1", UserID: "bob"}}); err != nil {
		t.Fatal(err)
	}
	before, err := s.GetSession(ctx, contextd.Scope{Tenant: "t"}, "s1")
	if err != nil {
		t.Fatal(err)
	}
	changes := func() []string {
		var out []string
		if err := s.ReadChanges(ctx, 0, 0, func(c *contextd.Change) error {
			out = append(out, fmt.Sprintf("%s %s %s %s v%d", c.Op, c.Kind, c.ID, c.UserID, c.Version))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	logBefore := changes()
	time.Sleep(2 * time.Millisecond) // a later clock: a kept update would show

	// Alice's write into bob's session, among eight writes of her own at the
	// same time (one group commit, or a few).
	var wg sync.WaitGroup
	errs := make([]error, 9)
	for i := range errs {
		wg.Go(func() {
			sess := fmt.Sprintf("a%d", i)
			if i == 0 {
				sess = "s1"
			}
			_, errs[i] = s.CreateMemories(ctx, alice, []contextd.MemoryCreate{{Content: "alice's", SessionID: sess, UserID: "alice"}})
		})
	}
	wg.Wait()
	if code := contextd.ErrorCode(errs[0]); code != contextd.ECONFLICT {
		t.Fatalf("write into another user's session: %v (code %q), want a conflict", errs[0], code)
	}
	for i, err := range errs[1:] {
		if err != nil {
			t.Errorf("write %d: %v", i+1, err)
		}
	}
	after, err := s.GetSession(ctx, contextd.Scope{Tenant: "t"}, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if !after.UpdatedAt.Equal(before.UpdatedAt) || !after.LastActiveAt.Equal(before.LastActiveAt) || after.MemoryCount != 1 {
		t.Errorf("session after the failed write: %+v, want %+v", after, before)
	}
	log := changes()
	if len(log) != len(logBefore)+8*2 { // each good write: its memory and its new session
		t.Errorf("change log: %d records after, %d before, want 16 more:\n%v", len(log), len(logBefore), log)
	}
	for _, c := range log[len(logBefore):] {
		if strings.Contains(c, " s1 ") {
			t.Errorf("change record of the failed write: %s", c)
		}
	}

	// Bob's own write moves the session and logs its new state, as before.
	if _, err := s.CreateMemories(ctx, bob, []contextd.MemoryCreate{{Content: "bob's again", SessionID: "s1", UserID: "bob"}}); err != nil {
		t.Fatal(err)
	}
	again, err := s.GetSession(ctx, contextd.Scope{Tenant: "t"}, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if !again.LastActiveAt.After(before.LastActiveAt) || !again.UpdatedAt.Equal(again.LastActiveAt) || again.MemoryCount != 2 {
		t.Errorf("session after bob's write: %+v (before %+v)", again, before)
	}
	var last *contextd.Change
	if err := s.ReadChanges(ctx, 0, 0, func(c *contextd.Change) error {
		if c.Kind == contextd.KindSession {
			last = c
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var state struct {
		UserID       string    `json:"userId"`
		LastActiveAt time.Time `json:"lastActiveAt"`
		UpdatedAt    time.Time `json:"updatedAt"`
	}
	if last == nil || last.Op != contextd.OpUpdate || last.ID != "s1" || json.Unmarshal(last.State, &state) != nil ||
		!state.LastActiveAt.Equal(again.LastActiveAt) || !state.UpdatedAt.Equal(again.UpdatedAt) || state.UserID != "bob" {
		t.Errorf("last session change: %+v, want s1's update to %v", last, again.LastActiveAt)
	}
}
