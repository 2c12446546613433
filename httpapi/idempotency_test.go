package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/contextd/contextd"
)

// TestIdempotencyKey: a retried create returns the first answer and stores
// nothing new; the same key with another body is 422; keys are per
// credential; a failed first try (4xx kept, 5xx not) behaves as documented.
func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	count := func() int {
		items, _, err := e.svc.FindContexts(context.Background(), &contextd.Principal{Tenant: "tenant-a", Role: contextd.RoleReader},
			contextd.ContextFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(items)
	}
	body := `{"title":"once"}`
	w1 := e.do(post, "/v1/contexts", body, "writer", "Idempotency-Key", "k-1")
	if w1.Code != 201 {
		t.Fatalf("first: %d %s", w1.Code, w1.Body)
	}
	w2 := e.do(post, "/v1/contexts", body, "writer", "Idempotency-Key", "k-1")
	if w2.Code != 201 || w2.Body.String() != w1.Body.String() || w2.Header().Get("Location") != w1.Header().Get("Location") ||
		w2.Header().Get("ETag") != w1.Header().Get("ETag") || w2.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %v %s\nfirst: %s", w2.Code, w2.Header(), w2.Body, w1.Body)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d contexts after a retried create, want 1", n)
	}
	e.run(t, []apiCase{
		{"same key, another body", post, "/v1/contexts", `{"title":"twice"}`, "writer", []string{"Idempotency-Key", "k-1"}, 422, "header.Idempotency-Key"},
		{"same key, another path", post, "/v1/sessions", `{"title":"s"}`, "writer", []string{"Idempotency-Key", "k-1"}, 422, ""},
		{"bad key", post, "/v1/contexts", body, "writer", []string{"Idempotency-Key", "a b"}, 400, "header.Idempotency-Key"},
		{"another credential, same key", post, "/v1/contexts", body, "admin", []string{"Idempotency-Key", "k-1"}, 201, ""},
		{"a 4xx is kept too", post, "/v1/contexts", `{"title":""}`, "writer", []string{"Idempotency-Key", "k-2"}, 422, ""},
		{"and replayed", post, "/v1/contexts", `{"title":""}`, "writer", []string{"Idempotency-Key", "k-2"}, 422, ""},
		{"without the header, no memory", post, "/v1/contexts", body, "writer", nil, 201, ""},
	}, nil)
	if n := count(); n != 3 {
		t.Fatalf("%d contexts, want 3", n)
	}

	// Concurrent retries: exactly one create.
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- e.do(post, "/v1/memories", `{"type":"fact","content":"once","sessionId":"s1"}`, "writer", "Idempotency-Key", "k-race").Code
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 201 && c != http.StatusConflict {
			t.Errorf("concurrent retry: %d", c)
		}
	}
	ms, _, err := e.svc.FindMemories(context.Background(), &contextd.Principal{Tenant: "tenant-a", Role: contextd.RoleReader},
		contextd.MemoryFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || !strings.Contains(ms[0].Content, "once") {
		t.Fatalf("%d memories after concurrent retries, want 1", len(ms))
	}
}
