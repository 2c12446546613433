package main_test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// cacheCount reads contextd_cache_requests_total{op,result} from /metrics.
func cacheCount(t *testing.T, s *server, op, result string) int {
	t.Helper()
	r := s.must(200, "GET", "/metrics", "", nil)
	re := regexp.MustCompile(`contextd_cache_requests_total\{op="` + op + `",result="` + result + `"\} (\d+)`)
	m := re.FindStringSubmatch(r.raw)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestCacheMemory: CACHE=memory answers repeated reads from memory, counts
// them in the metrics, and a write is seen by the next read.
func TestCacheMemory(t *testing.T) {
	s := start(t, t.TempDir(), "CACHE=memory")
	k := s.key
	c := s.must(201, "POST", "/v1/contexts", k, map[string]any{"title": "cached", "content": "hot"})
	id := c.body["id"].(string)
	for i := 0; i < 3; i++ {
		s.must(200, "GET", "/v1/contexts/"+id, k, nil)
	}
	if n := cacheCount(t, s, "get_context", "hit"); n != 2 {
		t.Fatalf("%d hits, want 2", n)
	}
	s.must(200, "PATCH", "/v1/contexts/"+id, k, map[string]any{"title": "changed"})
	if r := s.must(200, "GET", "/v1/contexts/"+id, k, nil); r.body["title"] != "changed" {
		t.Fatalf("a read after a write: %s", r.raw)
	}
	s.stop()
}

// TestCacheReplicas: two contextd processes on one Neo4j sharing one Redis.
// A write acknowledged by one is read back by the other at once, while the
// other serves repeated reads from the cache.
func TestCacheReplicas(t *testing.T) {
	redisURL := os.Getenv("REDIS_URL")
	if redisURL == "" {
		t.Skip("REDIS_URL is not set")
	}
	env := append(neo4jEnv(t, ""), "REDIS_URL="+redisURL) // CACHE defaults to redis
	a := start(t, t.TempDir(), env...)
	b := start(t, t.TempDir(), env...)
	k := a.key
	if k == "" || b.key != "" {
		t.Fatalf("keys: a %q, b %q: the replicas should share one store", a.key, b.key)
	}
	c := a.must(201, "POST", "/v1/contexts", k, map[string]any{"title": "v0", "content": "shared"})
	id := c.body["id"].(string)
	for i := 1; i <= 20; i++ {
		b.must(200, "GET", "/v1/contexts/"+id, k, nil)
		b.must(200, "GET", "/v1/contexts/"+id, k, nil) // a hit
		title := "v" + strconv.Itoa(i)
		a.must(200, "PATCH", "/v1/contexts/"+id, k, map[string]any{"title": title})
		if r := b.must(200, "GET", "/v1/contexts/"+id, k, nil); r.body["title"] != title {
			t.Fatalf("replica B served %v after A acknowledged %s", r.body["title"], title)
		}
		if r := b.must(200, "GET", "/v1/search?q=shared", k, nil); !strings.Contains(r.raw, `"title":"`+title+`"`) {
			t.Fatalf("replica B's search is stale after %s: %.300s", title, r.raw)
		}
	}
	if n := cacheCount(t, b, "get_context", "hit"); n < 20 {
		t.Fatalf("replica B hit %d times, want at least 20", n)
	}
	if r := b.must(200, "GET", "/health/ready", "", nil); !strings.Contains(r.raw, `"cache"`) {
		t.Fatalf("ready has no cache check: %s", r.raw)
	}
	a.stop()
	b.stop()
}
